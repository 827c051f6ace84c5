#include "numerics/ggml_quants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"

using namespace lowbit;

TEST(GgmlQuants, PlainTypesRoundTripAsGgmlConverts) {
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, 65504.0f, 70000.0f, 1e-8f, 3.14159265f,
                                std::numeric_limits<float>::infinity()};
  std::vector<uint8_t> h(x.size() * 2);
  ggml_quantize_rows(GgmlType::F16, x.data(), h.data(), 1, int64_t(x.size()), nullptr);
  std::vector<float> back(x.size());
  ggml_dequantize(GgmlType::F16, h.data(), back.data(), int64_t(x.size()));
  EXPECT_EQ(back[2], 1.0f);
  EXPECT_EQ(back[3], 65504.0f);
  EXPECT_TRUE(std::isinf(back[4]));         // past the largest half: Inf, as _cvtss_sh gives
  EXPECT_EQ(back[6], 3.140625f);            // RNE to 10 mantissa bits
  EXPECT_TRUE(std::signbit(back[1]));
  uint16_t bits;
  std::memcpy(&bits, h.data() + 2 * 5, 2);
  EXPECT_EQ(bits, 0u);                      // 1e-8 < half the smallest subnormal (2^-25)

  ggml_quantize_rows(GgmlType::BF16, x.data(), h.data(), 1, int64_t(x.size()), nullptr);
  std::memcpy(&bits, h.data() + 2 * 6, 2);
  EXPECT_EQ(bits, 0x4049u);                 // pi: 0x40490fdb rounds down
}

TEST(GgmlQuants, TypesWithoutACodecAreAUserError) {
  float x[32] = {};
  uint8_t y[64];
  EXPECT_THROW(ggml_quantize_rows(GgmlType::IQ2_XXS, x, y, 1, 32, nullptr), UserError);
  EXPECT_THROW(ggml_quantize_rows(GgmlType::F16, x, y, 1, -1, nullptr), UserError);
}

// The levels a block reports are the decoder's values, and packing the levels that decode to a
// block's own values gives back its bytes: GPTQ's re-picked levels land where the decoder reads.
TEST(GgmlQuants, BlockLevelsAreTheDecodersValuesAndPackBackToTheSameBytes) {
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                            GgmlType::IQ4_NL, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                            GgmlType::Q6_K, GgmlType::IQ4_XS};
  const int64_t n = 1024;
  std::vector<float> x(n), importance(n);
  uint32_t s = 12345;
  auto uniform = [&] { return float((s = s * 1664525u + 1013904223u) >> 8) / float(1 << 24); };
  for (int64_t i = 0; i < n; ++i) {
    x[size_t(i)] = (uniform() - 0.4f) * (i % 97 == 0 ? 8.0f : 1.0f);  // skewed, with outliers
    importance[size_t(i)] = 0.1f + uniform();
  }
  for (GgmlType t : types)
    for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(importance.data())}) {
      SCOPED_TRACE(std::string(ggml_traits(t).name) + (w ? " with importance" : ""));
      const GgmlCodec& c = ggml_codec(t);
      ASSERT_NE(c.block_levels, nullptr);
      const int64_t bs = ggml_traits(t).block_size, bb = ggml_traits(t).type_size;
      std::vector<uint8_t> y(static_cast<size_t>(n / bs * bb));
      ggml_quantize_rows(t, x.data(), y.data(), 1, n, w);
      std::vector<float> v(static_cast<size_t>(n));
      ggml_dequantize(t, y.data(), v.data(), n);
      std::vector<GgmlLevels> lv(static_cast<size_t>(bs));
      std::vector<uint8_t> L(static_cast<size_t>(bs)), block(static_cast<size_t>(bb));
      for (int64_t b = 0; b < n / bs; ++b) {
        c.block_levels(y.data() + b * bb, lv.data());
        for (int64_t i = 0; i < bs; ++i) {
          const GgmlLevels& l = lv[size_t(i)];
          const float value = v[size_t(b * bs + i)];
          L[size_t(i)] = uint8_t(l.nearest(value));
          ASSERT_EQ(l.value(L[size_t(i)]), value) << "block " << b << " position " << i;
          // nearest is the nearest level to any x, not only to a level's own value
          const float probe = x[size_t(b * bs + i)];
          const int q = l.nearest(probe);
          for (int k = l.lo; k <= l.hi; ++k)
            ASSERT_LE(std::fabs(probe - l.value(q)), std::fabs(probe - l.value(k)) * (1 + 1e-6f) + 1e-12f)
                << "block " << b << " position " << i << " level " << k;
        }
        // Packed over other levels first: packing overwrites every code bit, whatever was there.
        std::memcpy(block.data(), y.data() + b * bb, size_t(bb));
        std::vector<uint8_t> other(static_cast<size_t>(bs));
        for (int64_t i = 0; i < bs; ++i) other[size_t(i)] = uint8_t(lv[size_t(i)].hi - L[size_t(i)] + lv[size_t(i)].lo);
        c.pack_levels(other.data(), block.data());
        c.pack_levels(L.data(), block.data());
        ASSERT_EQ(std::memcmp(block.data(), y.data() + b * bb, size_t(bb)), 0) << "block " << b;
      }
    }
}

TEST(GgmlQuants, NearestLevelOfAValueFarOutsideTheGridIsTheEnd) {
  // GPTQ's error feedback can push a value millions of steps past a tiny sub-block scale.
  const GgmlLevels q4{1e-9f, 0, 8, 0, 15, nullptr};  // Q4_0-like: d * (L - 8)
  EXPECT_EQ(q4.nearest(1.0f), 15);
  EXPECT_EQ(q4.nearest(-1.0f), 0);
  EXPECT_EQ(q4.nearest(3e-9f), 11);
  const GgmlLevels neg{-1e-9f, 0, 32, 0, 63, nullptr};  // a negative Q6_K scale flips the ends
  EXPECT_EQ(neg.nearest(1.0f), 0);
  EXPECT_EQ(neg.nearest(-1.0f), 63);
}
