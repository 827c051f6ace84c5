#include "numerics/formats.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <set>

using namespace lowbit;

namespace {
const std::vector<Format> kMinifloats = {Format::FP8_E4M3, Format::FP8_E5M2, Format::FP6_E2M3, Format::FP6_E3M2,
                                         Format::FP4_E2M1};
}

TEST(Formats, EveryCodeDecodesAndReencodesToItself) {
  for (Format fmt : kMinifloats) {
    const auto& f = traits(fmt);
    std::set<float> values;
    int nans = 0, infs = 0;
    for (int c = 0; c < (1 << f.bits); ++c) {
      float v = decode_minifloat(uint8_t(c), f);
      if (std::isnan(v)) {
        ++nans;
        continue;
      }
      if (std::isinf(v)) ++infs;
      else values.insert(v);
      EXPECT_EQ(encode_minifloat(v, f, Overflow::Torch), c) << f.name << " code " << c << " value " << v;
      if (!std::isinf(v)) {
        EXPECT_EQ(encode_minifloat(v, f, Overflow::Saturate), c) << f.name << " " << c;
      }
    }
    EXPECT_EQ(*values.rbegin(), float(f.max_finite)) << f.name;
    float smallest = 1e30f, smallest_normal = 1e30f;
    for (float v : values)
      if (v > 0) smallest = std::min(smallest, v);
    EXPECT_EQ(smallest, float(f.min_subnormal)) << f.name;
    for (int c = 0; c < (1 << f.bits); ++c)
      if ((c >> f.man_bits) == 1) smallest_normal = std::min(smallest_normal, decode_minifloat(uint8_t(c), f));
    EXPECT_EQ(smallest_normal, float(f.min_normal)) << f.name;
    // Distinct values: every code but the duplicate -0 (and nan/inf codes).
    EXPECT_EQ(int(values.size()), (1 << f.bits) - 1 - nans - infs) << f.name;
    EXPECT_EQ(nans, fmt == Format::FP8_E4M3 ? 2 : fmt == Format::FP8_E5M2 ? 6 : 0) << f.name;
    EXPECT_EQ(infs, fmt == Format::FP8_E5M2 ? 2 : 0) << f.name;
  }
}

TEST(Formats, E4M3FnSaturationAndTies) {
  const auto& f = traits(Format::FP8_E4M3);
  EXPECT_EQ(decode_minifloat(0x7E, f), 448.0f);
  EXPECT_TRUE(std::isnan(decode_minifloat(0x7F, f)));
  EXPECT_EQ(encode_minifloat(464.0f, f, Overflow::Saturate), 0x7E);  // tie 448|480 -> even (448)
  EXPECT_EQ(encode_minifloat(464.0f, f, Overflow::Torch), 0x7E);
  EXPECT_EQ(encode_minifloat(465.0f, f, Overflow::Saturate), 0x7E);  // saturates
  EXPECT_EQ(encode_minifloat(465.0f, f, Overflow::Torch), 0x7F);     // torch: NaN (no inf in e4m3fn)
  EXPECT_EQ(encode_minifloat(-1e9f, f, Overflow::Saturate), 0xFE);
  EXPECT_EQ(encode_minifloat(0x1p-10f, f), 0x00);  // half the smallest subnormal ties to 0
  EXPECT_EQ(encode_minifloat(3 * 0x1p-10f, f), 0x02);  // 1.5 subnormal ulps ties to 2 (even)
  EXPECT_EQ(encode_minifloat(1.0625f, f), 0x38);   // 1 + half ulp ties to 1.0
  EXPECT_EQ(encode_minifloat(1.1875f, f), 0x3A);   // 1.125 + half ulp ties to 1.25 (even)
  EXPECT_EQ(encode_minifloat(-0.0f, f), 0x80);
  for (int c = 0; c < 256; ++c)
    if (!std::isnan(decode_minifloat(uint8_t(c), f))) {
      EXPECT_EQ(fp8_e4m3_decode(uint8_t(c)), decode_minifloat(uint8_t(c), f));
    }
}

TEST(Formats, E5M2IsIeeeLike) {
  const auto& f = traits(Format::FP8_E5M2);
  EXPECT_EQ(decode_minifloat(0x7B, f), 57344.0f);
  EXPECT_TRUE(std::isinf(decode_minifloat(0x7C, f)));
  EXPECT_EQ(encode_minifloat(61440.0f, f, Overflow::Torch), 0x7C);   // tie 57344|65536 -> even -> inf
  EXPECT_EQ(encode_minifloat(61440.0f, f, Overflow::Saturate), 0x7B);
  EXPECT_EQ(encode_minifloat(INFINITY, f, Overflow::Torch), 0x7C);
}

TEST(Formats, E2M1GridAndTies) {
  const auto& f = traits(Format::FP4_E2M1);
  const float grid[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(decode_minifloat(uint8_t(i), f), grid[i]);
    EXPECT_EQ(decode_minifloat(uint8_t(i | 8), f), -grid[i]);
  }
  // compressed-tensors' rounding table: ties to the even mantissa.
  const std::pair<float, float> cases[] = {{0.25f, 0}, {0.26f, 0.5f}, {0.75f, 1}, {1.25f, 1}, {1.3f, 1.5f},
                                           {1.75f, 2}, {2.5f, 2}, {2.6f, 3}, {3.5f, 4}, {5.0f, 4},
                                           {5.01f, 6}, {7.0f, 6}, {100.0f, 6}};
  for (auto [x, want] : cases) {
    EXPECT_EQ(decode_minifloat(encode_minifloat(x, f), f), want) << x;
    EXPECT_EQ(fp4_e2m1_decode(fp4_e2m1_encode(x)), want) << x;
    EXPECT_EQ(fp4_e2m1_decode(fp4_e2m1_encode(-x)), -want) << x;
  }
  // The fast encoder equals the generic one on a dense sweep.
  for (float x = -7.0f; x <= 7.0f; x += 1.0f / 1024)
    EXPECT_EQ(fp4_e2m1_encode(x), encode_minifloat(x, f)) << x;
}

TEST(Formats, FastFp4MatchesGenericOnEveryCodeAndBf16Value) {
  const auto& f = traits(Format::FP4_E2M1);
  for (int c = 0; c < 16; ++c) EXPECT_EQ(fp4_e2m1_decode(uint8_t(c)), decode_minifloat(uint8_t(c), f)) << c;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float x = std::bit_cast<float>(h << 16);
    if (std::isnan(x)) continue;
    ASSERT_EQ(fp4_e2m1_encode(x), encode_minifloat(x, f)) << x;
  }
}

TEST(Formats, Fp6Ranges) {
  EXPECT_EQ(decode_minifloat(0x1F, traits(Format::FP6_E2M3)), 7.5f);
  EXPECT_EQ(decode_minifloat(0x1F, traits(Format::FP6_E3M2)), 28.0f);
  EXPECT_EQ(encode_minifloat(100.0f, traits(Format::FP6_E3M2), Overflow::Torch), 0x1F);  // no inf: saturate
}

TEST(Formats, E8M0) {
  EXPECT_EQ(e8m0_decode(127), 1.0f);
  EXPECT_EQ(e8m0_decode(126), 0.5f);
  EXPECT_EQ(e8m0_decode(0), 0x1p-127f);
  EXPECT_TRUE(std::isnan(e8m0_decode(255)));
  EXPECT_EQ(e8m0_from_scale(0.5f), 126);
  EXPECT_EQ(e8m0_from_scale(0.75f), 126);  // floor(log2)
  EXPECT_EQ(e8m0_from_scale(0x1p-127f), 0);
}

TEST(Formats, TableLookups) {
  EXPECT_EQ(find_format("FP8_E4M3"), &traits(Format::FP8_E4M3));
  EXPECT_EQ(find_format("nope"), nullptr);
  for (const auto& f : all_formats()) EXPECT_EQ(&traits(f.id), &f);
}

TEST(Formats, FastFp8EncoderEqualsGenericOnEveryBf16AndF16Value) {
  const auto& f = traits(Format::FP8_E4M3);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float x = std::bit_cast<float>(h << 16);
    if (std::isnan(x)) continue;
    ASSERT_EQ(fp8_e4m3_encode(x), encode_minifloat(x, f, Overflow::Saturate)) << x;
  }
  for (float x = -500.0f; x < 500.0f; x += 0.0137f) ASSERT_EQ(fp8_e4m3_encode(x), encode_minifloat(x, f)) << x;
}
