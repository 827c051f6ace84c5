// The k-quants and IQ4_XS, checked against the block layouts as written down from ggml's
// headers (docs: shared research gguf.md section 3) and against hand-derived values; the
// bit-exact comparison with ggml itself is tests/compat/test_ggml_quants.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "numerics/ggml_iq4.h"
#include "numerics/ggml_quants.h"
#include "numerics/ggml_search.h"
#include "numerics/half.h"

using namespace lowbit;
using namespace lowbit::ggml_detail;

namespace {

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& block) {
  std::vector<float> y(256);
  ggml_dequantize(t, block.data(), y.data(), 256);
  return y;
}

void put_fp16(std::vector<uint8_t>& b, size_t at, float v) {
  const uint16_t h = f32_to_fp16(v);
  std::memcpy(b.data() + at, &h, 2);
}

// Levels 0..nmax, varied so every bit position of every byte is exercised.
int level(int e, int nmax) { return (e * 7 + e / 16 * 3 + 1) % (nmax + 1); }

// Q4_K/Q5_K scale bytes for scales {1,2,3,4,17,33,63,48} and mins {5,6,7,8,16,32,0,63},
// packed by hand: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); 4-7
// split into a low nibble in bytes 8-11 (scale low, min high) and 2 top bits in bits 6-7 of
// bytes 0-3 (scales) and 4-7 (mins).
constexpr uint8_t kK4Scales[12] = {0x41, 0x82, 0xC3, 0xC4, 0x45, 0x86,
                                   0x07, 0xC8, 0x01, 0x01, 0x0F, 0xF0};
constexpr int kK4Sc[8] = {1, 2, 3, 4, 17, 33, 63, 48};
constexpr int kK4Min[8] = {5, 6, 7, 8, 16, 32, 0, 63};

}  // namespace

TEST(GgmlKQuants, NearestIntRoundsHalfToEvenLikeGgml) {
  EXPECT_EQ(nearest_int(2.5f), 2);
  EXPECT_EQ(nearest_int(3.5f), 4);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(-0.5f), 0);
  EXPECT_EQ(nearest_int(-0.0f), 0);
  EXPECT_EQ(nearest_int(4194303.f), 4194303);
  EXPECT_EQ(nearest_int(-31.49f), -31);
}

TEST(GgmlKQuants, Iq4CodeIsTheNearestValueAndATieTakesTheUpperCode) {
  EXPECT_EQ(iq4_nearest_code(-500.f), 0);
  EXPECT_EQ(iq4_nearest_code(500.f), 15);
  EXPECT_EQ(iq4_nearest_code(0.f), 8);     // 1 is nearer than -10
  EXPECT_EQ(iq4_nearest_code(-4.5f), 8);   // halfway between -10 and 1
  EXPECT_EQ(iq4_nearest_code(-4.6f), 7);
  EXPECT_EQ(iq4_nearest_code(101.f), 15);  // halfway between 89 and 113
  for (int c = 0; c < 16; ++c) EXPECT_EQ(iq4_nearest_code(kIq4Values[c]), c);
}

TEST(GgmlKQuants, SearchesReturnTheExactScaleOfValuesOnTheirGrid) {
  // Type 0: x = 0.25 * l with l = -nmax present: the first rounding is exact, nothing beats it.
  float x[16];
  int8_t L[16];
  for (int i = 0; i < 16; ++i) x[i] = 0.25f * float(i == 3 ? -4 : (i * 5) % 8 - 4);
  EXPECT_EQ(make_qx_quants(16, 4, x, L, nullptr), 0.25f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(L[i], int(x[i] / 0.25f) + 4);
  EXPECT_EQ(make_q3_quants(16, 4, x, L), 0.25f);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(L[i], int(x[i] / 0.25f) + 4);

  // Type 1: x = 0.5 * L - 1 covering 0..15: scale 0.5, subtracted min 1, zero error.
  float y[32], w[32];
  uint8_t Lq[32], aux[32];
  for (int i = 0; i < 32; ++i) {
    y[i] = 0.5f * float(i % 16) - 1.f;
    w[i] = 1.f;
  }
  float the_min = -1;
  EXPECT_EQ(make_qkx_quants(32, 15, y, w, Lq, &the_min, aux, -1.f, 0.1f, 20, false), 0.5f);
  EXPECT_EQ(the_min, 1.f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(Lq[i], i % 16);

  // Positive scales on a 0..63 grid of step 1/8 (a super-block's sub-block scales).
  float s[8] = {63 / 8.f, 1 / 8.f, 40 / 8.f, 0, 17 / 8.f, 63 / 8.f, 5 / 8.f, 32 / 8.f};
  uint8_t Ls[8];
  EXPECT_EQ(make_qp_quants(8, 63, s, Ls, w), 0.125f);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Ls[i], int(s[i] * 8));
}

TEST(GgmlKQuants, AllZeroGroupsGiveZeroLevelsAndScale) {
  float x[32] = {};
  int8_t L[32];
  uint8_t Lq[32], aux[32];
  float w[32];
  for (auto& v : w) v = 1;
  EXPECT_EQ(make_qx_quants(32, 8, x, L, nullptr), 0.f);
  EXPECT_EQ(make_q3_quants(16, 4, x, L), 0.f);
  float the_min = 1;
  EXPECT_EQ(make_qkx_quants(32, 15, x, w, Lq, &the_min, aux, -1.f, 0.1f, 20, false), 0.f);
  EXPECT_EQ(the_min, 0.f);
  EXPECT_EQ(make_qp_quants(8, 63, x, Lq, w), 0.f);
}

TEST(GgmlKQuants, Q4KScaleBytesAndNibbleLayoutDecode) {
  std::vector<uint8_t> b(144, 0);
  put_fp16(b, 0, 0.5f);   // d
  put_fp16(b, 2, 0.25f);  // dmin
  std::memcpy(b.data() + 4, kK4Scales, 12);
  // Byte 16 + 32c + l: value 64c + l in the low nibble, 64c + 32 + l in the high nibble.
  for (int e = 0; e < 256; ++e) {
    const int at = 16 + 32 * (e / 64) + e % 32;
    b[at] |= uint8_t(level(e, 15) << ((e % 64) < 32 ? 0 : 4));
  }
  const auto y = decode(GgmlType::Q4_K, b);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], 0.5f * float(kK4Sc[j]) * float(level(e, 15)) - 0.25f * float(kK4Min[j])) << e;
  }
}

TEST(GgmlKQuants, Q5KFifthBitsDecode) {
  std::vector<uint8_t> b(176, 0);
  put_fp16(b, 0, 0.5f);
  put_fp16(b, 2, 0.25f);
  std::memcpy(b.data() + 4, kK4Scales, 12);
  // qh[l] (bytes 16-47): bit 2c for value 64c + l, bit 2c+1 for 64c + 32 + l; low nibbles at 48.
  for (int e = 0; e < 256; ++e) {
    const int q = level(e, 31), c = e / 64, upper = (e % 64) >= 32;
    b[48 + 32 * c + e % 32] |= uint8_t((q & 15) << (upper ? 4 : 0));
    if (q & 16) b[16 + e % 32] |= uint8_t(1 << (2 * c + upper));
  }
  const auto y = decode(GgmlType::Q5_K, b);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], 0.5f * float(kK4Sc[j]) * float(level(e, 31)) - 0.25f * float(kK4Min[j])) << e;
  }
}

TEST(GgmlKQuants, Q6KLayoutDecodes) {
  std::vector<uint8_t> b(210, 0);
  // ql (0-127): per half h, byte 64h + l holds 128h + l (low) and 128h + 64 + l (high), byte
  // 64h + 32 + l holds 128h + 32 + l and 128h + 96 + l; qh (128-191): byte 128 + 32h + l holds
  // the top 2 bits of the four at bits 0, 2, 4, 6; int8 scales at 192; d at 208.
  for (int e = 0; e < 256; ++e) {
    const int q = level(e, 63), h = e / 128, r = e % 128, l = e % 32, quarter = r / 32;
    b[64 * h + 32 * (quarter % 2) + l] |= uint8_t((q & 15) << (quarter < 2 ? 0 : 4));
    b[128 + 32 * h + l] |= uint8_t((q >> 4) << (2 * quarter));
  }
  for (int k = 0; k < 16; ++k) b[192 + k] = uint8_t(int8_t(k * 17 - 128));
  put_fp16(b, 208, 0.125f);
  const auto y = decode(GgmlType::Q6_K, b);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[e], 0.125f * float((e / 16) * 17 - 128) * float(level(e, 63) - 32)) << e;
}

TEST(GgmlKQuants, Q2KLayoutDecodes) {
  std::vector<uint8_t> b(84, 0);
  // scales[k] (0-15): scale in the low nibble, min in the high one; value 128h + 32s + l in
  // bits 2s of qs[32h + l] (16-79); d at 80, dmin at 82.
  for (int k = 0; k < 16; ++k) b[k] = uint8_t((15 - k) | ((k * 7 % 16) << 4));
  for (int e = 0; e < 256; ++e)
    b[16 + 32 * (e / 128) + e % 32] |= uint8_t(level(e, 3) << (2 * ((e % 128) / 32)));
  put_fp16(b, 80, 2.f);
  put_fp16(b, 82, 0.5f);
  const auto y = decode(GgmlType::Q2_K, b);
  for (int e = 0; e < 256; ++e) {
    const int k = e / 16;
    EXPECT_EQ(y[e], 2.f * float(15 - k) * float(level(e, 3)) - 0.5f * float(k * 7 % 16)) << e;
  }
}

TEST(GgmlKQuants, Q3KLayoutDecodes) {
  std::vector<uint8_t> b(110, 0);
  // hmask (0-31): bit e/32 of byte e%32 set = high bit 1 (level - 4 + 4); low 2 bits as Q2_K
  // (32-95); 16 six-bit scales +32 (96-107): low nibble of scale k in byte k (k < 8, low) or
  // k-8 (high), top 2 bits at bits 2(k/4) of byte 8 + k%4; d at 108.
  int sc[16];
  for (int k = 0; k < 16; ++k) {
    sc[k] = (k * 29 + 5) % 64;
    const int at = 96 + (k < 8 ? k : k - 8);
    b[at] |= uint8_t((sc[k] & 15) << (k < 8 ? 0 : 4));
    b[96 + 8 + k % 4] |= uint8_t((sc[k] >> 4) << (2 * (k / 4)));
  }
  for (int e = 0; e < 256; ++e) {
    const int q = level(e, 7);
    b[32 + 32 * (e / 128) + e % 32] |= uint8_t((q & 3) << (2 * ((e % 128) / 32)));
    if (q & 4) b[e % 32] |= uint8_t(1 << (e / 32));
  }
  put_fp16(b, 108, 0.25f);
  const auto y = decode(GgmlType::Q3_K, b);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[e], 0.25f * float(sc[e / 16] - 32) * float(level(e, 7) - 4)) << e;
}

TEST(GgmlKQuants, Iq4XsLayoutDecodes) {
  std::vector<uint8_t> b(136, 0);
  // d at 0; scales_h (u16 at 2): bits 2j..2j+1 = top bits of sub-scale j; scales_l (4-7):
  // nibble j%2 of byte j/2 = low bits; qs (8-135): byte 16j + t holds 32j + t (low nibble) and
  // 32j + 16 + t (high). Value d * (ls - 32) * codebook[nibble].
  const int ls[8] = {0, 63, 32, 31, 33, 1, 48, 17};
  uint16_t h = 0;
  for (int j = 0; j < 8; ++j) {
    b[4 + j / 2] |= uint8_t((ls[j] & 15) << (4 * (j % 2)));
    h |= uint16_t((ls[j] >> 4) << (2 * j));
  }
  std::memcpy(b.data() + 2, &h, 2);
  for (int e = 0; e < 256; ++e)
    b[8 + 16 * (e / 32) + e % 16] |= uint8_t(level(e, 15) << ((e % 32) < 16 ? 0 : 4));
  put_fp16(b, 0, 0.5f);
  const auto y = decode(GgmlType::IQ4_XS, b);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[e], 0.5f * float(ls[e / 32] - 32) * float(kIq4Values[level(e, 15)])) << e;
}

TEST(GgmlKQuants, Q6KValuesOnItsGridRoundTripExactly) {
  // Sub-block j: x = s_j * l with l in [-32, 31], l = -32 present, s_j = 2^-(j%4) / 2. The
  // search finds l and s_j exactly; the super-block scale d = -s_max/128 with sub-scale
  // -128 * s_j / s_max (integers), so decoding gives x back, with or without importance.
  std::vector<float> x(512);
  for (int e = 0; e < 512; ++e) {
    const int j = e / 16, l = e % 16 == 5 ? -32 : level(e, 63) - 32;
    x[e] = std::ldexp(float(l), -(j % 4) - 1);
  }
  const std::vector<float> ones(512, 1.f);
  for (const float* w : {static_cast<const float*>(nullptr), ones.data()}) {
    std::vector<uint8_t> q(2 * 210);
    ggml_quantize_rows(GgmlType::Q6_K, x.data(), q.data(), 1, 512, w);
    std::vector<float> y(512);
    ggml_dequantize(GgmlType::Q6_K, q.data(), y.data(), 512);
    EXPECT_EQ(y, x);
    int8_t first_scale;
    std::memcpy(&first_scale, q.data() + 192, 1);
    EXPECT_EQ(first_scale, -128);
  }
}

TEST(GgmlKQuants, ZeroRowsDecodeToZero) {
  const std::vector<float> x(512, 0.f), w(512, 1.f);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                     GgmlType::IQ4_XS})
    for (const float* imatrix : {static_cast<const float*>(nullptr), w.data()}) {
      std::vector<uint8_t> q(*ggml_row_bytes(t, 512));
      ggml_quantize_rows(t, x.data(), q.data(), 1, 512, imatrix);
      std::vector<float> y(512, 1.f);
      ggml_dequantize(t, q.data(), y.data(), 512);
      for (float v : y) ASSERT_EQ(v, 0.f) << ggml_traits(t).name;
    }
}

TEST(GgmlKQuants, ErrorShrinksWithBitsAndImportanceHelpsTheColumnsItWeighs) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const int rows = 16, cols = 1024;
  std::vector<float> x(size_t(rows) * cols);
  for (auto& v : x) v = normal(rng);
  // Importance on every 8th column only.
  std::vector<float> imp(cols, 1e-3f);
  for (int c = 0; c < cols; c += 8) imp[c] = 100.f;
  auto rel_rmse = [&](GgmlType t, const float* w, bool weighted_columns_only) {
    std::vector<uint8_t> q(rows * *ggml_row_bytes(t, cols));
    ggml_quantize_rows(t, x.data(), q.data(), rows, cols, w);
    std::vector<float> y(x.size());
    ggml_dequantize(t, q.data(), y.data(), int64_t(y.size()));
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (weighted_columns_only && i % 8 != 0) continue;
      err += double(y[i] - x[i]) * (y[i] - x[i]);
      ref += double(x[i]) * x[i];
    }
    return std::sqrt(err / ref);
  };
  const double q2 = rel_rmse(GgmlType::Q2_K, nullptr, false);
  const double q3 = rel_rmse(GgmlType::Q3_K, nullptr, false);
  const double q4 = rel_rmse(GgmlType::Q4_K, nullptr, false);
  const double q5 = rel_rmse(GgmlType::Q5_K, nullptr, false);
  const double q6 = rel_rmse(GgmlType::Q6_K, nullptr, false);
  const double iq4 = rel_rmse(GgmlType::IQ4_XS, nullptr, false);
  EXPECT_LT(q6, q5);
  EXPECT_LT(q5, q4);
  EXPECT_LT(q4, q3);
  EXPECT_LT(q3, q2);
  EXPECT_LT(q2, 0.5);
  EXPECT_LT(q6, 0.03);
  EXPECT_LT(iq4, q3);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                     GgmlType::IQ4_XS})
    EXPECT_LT(rel_rmse(t, imp.data(), true), rel_rmse(t, nullptr, true)) << ggml_traits(t).name;
}
