// ggml's legacy 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and the 4-bit
// non-linear ones (IQ4_NL, MXFP4): encoders that write the bytes ggml_quantize_chunk writes,
// with and without an importance matrix, and ggml's decoders.
//
// Without an imatrix ggml uses its *_ref rounding (a scale from the block's extreme, then
// truncation of x/d + offset); with one, a weighted least-squares scale search
// (numerics/ggml_search.h). Q8_0 and MXFP4 ignore the imatrix; IQ4_NL always searches.
// Block layouts (ggml-common.h): element j of a block in the low nibble of byte j, element
// j + 16 in the high nibble; Q5's fifth bits as a little-endian u32, bit e for element e.
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "numerics/ggml_iq4.h"
#include "numerics/ggml_quants_internal.h"
#include "numerics/ggml_search.h"
#include "numerics/half.h"

namespace lowbit::ggml_detail {

namespace {

constexpr int kBlock = 32;
// E2M1 values doubled (ggml's kvalues_mxfp4): bit 3 is the sign; MXFP4 scales by half.
constexpr int8_t kFp4DoubledValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

inline void store_fp16(uint8_t* p, float v) {
  const uint16_t h = f32_to_fp16(v);
  std::memcpy(p, &h, 2);
}
inline float load_fp16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_f32(h);
}
// Little-endian hosts, as ggml assumes.
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The 32 4-bit codes of a block in element order (element j: low nibble of byte j, element
// j + 16: high nibble), with Q5's fifth bits (bit e of qh for element e) when qh is given.
// Unpacked into a local array first: the decoders' float loops then vectorise (the output
// cannot alias it) while computing exactly ggml's products.
inline void unpack_codes(const uint8_t* qs, const uint8_t* qh, int* q) {
  uint8_t bytes[16];
  std::memcpy(bytes, qs, 16);
  for (int j = 0; j < 16; ++j) {
    q[j] = bytes[j] & 0x0F;
    q[j + 16] = bytes[j] >> 4;
  }
  if (qh) {
    const uint32_t bits = load_u32(qh);
    for (int j = 0; j < kBlock; ++j) q[j] |= int((bits >> j) & 1u) << 4;
  }
}

// The first element of the block with the largest |x|, with its sign (Q4_0 and Q5_0 map it
// to the lowest level, so the sign decides which side saturates).
inline float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

struct MinMax {
  float min, max;
};
inline MinMax block_min_max(const float* x) {
  MinMax r{FLT_MAX, -FLT_MAX};
  for (int j = 0; j < kBlock; ++j) {
    if (x[j] < r.min) r.min = x[j];
    if (x[j] > r.max) r.max = x[j];
  }
  return r;
}

// ggml's `MIN(nmax, (int8_t)(v))` followed by the store into a uint8_t: the conversion to
// int8_t keeps the low byte of x86's truncation, so only the upper clamp applies.
inline uint8_t truncate_to_level(float v, int nmax) {
  const int q = int8_t(uint8_t(truncate_like_x86(v)));
  return uint8_t(q < nmax ? q : nmax);
}

inline void pack_fifth_bits(uint8_t* qs, uint8_t* qh, const uint8_t* levels) {
  uint32_t bits = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = levels[j], hi = levels[j + 16];
    qs[j] = uint8_t((lo & 0x0F) | ((hi & 0x0F) << 4));
    bits |= uint32_t((lo & 0x10u) >> 4) << j;
    bits |= uint32_t((hi & 0x10u) >> 4) << (j + 16);
  }
  store_u32(qh, bits);
}

// The imatrix paths weight element j by imatrix[j] * sqrt(sigma^2 + x_j^2), sigma^2 = the
// row's mean square (over the whole row, not the block).
inline float row_mean_square(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / float(n);
}
inline void block_weights(float* weight, const float* xb, const float* qw, float sigma2) {
  for (int j = 0; j < kBlock; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// ---- Q4_0: 18 bytes = fp16 d, 16 bytes of nibbles; y = d * (q - 8).

void q4_0_block_ref(const float* x, uint8_t* y) {
  const float d = signed_absmax(x) / -8;  // the extreme element lands exactly on level 0
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_fp16(y, d);
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = truncate_to_level(x[j] * id + 8.5f, 15);
    const uint8_t hi = truncate_to_level(x[j + 16] * id + 8.5f, 15);
    y[2 + j] = uint8_t(lo | (hi << 4));
  }
}

// ---- Q4_1: 20 bytes = fp16 d, fp16 m, nibbles; y = d * q + m.

void q4_1_block_ref(const float* x, uint8_t* y) {
  const MinMax mm = block_min_max(x);
  const float d = (mm.max - mm.min) / 15;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_fp16(y, d);
  store_fp16(y + 2, mm.min);
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = truncate_to_level((x[j] - mm.min) * id + 0.5f, 15);
    const uint8_t hi = truncate_to_level((x[j + 16] - mm.min) * id + 0.5f, 15);
    y[4 + j] = uint8_t(lo | (hi << 4));
  }
}

// ---- Q5_0: 22 bytes = fp16 d, u32 fifth bits, nibbles; y = d * (q - 16).

void q5_0_block_ref(const float* x, uint8_t* y) {
  const float d = signed_absmax(x) / -16;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_fp16(y, d);
  uint8_t levels[kBlock];
  for (int j = 0; j < kBlock; ++j) levels[j] = truncate_to_level(x[j] * id + 16.5f, 31);
  pack_fifth_bits(y + 6, y + 2, levels);
}

// ---- Q5_1: 24 bytes = fp16 d, fp16 m, u32 fifth bits, nibbles; y = d * q + m.

void q5_1_block_ref(const float* x, uint8_t* y) {
  const MinMax mm = block_min_max(x);
  const float d = (mm.max - mm.min) / 31;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_fp16(y, d);
  store_fp16(y + 2, mm.min);
  uint8_t levels[kBlock];
  // ggml casts straight to uint8_t here (no clamp): the top level cannot exceed 31.
  for (int j = 0; j < kBlock; ++j)
    levels[j] = uint8_t(truncate_like_x86((x[j] - mm.min) * id + 0.5f));
  pack_fifth_bits(y + 8, y + 4, levels);
}

}  // namespace

// ---- Q4_0

void quantize_row_q4_0(const float* x, uint8_t* y, int64_t n, const float* importance) {
  const int64_t nb = n / kBlock;
  if (!importance) {
    for (int64_t b = 0; b < nb; ++b) q4_0_block_ref(x + b * kBlock, y + b * 18);
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kBlock];
  int8_t L[kBlock];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    uint8_t* yb = y + b * 18;
    block_weights(weight, xb, importance + b * kBlock, sigma2);
    store_fp16(yb, make_qx_quants(kBlock, 8, xb, L, weight));
    for (int j = 0; j < 16; ++j) yb[2 + j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_0(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += 18, y += kBlock) {
    const float d = load_fp16(x);
    unpack_codes(x + 2, nullptr, q);
    for (int j = 0; j < kBlock; ++j) y[j] = float(q[j] - 8) * d;
  }
}

// ---- Q4_1

void quantize_row_q4_1(const float* x, uint8_t* y, int64_t n, const float* importance) {
  const int64_t nb = n / kBlock;
  if (!importance) {
    for (int64_t b = 0; b < nb; ++b) q4_1_block_ref(x + b * kBlock, y + b * 20);
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kBlock];
  uint8_t L[kBlock], Laux[kBlock];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    uint8_t* yb = y + b * 20;
    block_weights(weight, xb, importance + b * kBlock, sigma2);
    float neg_min;
    const float d =
        make_qkx_quants(kBlock, 15, xb, weight, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
    store_fp16(yb, d);
    store_fp16(yb + 2, -neg_min);
    for (int j = 0; j < 16; ++j) yb[4 + j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_1(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += 20, y += kBlock) {
    const float d = load_fp16(x), m = load_fp16(x + 2);
    unpack_codes(x + 4, nullptr, q);
    for (int j = 0; j < kBlock; ++j) y[j] = float(q[j]) * d + m;  // two roundings, as ggml (no FMA)
  }
}

// ---- Q5_0

void quantize_row_q5_0(const float* x, uint8_t* y, int64_t n, const float* importance) {
  const int64_t nb = n / kBlock;
  if (!importance) {
    for (int64_t b = 0; b < nb; ++b) q5_0_block_ref(x + b * kBlock, y + b * 22);
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kBlock];
  int8_t L[kBlock];
  uint8_t levels[kBlock];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    uint8_t* yb = y + b * 22;
    block_weights(weight, xb, importance + b * kBlock, sigma2);
    store_fp16(yb, make_qx_quants(kBlock, 16, xb, L, weight));
    for (int j = 0; j < kBlock; ++j) levels[j] = uint8_t(L[j]);
    pack_fifth_bits(yb + 6, yb + 2, levels);
  }
}

void dequantize_q5_0(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += 22, y += kBlock) {
    const float d = load_fp16(x);
    unpack_codes(x + 6, x + 2, q);
    for (int j = 0; j < kBlock; ++j) y[j] = float(q[j] - 16) * d;
  }
}

// ---- Q5_1

void quantize_row_q5_1(const float* x, uint8_t* y, int64_t n, const float* importance) {
  const int64_t nb = n / kBlock;
  if (!importance) {
    for (int64_t b = 0; b < nb; ++b) q5_1_block_ref(x + b * kBlock, y + b * 24);
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kBlock];
  uint8_t L[kBlock], Laux[kBlock];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    uint8_t* yb = y + b * 24;
    block_weights(weight, xb, importance + b * kBlock, sigma2);
    float neg_min;
    const float d =
        make_qkx_quants(kBlock, 31, xb, weight, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
    store_fp16(yb, d);
    store_fp16(yb + 2, -neg_min);
    pack_fifth_bits(yb + 8, yb + 4, L);
  }
}

void dequantize_q5_1(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += 24, y += kBlock) {
    const float d = load_fp16(x), m = load_fp16(x + 2);
    unpack_codes(x + 8, x + 4, q);
    for (int j = 0; j < kBlock; ++j) y[j] = float(q[j]) * d + m;
  }
}

// ---- Q8_0: 34 bytes = fp16 d, 32 int8; y = d * q. ggml ignores the imatrix.

void quantize_row_q8_0(const float* x, uint8_t* y, int64_t n, const float*) {
  for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock, y += 34) {
    float amax = 0;
    for (int j = 0; j < kBlock; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_fp16(y, d);
    // roundf: halves away from zero (not nearest_int's ties-to-even).
    for (int j = 0; j < kBlock; ++j) y[2 + j] = uint8_t(truncate_like_x86(std::round(x[j] * id)));
  }
}

void dequantize_q8_0(const uint8_t* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b, x += 34, y += kBlock) {
    const float d = load_fp16(x);
    for (int j = 0; j < kBlock; ++j) y[j] = float(int8_t(x[2 + j])) * d;
  }
}

// ---- IQ4_NL: 18 bytes = fp16 d, nibbles indexing kIq4Values; y = d * K[q]. ggml's
// llama-quantize path (quantize_iq4_nl) runs the weighted search with or without an imatrix.

void quantize_row_iq4_nl(const float* x, uint8_t* y, int64_t n, const float* importance) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint16_t d;
    const float* w = importance ? importance + b * kBlock : nullptr;
    quantize_iq4_superblock(kBlock, x + b * kBlock, w, &d, y + b * 18 + 2, nullptr, nullptr);
    std::memcpy(y + b * 18, &d, 2);
  }
}

void dequantize_iq4_nl(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += 18, y += kBlock) {
    const float d = load_fp16(x);
    unpack_codes(x + 2, nullptr, q);
    for (int j = 0; j < kBlock; ++j) y[j] = d * float(kIq4Values[q[j]]);
  }
}

// ---- MXFP4: 17 bytes = E8M0 exponent e, nibbles of E2M1 codes; y = E2M1(q) * 2^(e - 127).
// ggml ignores the imatrix.

namespace {

// ggml_e8m0_to_fp32_half: 2^(e - 128), as bits (e < 2 are fp32 subnormals). Halved because
// the codebook holds doubled E2M1 values.
inline float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

// best_index_mxfp4: the code whose value is nearest to x, scanning all 16 in order with a
// strict <, so ties keep the lower index (+0 before -0, the smaller magnitude first).
inline uint8_t nearest_fp4_code(float x, float half_scale) {
  int best = 0;
  float best_err = std::fabs(float(kFp4DoubledValues[0]) * half_scale - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(float(kFp4DoubledValues[i]) * half_scale - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return uint8_t(best);
}

}  // namespace

void quantize_row_mxfp4(const float* x, uint8_t* y, int64_t n, const float*) {
  for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock, y += 17) {
    float amax = 0;
    for (int j = 0; j < kBlock; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    // The OCP MX shared exponent floor(log2 amax) - emax(E2M1) = ... - 2, biased by 127.
    // ggml takes it through log2f, so do we rather than reading the exponent bits: just
    // below a power of two the float logarithm rounds up to it (log2f(16 * (1 - 2^-24)) = 4).
    const uint8_t e = amax > 0.0f
                          ? uint8_t(truncate_like_x86(std::floor(std::log2(amax)) - 2 + 127))
                          : uint8_t(0);
    const float d = e8m0_to_fp32_half(e);
    y[0] = e;
    for (int j = 0; j < 16; ++j)
      y[1 + j] = uint8_t(nearest_fp4_code(x[j], d) | (nearest_fp4_code(x[j + 16], d) << 4));
  }
}

void dequantize_mxfp4(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += 17, y += kBlock) {
    const float d = e8m0_to_fp32_half(x[0]);
    unpack_codes(x + 1, nullptr, q);
    for (int j = 0; j < kBlock; ++j) y[j] = float(kFp4DoubledValues[q[j]]) * d;
  }
}

}  // namespace lowbit::ggml_detail
