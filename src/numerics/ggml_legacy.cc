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

// Q5's fifth bits follow the 4-bit packing of unpack_codes: bit e of the u32 at qh for element e.
inline void pack_codes(uint8_t* qs, uint8_t* qh, const uint8_t* levels) {
  uint32_t bits = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = levels[j], hi = levels[j + 16];
    qs[j] = uint8_t((lo & 0x0F) | ((hi & 0x0F) << 4));
    bits |= uint32_t((lo & 0x10u) >> 4) << j;
    bits |= uint32_t((hi & 0x10u) >> 4) << (j + 16);
  }
  if (qh) store_u32(qh, bits);
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

// ---- Q4_0, Q4_1, Q5_0, Q5_1: one layout each, one encoder and one decoder for all four.
// Q4_0 (18 bytes) = fp16 d, 16 bytes of nibbles; y = d * (q - 8).
// Q4_1 (20 bytes) = fp16 d, fp16 m, nibbles; y = d * q + m.
// Q5_0 (22 bytes) = fp16 d, u32 fifth bits, nibbles; y = d * (q - 16).
// Q5_1 (24 bytes) = fp16 d, fp16 m, u32 fifth bits, nibbles; y = d * q + m.
struct LegacyLayout {
  int bits;     // 4 or 5
  bool affine;  // with a minimum m (Q4_1, Q5_1) or centred on 2^(bits-1) (Q4_0, Q5_0)
  constexpr int nmax() const { return (1 << bits) - 1; }
  constexpr int centre() const { return 1 << (bits - 1); }
  constexpr int fifth_bits_at() const { return affine ? 4 : 2; }  // after the fp16 header
  constexpr int codes_at() const { return fifth_bits_at() + (bits == 5 ? 4 : 0); }
  constexpr int block_bytes() const { return codes_at() + 16; }
};
constexpr LegacyLayout kQ4_0{4, false}, kQ4_1{4, true}, kQ5_0{5, false}, kQ5_1{5, true};

// ggml's *_ref rounding. Symmetric: the extreme element lands exactly on level 0 (its sign decides
// which side saturates). Affine: levels from the block's minimum. (Q5_1's reference casts without
// a clamp; its level cannot exceed 31, so the clamp changes nothing.)
template <LegacyLayout F>
void legacy_block_ref(const float* x, uint8_t* y) {
  uint8_t levels[kBlock];
  if constexpr (F.affine) {
    const MinMax mm = block_min_max(x);
    const float d = (mm.max - mm.min) / F.nmax();
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_fp16(y, d);
    store_fp16(y + 2, mm.min);
    for (int j = 0; j < kBlock; ++j) levels[j] = truncate_to_level((x[j] - mm.min) * id + 0.5f, F.nmax());
  } else {
    const float d = signed_absmax(x) / float(-F.centre());
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_fp16(y, d);
    for (int j = 0; j < kBlock; ++j) levels[j] = truncate_to_level(x[j] * id + (float(F.centre()) + 0.5f), F.nmax());
  }
  pack_codes(y + F.codes_at(), F.bits == 5 ? y + F.fifth_bits_at() : nullptr, levels);
}

// With an imatrix: ggml's weighted searches (make_qx_quants symmetric, make_qkx_quants affine).
template <LegacyLayout F>
void quantize_row_legacy(const float* x, uint8_t* y, int64_t n, const float* importance) {
  const int64_t nb = n / kBlock;
  if (!importance) {
    for (int64_t b = 0; b < nb; ++b) legacy_block_ref<F>(x + b * kBlock, y + b * F.block_bytes());
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kBlock];
  uint8_t levels[kBlock];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kBlock;
    uint8_t* yb = y + b * F.block_bytes();
    block_weights(weight, xb, importance + b * kBlock, sigma2);
    if constexpr (F.affine) {
      uint8_t aux[kBlock];
      float neg_min;
      const float d = make_qkx_quants(kBlock, F.nmax(), xb, weight, levels, &neg_min, aux, -0.9f, 0.05f, 36, false);
      store_fp16(yb, d);
      store_fp16(yb + 2, -neg_min);
    } else {
      int8_t L[kBlock];
      store_fp16(yb, make_qx_quants(kBlock, F.centre(), xb, L, weight));
      for (int j = 0; j < kBlock; ++j) levels[j] = uint8_t(L[j]);
    }
    pack_codes(yb + F.codes_at(), F.bits == 5 ? yb + F.fifth_bits_at() : nullptr, levels);
  }
}

template <LegacyLayout F>
void dequantize_legacy(const uint8_t* x, float* y, int64_t n) {
  int q[kBlock];
  for (int64_t b = 0; b < n / kBlock; ++b, x += F.block_bytes(), y += kBlock) {
    const float d = load_fp16(x);
    unpack_codes(x + F.codes_at(), F.bits == 5 ? x + F.fifth_bits_at() : nullptr, q);
    if constexpr (F.affine) {
      const float m = load_fp16(x + 2);
      for (int j = 0; j < kBlock; ++j) y[j] = float(q[j]) * d + m;  // two roundings, as ggml (no FMA)
    } else {
      for (int j = 0; j < kBlock; ++j) y[j] = float(q[j] - F.centre()) * d;
    }
  }
}

// Levels of one block: symmetric types decode d * (L - centre), affine ones d * L + m.
template <LegacyLayout F>
void legacy_levels(const uint8_t* block, GgmlLevels* out) {
  const float d = load_fp16(block);
  const GgmlLevels l = F.affine ? GgmlLevels{d, -load_fp16(block + 2), 0, 0, F.nmax(), nullptr}
                                : GgmlLevels{d, 0, F.centre(), 0, F.nmax(), nullptr};
  for (int j = 0; j < kBlock; ++j) out[j] = l;
}

template <LegacyLayout F>
void legacy_pack(const uint8_t* levels, uint8_t* block) {
  pack_codes(block + F.codes_at(), F.bits == 5 ? block + F.fifth_bits_at() : nullptr, levels);
}

}  // namespace

void quantize_row_q4_0(const float* x, uint8_t* y, int64_t n, const float* w) { quantize_row_legacy<kQ4_0>(x, y, n, w); }
void levels_q4_0(const uint8_t* b, GgmlLevels* out) { legacy_levels<kQ4_0>(b, out); }
void levels_q4_1(const uint8_t* b, GgmlLevels* out) { legacy_levels<kQ4_1>(b, out); }
void levels_q5_0(const uint8_t* b, GgmlLevels* out) { legacy_levels<kQ5_0>(b, out); }
void levels_q5_1(const uint8_t* b, GgmlLevels* out) { legacy_levels<kQ5_1>(b, out); }
void pack_q4_0(const uint8_t* L, uint8_t* b) { legacy_pack<kQ4_0>(L, b); }
void pack_q4_1(const uint8_t* L, uint8_t* b) { legacy_pack<kQ4_1>(L, b); }
void pack_q5_0(const uint8_t* L, uint8_t* b) { legacy_pack<kQ5_0>(L, b); }
void pack_q5_1(const uint8_t* L, uint8_t* b) { legacy_pack<kQ5_1>(L, b); }
void quantize_row_q4_1(const float* x, uint8_t* y, int64_t n, const float* w) { quantize_row_legacy<kQ4_1>(x, y, n, w); }
void quantize_row_q5_0(const float* x, uint8_t* y, int64_t n, const float* w) { quantize_row_legacy<kQ5_0>(x, y, n, w); }
void quantize_row_q5_1(const float* x, uint8_t* y, int64_t n, const float* w) { quantize_row_legacy<kQ5_1>(x, y, n, w); }
void dequantize_q4_0(const uint8_t* x, float* y, int64_t n) { dequantize_legacy<kQ4_0>(x, y, n); }
void dequantize_q4_1(const uint8_t* x, float* y, int64_t n) { dequantize_legacy<kQ4_1>(x, y, n); }
void dequantize_q5_0(const uint8_t* x, float* y, int64_t n) { dequantize_legacy<kQ5_0>(x, y, n); }
void dequantize_q5_1(const uint8_t* x, float* y, int64_t n) { dequantize_legacy<kQ5_1>(x, y, n); }

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

// Level L is the int8 code L - 128, in ggml's symmetric range [-127, 127].
void levels_q8_0(const uint8_t* block, GgmlLevels* out) {
  const float d = load_fp16(block);
  for (int j = 0; j < kBlock; ++j) out[j] = GgmlLevels{d, 0, 128, 1, 255, nullptr};
}
void pack_q8_0(const uint8_t* L, uint8_t* block) {
  for (int j = 0; j < kBlock; ++j) block[2 + j] = uint8_t(int(L[j]) - 128);
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

void levels_iq4_nl(const uint8_t* block, GgmlLevels* out) {
  const float d = load_fp16(block);
  for (int j = 0; j < kBlock; ++j) out[j] = GgmlLevels{d, 0, 0, 0, 15, kIq4Values};
}
void pack_iq4_nl(const uint8_t* L, uint8_t* block) { pack_codes(block + 2, nullptr, L); }

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
