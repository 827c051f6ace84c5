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
