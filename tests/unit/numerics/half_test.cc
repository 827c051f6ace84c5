#include "numerics/half.h"

#include <gtest/gtest.h>

#include <bit>

#include "numerics/scan.h"

using namespace lowbit;

TEST(Half, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3*2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even): rounds up.
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_EQ(f32_to_bf16(3.4e38f), 0x7f80);  // rounds past bf16 max -> inf, as torch does
}

TEST(Half, Fp16AllCodesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = fp16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Half, Fp16KnownValues) {
  EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // halfway to 65536 ties to even -> inf
  EXPECT_EQ(f32_to_fp16(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_fp16(0x1p-25f), 0x0000);  // halfway to the smallest subnormal ties to 0
  EXPECT_EQ(f32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_FLOAT_EQ(fp16_to_f32(0x3555), 0.333251953125f);
}

TEST(Half, Bf16AllCodesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = bf16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_bf16(f), h);
  }
}

TEST(Scan, FindsFirstNonFinite) {
  std::vector<uint16_t> v(100000, f32_to_bf16(0.5f));
  EXPECT_EQ(find_non_finite(v.data(), v.size(), DType::BF16), -1);
  v[70000] = f32_to_bf16(INFINITY);
  v[90000] = f32_to_bf16(NAN);
  EXPECT_EQ(find_non_finite(v.data(), v.size(), DType::BF16), 70000);
  std::vector<float> f(10, 1.0f);
  f[3] = NAN;
  EXPECT_EQ(find_non_finite(f.data(), f.size(), DType::F32), 3);
}

TEST(Half, RoundToDtypeEqualsTheRoundTrip) {
  // The branch-free rounding used in kernels equals the checked conversions on finite values.
  for (uint64_t u = 0; u < (1ull << 32); u += 997) {
    float f = std::bit_cast<float>(uint32_t(u));
    if (!std::isfinite(f)) continue;
    ASSERT_EQ(std::bit_cast<uint32_t>(round_to_dtype(f, DType::BF16)), std::bit_cast<uint32_t>(bf16_to_f32(f32_to_bf16(f))))
        << f;
    float h = round_to_dtype(f, DType::F16), ref = fp16_to_f32(f32_to_fp16(f));
    ASSERT_TRUE(h == ref || (std::isnan(h) && std::isnan(ref))) << f;
  }
}
