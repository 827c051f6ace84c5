// ggml's legacy block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and 4-bit non-linear ones (IQ4_NL,
// MXFP4), on blocks whose bytes follow by hand from the format's rules; the bit-for-bit
// comparison with ggml itself is tests/compat/test_ggml_quants.py.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "numerics/ggml_quants.h"
#include "numerics/ggml_iq4.h"
#include "numerics/ggml_search.h"
#include "numerics/half.h"

using namespace lowbit;
using namespace lowbit::ggml_detail;

namespace {

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& x,
                            const float* imatrix = nullptr) {
  std::vector<uint8_t> y(*ggml_row_bytes(t, int64_t(x.size())));
  ggml_quantize_rows(t, x.data(), y.data(), 1, int64_t(x.size()), imatrix);
  return y;
}

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& y, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  ggml_dequantize(t, y.data(), x.data(), n);
  return x;
}

uint16_t u16_at(const std::vector<uint8_t>& y, size_t at) {
  uint16_t v;
  std::memcpy(&v, y.data() + at, 2);
  return v;
}

uint32_t u32_at(const std::vector<uint8_t>& y, size_t at) {
  uint32_t v;
  std::memcpy(&v, y.data() + at, 4);
  return v;
}

// Nibble of element e (0..31) of a block whose nibbles start at byte `at`.
int nibble(const std::vector<uint8_t>& y, size_t at, int e) {
  const uint8_t b = y[at + size_t(e % 16)];
  return e < 16 ? b & 0x0F : b >> 4;
}

}  // namespace

TEST(GgmlSearch, NearestIntRoundsHalvesToEven) {
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(3.5f), 4);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(-3.5f), -4);
  EXPECT_EQ(nearest_int(0.49999997f), 0);
  EXPECT_EQ(nearest_int(-7.6f), -8);
}

TEST(GgmlSearch, TruncationIsX86s) {
  EXPECT_EQ(truncate_like_x86(15.99f), 15);
  EXPECT_EQ(truncate_like_x86(-0.99f), 0);
  EXPECT_EQ(truncate_like_x86(std::numeric_limits<float>::infinity()), INT32_MIN);
  EXPECT_EQ(truncate_like_x86(std::numeric_limits<float>::quiet_NaN()), INT32_MIN);
  EXPECT_EQ(truncate_like_x86(3e9f), INT32_MIN);
  EXPECT_EQ(truncate_like_x86(-2147483648.0f), INT32_MIN);
}

TEST(GgmlSearch, NearestCodeTakesTheUpperEntryAtAMidpoint) {
  EXPECT_EQ(iq4_nearest_code(-200.f), 0);
  EXPECT_EQ(iq4_nearest_code(200.f), 15);
  EXPECT_EQ(iq4_nearest_code(0.f), 8);     // 1 is nearer than -10
  EXPECT_EQ(iq4_nearest_code(7.f), 9);     // midpoint of 1 and 13
  EXPECT_EQ(iq4_nearest_code(6.99f), 8);
  EXPECT_EQ(iq4_nearest_code(-115.5f), 1);  // midpoint of -127 and -104
}

TEST(GgmlSearch, SymmetricSearchFindsAnExactGrid) {
  // Every value a multiple of 0.25 with the extreme at -8 * 0.25: no error at scale 0.25.
  std::array<float, 8> x = {-2.0f, 1.75f, 0.5f, -0.25f, 0.0f, 1.0f, -1.5f, 0.25f};
  std::array<float, 8> w;
  w.fill(1.0f);
  std::array<int8_t, 8> L;
  const float d = make_qx_quants(8, 8, x.data(), L.data(), w.data());
  EXPECT_EQ(d, 0.25f);
  const std::array<int8_t, 8> want = {0, 15, 10, 7, 8, 12, 2, 9};  // x / 0.25 + 8
  EXPECT_EQ(L, want);
  std::array<float, 8> zero{};
  EXPECT_EQ(make_qx_quants(8, 8, zero.data(), L.data(), w.data()), 0.f);
  EXPECT_EQ(L[0], 0);
}

TEST(GgmlSearch, AsymmetricSearchFindsAnAffineGrid) {
  // x = -1 + 0.125 * l: scale 0.125, offset -1 (returned as +1 to subtract).
  std::array<float, 16> x;
  for (int l = 0; l < 16; ++l) x[size_t(l)] = -1.0f + 0.125f * float(l == 3 ? 15 : l);
  std::array<float, 16> w;
  w.fill(1.0f);
  std::array<uint8_t, 16> L, aux;
  float neg_min;
  const float d = make_qkx_quants(16, 15, x.data(), w.data(), L.data(), &neg_min, aux.data(),
                                   -0.9f, 0.05f, 36, false);
  EXPECT_NEAR(d, 0.125f, 1e-6f);
  EXPECT_NEAR(neg_min, 1.0f, 1e-6f);
  EXPECT_EQ(L[3], 15);
  EXPECT_EQ(L[7], 7);
  // A block of one positive value: min is capped at 0 and the level takes it all.
  std::array<float, 16> c;
  c.fill(0.5f);
  make_qkx_quants(16, 15, c.data(), w.data(), L.data(), &neg_min, aux.data(), -0.9f, 0.05f, 36, false);
  EXPECT_EQ(neg_min, 0.0f);
}

TEST(GgmlLegacy, Q4_0ExtremeOnLevelZeroAndHalvesRoundUp) {
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f;   // the extreme: d = -4 / -8 = 0.5, level 0
  x[1] = 3.5f;    // 7 + 8 = 15
  x[2] = 0.25f;   // 0.5 + 8.5 -> 9: halves round up
  x[3] = -0.25f;  // -0.5 + 8.5 -> 8
  x[17] = 1.0f;   // 2 + 8 = 10, in the high nibble of byte 1
  const auto y = encode(GgmlType::Q4_0, x);
  ASSERT_EQ(y.size(), 18u);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(0.5f));
  EXPECT_EQ(nibble(y, 2, 0), 0);
  EXPECT_EQ(nibble(y, 2, 1), 15);
  EXPECT_EQ(nibble(y, 2, 2), 9);
  EXPECT_EQ(nibble(y, 2, 3), 8);
  EXPECT_EQ(nibble(y, 2, 4), 8);
  EXPECT_EQ(y[2 + 1], 0xAF);  // element 1 low, element 17 high
  const auto back = decode(GgmlType::Q4_0, y, 32);
  EXPECT_EQ(back[0], -4.0f);
  EXPECT_EQ(back[2], 0.5f);
  EXPECT_EQ(back[17], 1.0f);

  // A positive extreme gives a negative d; the most negative value saturates at +7 * d.
  x.assign(32, 0.0f);
  x[0] = 4.0f;
  x[1] = -4.0f;
  const auto z = encode(GgmlType::Q4_0, x);
  EXPECT_EQ(u16_at(z, 0), f32_to_fp16(-0.5f));
  EXPECT_EQ(nibble(z, 2, 0), 0);
  EXPECT_EQ(nibble(z, 2, 1), 15);
  const auto zb = decode(GgmlType::Q4_0, z, 32);
  EXPECT_EQ(zb[0], 4.0f);
  EXPECT_EQ(zb[1], -3.5f);
}

TEST(GgmlLegacy, ZeroBlockDiffersBetweenRefAndImatrixPaths) {
  const std::vector<float> x(32, 0.0f);
  const std::vector<float> imatrix(32, 1.0f);
  const auto ref = encode(GgmlType::Q4_0, x);
  EXPECT_EQ(u16_at(ref, 0), 0x8000u);  // d = 0 / -8 = -0
  for (int j = 0; j < 16; ++j) EXPECT_EQ(ref[2 + size_t(j)], 0x88);  // x * 0 + 8.5 -> 8
  const auto searched = encode(GgmlType::Q4_0, x, imatrix.data());
  EXPECT_EQ(u16_at(searched, 0), 0u);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(searched[2 + size_t(j)], 0x00);  // the search leaves L = 0
}

TEST(GgmlLegacy, Q4_1MinAndStep) {
  std::vector<float> x(32, 0.0f);
  x[0] = -1.0f;  // min
  x[1] = 2.0f;   // max: d = 3 / 15
  x[2] = 0.5f;   // 1.5 / 0.2 + 0.5 = 8
  const auto y = encode(GgmlType::Q4_1, x);
  ASSERT_EQ(y.size(), 20u);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(3.0f / 15));
  EXPECT_EQ(u16_at(y, 2), f32_to_fp16(-1.0f));
  EXPECT_EQ(nibble(y, 4, 0), 0);
  EXPECT_EQ(nibble(y, 4, 1), 15);
  EXPECT_EQ(nibble(y, 4, 2), 8);
  EXPECT_EQ(nibble(y, 4, 3), 5);  // 1 / 0.2 + 0.5 = 5.5 -> 5
  const auto back = decode(GgmlType::Q4_1, y, 32);
  const float d = fp16_to_f32(f32_to_fp16(0.2f));
  EXPECT_EQ(back[0], -1.0f);
  EXPECT_EQ(back[1], 15.0f * d + -1.0f);
  EXPECT_EQ(back[3], 5.0f * d + -1.0f);
}

TEST(GgmlLegacy, Q5_0FifthBitsInQh) {
  std::vector<float> x(32, -16.0f);  // d = -16 / -16 = 1: level = x + 16
  x[3] = 0.0f;                       // level 16: only the fifth bit
  x[20] = 15.0f;                     // level 31
  const auto y = encode(GgmlType::Q5_0, x);
  ASSERT_EQ(y.size(), 22u);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(1.0f));
  EXPECT_EQ(u32_at(y, 2), (1u << 3) | (1u << 20));
  EXPECT_EQ(nibble(y, 6, 3), 0);
  EXPECT_EQ(nibble(y, 6, 20), 15);
  EXPECT_EQ(y[6 + 4], 0xF0);  // element 4 low (0), element 20 high (15)
  const auto back = decode(GgmlType::Q5_0, y, 32);
  EXPECT_EQ(back[0], -16.0f);
  EXPECT_EQ(back[3], 0.0f);
  EXPECT_EQ(back[20], 15.0f);
}

TEST(GgmlLegacy, Q5_1LevelsAndQh) {
  std::vector<float> x(32, 0.0f);
  x[0] = 31.0f;  // min 0, max 31: d = 1, m = 0
  x[17] = 16.0f;
  x[5] = 15.0f;
  const auto y = encode(GgmlType::Q5_1, x);
  ASSERT_EQ(y.size(), 24u);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(1.0f));
  EXPECT_EQ(u16_at(y, 2), f32_to_fp16(0.0f));
  EXPECT_EQ(u32_at(y, 4), (1u << 0) | (1u << 17));
  EXPECT_EQ(nibble(y, 8, 0), 15);
  EXPECT_EQ(nibble(y, 8, 5), 15);
  EXPECT_EQ(nibble(y, 8, 17), 0);
  const auto back = decode(GgmlType::Q5_1, y, 32);
  EXPECT_EQ(back[0], 31.0f);
  EXPECT_EQ(back[5], 15.0f);
  EXPECT_EQ(back[17], 16.0f);
}

TEST(GgmlLegacy, Q8_0RoundsHalvesAwayFromZeroAndIgnoresTheImatrix) {
  std::vector<float> x(32, 0.0f);
  x[0] = 63.5f;   // amax: d = 0.5
  x[1] = 0.25f;   // 0.5 -> 1
  x[2] = -0.25f;  // -0.5 -> -1
  x[3] = 0.75f;   // 1.5 -> 2
  x[4] = -63.5f;
  const auto y = encode(GgmlType::Q8_0, x);
  ASSERT_EQ(y.size(), 34u);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(0.5f));
  EXPECT_EQ(int8_t(y[2]), 127);
  EXPECT_EQ(int8_t(y[3]), 1);
  EXPECT_EQ(int8_t(y[4]), -1);
  EXPECT_EQ(int8_t(y[5]), 2);
  EXPECT_EQ(int8_t(y[6]), -127);
  const std::vector<float> imatrix(32, 3.0f);
  EXPECT_EQ(encode(GgmlType::Q8_0, x, imatrix.data()), y);
  const auto back = decode(GgmlType::Q8_0, y, 32);
  EXPECT_EQ(back[0], 63.5f);
  EXPECT_EQ(back[3], 1.0f);
}

TEST(GgmlLegacy, Iq4nlUsesTheCodebook) {
  // A constant block: the +113 end fits it exactly (d = 1/113); the other orientation (-127)
  // only ties, and ties keep the first.
  std::vector<float> x(32, 1.0f);
  auto y = encode(GgmlType::IQ4_NL, x);
  ASSERT_EQ(y.size(), 18u);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(3616.0f / 408608.0f));  // sum(113 x) / sum(113^2)
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[2 + size_t(j)], 0xFF);
  auto back = decode(GgmlType::IQ4_NL, y, 32);
  EXPECT_EQ(back[0], fp16_to_f32(u16_at(y, 0)) * 113.0f);

  for (auto& v : x) v = -1.0f;
  y = encode(GgmlType::IQ4_NL, x);
  EXPECT_EQ(u16_at(y, 0), f32_to_fp16(-3616.0f / 408608.0f));
  EXPECT_EQ(y[2], 0xFF);

  // An all-zero block: scale 0, every code the entry nearest 0 (index 8, value 1).
  x.assign(32, 0.0f);
  y = encode(GgmlType::IQ4_NL, x);
  EXPECT_EQ(u16_at(y, 0), 0u);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[2 + size_t(j)], 0x88);

  // Decoder: d * K[nibble], element j low, j + 16 high.
  std::vector<uint8_t> blk(18, 0);
  const uint16_t two = f32_to_fp16(2.0f);
  std::memcpy(blk.data(), &two, 2);
  for (int j = 0; j < 16; ++j) blk[2 + size_t(j)] = uint8_t(j | ((15 - j) << 4));
  back = decode(GgmlType::IQ4_NL, blk, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(back[size_t(j)], 2.0f * kIq4Values[j]);
    EXPECT_EQ(back[size_t(j) + 16], 2.0f * kIq4Values[15 - j]);
  }
}

TEST(GgmlLegacy, Mxfp4SharedExponentAndNearestCode) {
  std::vector<float> x(32, 0.0f);
  x[0] = 3.0f;     // amax: floor(log2 3) = 1, e = 1 - 2 + 127 = 126, step 2^(126-127) * 0.5
  x[1] = -3.0f;    // code 8 + 7
  x[2] = 0.125f;   // halfway between 0 and 0.25: the lower index (0) wins
  x[3] = 2.5f;     // halfway between 2 (code 6) and 3 (code 7): code 6
  x[4] = -0.125f;  // +0 (code 0) ties with -0.25 (code 9): code 0
  x[20] = 1.5f;    // code 5 in the high nibble of byte 4
  auto y = encode(GgmlType::MXFP4, x);
  ASSERT_EQ(y.size(), 17u);
  EXPECT_EQ(y[0], 126);
  EXPECT_EQ(nibble(y, 1, 0), 7);
  EXPECT_EQ(nibble(y, 1, 1), 15);
  EXPECT_EQ(nibble(y, 1, 2), 0);
  EXPECT_EQ(nibble(y, 1, 3), 6);
  EXPECT_EQ(nibble(y, 1, 4), 0);
  EXPECT_EQ(nibble(y, 1, 20), 5);
  auto back = decode(GgmlType::MXFP4, y, 32);
  EXPECT_EQ(back[0], 3.0f);
  EXPECT_EQ(back[1], -3.0f);
  EXPECT_EQ(back[3], 2.0f);
  EXPECT_EQ(back[20], 1.5f);

  // Values above 1.5 * 2^floor(log2 amax) clip to the largest code.
  x[0] = 3.9f;
  y = encode(GgmlType::MXFP4, x);
  EXPECT_EQ(y[0], 126);
  EXPECT_EQ(nibble(y, 1, 0), 7);

  // Just below 16, log2f rounds to exactly 4: the exponent is that of 16.
  x.assign(32, 0.0f);
  x[0] = 16.0f * (1.0f - 0x1p-24f);
  EXPECT_EQ(encode(GgmlType::MXFP4, x)[0], 4 - 2 + 127);
  x[0] = 1.0f;
  EXPECT_EQ(encode(GgmlType::MXFP4, x)[0], 125);

  // An all-zero block: e = 0 and every code +0; decodes to zeros.
  x.assign(32, 0.0f);
  y = encode(GgmlType::MXFP4, x);
  for (uint8_t b : y) EXPECT_EQ(b, 0);
  back = decode(GgmlType::MXFP4, y, 32);
  for (float v : back) EXPECT_EQ(v, 0.0f);

  // Decoder: e = 0 and 1 are fp32 subnormals (2^-128, 2^-127 per doubled unit).
  std::vector<uint8_t> blk(17, 0);
  blk[1] = 0x01;  // element 0 code 1 (doubled value 1)
  back = decode(GgmlType::MXFP4, blk, 32);
  EXPECT_EQ(back[0], std::ldexp(1.0f, -128));
  blk[0] = 1;
  EXPECT_EQ(decode(GgmlType::MXFP4, blk, 32)[0], std::ldexp(1.0f, -127));
  blk[0] = 130;
  blk[1] = 0xF7;  // element 0 code 7 (doubled 12), element 16 code 15 (doubled -12)
  back = decode(GgmlType::MXFP4, blk, 32);
  EXPECT_EQ(back[0], 12.0f * 4.0f);
  EXPECT_EQ(back[16], -12.0f * 4.0f);
}

TEST(GgmlLegacy, ImportanceChangesTheSearchedTypesOnly) {
  // A Gaussian-ish row: with a skewed imatrix the searched types change, Q8_0 and MXFP4 not.
  std::vector<float> x(64), imatrix(64);
  for (int i = 0; i < 64; ++i) {
    x[size_t(i)] = std::sin(0.7f * float(i)) * (1.0f + 0.1f * float(i % 7));
    imatrix[size_t(i)] = i % 3 == 0 ? 10.0f : 0.1f;
  }
  for (GgmlType t :
       {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::IQ4_NL}) {
    EXPECT_TRUE(ggml_codec(t).uses_importance);
    EXPECT_NE(encode(t, x), encode(t, x, imatrix.data())) << ggml_traits(t).name;
  }
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::MXFP4}) {
    EXPECT_FALSE(ggml_codec(t).uses_importance);
    EXPECT_EQ(encode(t, x), encode(t, x, imatrix.data())) << ggml_traits(t).name;
  }
}

TEST(GgmlLegacy, DecodersInvertExactGrids) {
  // Values already on each type's grid come back exactly.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[size_t(i)] = 0.5f * float(i % 16 - 8);  // Q4_0 grid, d = 0.5
  EXPECT_EQ(decode(GgmlType::Q4_0, encode(GgmlType::Q4_0, x), 32), x);
  for (int i = 0; i < 32; ++i) x[size_t(i)] = 0.25f * float(i - 16);  // Q5_0 grid, d = 0.25
  EXPECT_EQ(decode(GgmlType::Q5_0, encode(GgmlType::Q5_0, x), 32), x);
  for (int i = 0; i < 32; ++i) x[size_t(i)] = float(31 - i) - 2.0f;  // Q5_1: d = 1, m = -2
  EXPECT_EQ(decode(GgmlType::Q5_1, encode(GgmlType::Q5_1, x), 32), x);
  for (int i = 0; i < 32; ++i) x[size_t(i)] = float(i * 4 - 64);  // Q8_0: amax 64 -> d = 64/127
  const auto q8 = decode(GgmlType::Q8_0, encode(GgmlType::Q8_0, x), 32);
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(q8[size_t(i)], x[size_t(i)], 0.26f);
}
