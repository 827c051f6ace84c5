// ggml's k-quants (Q2_K .. Q6_K): 256-value super-blocks of 16 or 32-value sub-blocks, each
// sub-block with a small integer scale (and min) relative to the super-block's fp16 d (and
// dmin). Without an importance matrix the encoders are ggml's quantize_row_qX_K_ref; with one,
// quantize_row_qX_K_impl, as ggml_quantize_chunk picks. The searches live in ggml_search.cc.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "numerics/ggml_quants_internal.h"
#include "numerics/ggml_search.h"
#include "numerics/half.h"

namespace lowbit::ggml_detail {

namespace {

constexpr int kSuper = 256;  // QK_K

// The blocks as ggml lays them out (ggml-common.h); built in place, copied out whole.
struct BlockQ2K {
  uint8_t scales[16];  // low nibble: scale, high nibble: min, per 16 values
  uint8_t qs[64];
  uint16_t d, dmin;
};
struct BlockQ3K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];  // 16 six-bit scales, +32
  uint16_t d;
};
struct BlockQ4K {
  uint16_t d, dmin;
  uint8_t scales[12];  // 8 six-bit scales and 8 six-bit mins
  uint8_t qs[128];
};
struct BlockQ5K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ2K) == 84 && sizeof(BlockQ3K) == 110 && sizeof(BlockQ4K) == 144 &&
              sizeof(BlockQ5K) == 176 && sizeof(BlockQ6K) == 210);

template <class Block>
Block load_block(const uint8_t* src, int64_t i) {
  Block b;
  std::memcpy(&b, src + i * int64_t(sizeof(Block)), sizeof(Block));
  return b;
}

template <class Block>
void store_block(const Block& b, uint8_t* dst, int64_t i) {
  std::memcpy(dst + i * int64_t(sizeof(Block)), &b, sizeof(Block));
}

float sum_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Importance-path element weights: the imatrix blended with the value's own magnitude.
void importance_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
  for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

float sum_of(const float* w, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += w[i];
  return s;
}

// ---- Packings shared between types ----

// Q4_K/Q5_K's 12 scale bytes (ggml's get_scale_min_k4): sub-blocks 0-3 keep scale and min in
// the low 6 bits of bytes 0-3 / 4-7; sub-blocks 4-7 put their low 4 bits in bytes 8-11 and
// their top 2 bits in the spare top bits of bytes 0-7. Levels above 63 are written as ggml
// writes them (the impl path of Q4_K does not clamp), bits spilling where ggml's do.
void pack_scales_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] = ls[j];
      q[j + 4] = lm[j];
    } else {
      q[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      q[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      q[j] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

void unpack_scale_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q3_K's 16 six-bit scales (stored +32): low nibbles in bytes 0-7 (scale j and j+8 share a
// byte), the top 2 bits of scale j at bits 2*(j/4) of byte 8 + j%4. q starts zeroed.
void pack_scales_q3(const int* levels, uint8_t* q) {
  for (int j = 0; j < 16; ++j) {
    const int l = levels[j];
    if (j < 8)
      q[j] = uint8_t(l & 0xF);
    else
      q[j - 8] |= uint8_t((l & 0xF) << 4);
    q[j % 4 + 8] |= uint8_t((l >> 4) << (2 * (j / 4)));
  }
}

// The signed scale (-32..31) of Q3_K sub-block j.
int unpack_scale_q3(int j, const uint8_t* q) {
  const int low = j < 8 ? q[j] & 0xF : q[j - 8] >> 4;
  return (low | (((q[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// 2-bit levels (Q2_K, and Q3_K's low bits): value 128h + 32s + l in bits 2s of byte 32h + l.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kSuper; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                              (L[j + l + 96] << 6));
}

int level_2bit(const uint8_t* qs, int e) {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

// ---- Q2_K ----

// Levels L (0..3) of the 16 sub-blocks, re-rounded against the stored (fp16) scales and mins.
void requantize_q2(const float* x, const BlockQ2K& b, uint8_t* L) {
  const float d_all = fp16_to_f32(b.d), m_all = fp16_to_f32(b.dmin);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * float(b.scales[j] & 0xF);
    if (d == 0) continue;  // keep the search's levels, as ggml does
    const float dm = m_all * float(b.scales[j] >> 4);
    for (int i = 0; i < 16; ++i) {
      const int l = nearest_int((x[16 * j + i] + dm) / d);
      L[16 * j + i] = uint8_t(std::max(0, std::min(3, l)));
    }
  }
}

void quantize_block_q2_k(const float* x, const float* qw, BlockQ2K& b) {
  uint8_t L[kSuper], Laux[16];
  float scales[16], mins[16], w[16];
  if (!qw) {
    // RTN of the 4-bit scales and mins against their maxima.
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int i = 0; i < 16; ++i) w[i] = std::fabs(x[16 * j + i]);
      scales[j] = make_qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f,
                                  15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = 15.f / max_scale;
      for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      b.d = f32_to_fp16(max_scale / 15.f);
    } else {
      b.d = f32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = 15.f / max_min;
      for (int j = 0; j < 16; ++j) b.scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
      b.dmin = f32_to_fp16(max_min / 15.f);
    } else {
      b.dmin = f32_to_fp16(0.f);
    }
  } else {
    // Weighted searches for the levels, then for the scales and mins themselves.
    const float sigma2 = sum_squares(x, kSuper) / float(kSuper);  // no factor 2 here, unlike Q3-Q5
    float sw[16];
    for (int j = 0; j < 16; ++j) {
      importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, w);
      sw[j] = sum_of(w, 16);
      scales[j] = make_qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f,
                                  36, false);
    }
    uint8_t Ls[16], Lm[16];
    const float dm = make_qp_quants(16, 15, scales, Ls, sw);
    const float mm = make_qp_quants(16, 15, mins, Lm, sw);
    b.d = f32_to_fp16(dm);
    b.dmin = f32_to_fp16(mm);
    for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
  }
  requantize_q2(x, b, L);
  pack_2bit(L, b.qs);
}

// ---- Q3_K ----

void quantize_block_q3_k(const float* x, const float* qw, BlockQ3K& b) {
  int8_t L[kSuper];
  float scales[16];
  int levels[16];
  if (!qw) {
    // RTN of the signed scales against the one of largest magnitude (mapped to -32).
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int8_t l = int8_t(nearest_int(iscale * scales[j]));  // ggml rounds into an int8_t
        levels[j] = std::max(-32, std::min(31, int(l))) + 32;
      }
      pack_scales_q3(levels, b.scales);
      b.d = f32_to_fp16(1 / iscale);
    } else {
      b.d = f32_to_fp16(0.f);
    }
  } else {
    const float sigma2 = 2 * sum_squares(x, kSuper) / float(kSuper);
    float w[16], sw[16];
    for (int j = 0; j < 16; ++j) {
      importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, w);
      sw[j] = sum_of(w, 16);
      scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, w);
    }
    int8_t Ls[16];
    const float d_block = make_qx_quants(16, 32, scales, Ls, sw);
    for (int j = 0; j < 16; ++j) levels[j] = Ls[j];
    pack_scales_q3(levels, b.scales);
    b.d = f32_to_fp16(d_block);
  }
  // Re-round against the stored scales; L holds level + 4 (0..7) from here on.
  const float d_all = fp16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * float(unpack_scale_q3(j, b.scales));
    if (d == 0) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = nearest_int(x[16 * j + i] / d);
      L[16 * j + i] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }
  // The high bit of value e is bit e/32 of hmask[e % 32]; the low 2 bits pack as Q2_K's.
  pack_q3_k(reinterpret_cast<const uint8_t*>(L), reinterpret_cast<uint8_t*>(&b));
}

// ---- Q4_K and Q5_K: 8 sub-blocks of 32, 6-bit scales and mins ----

struct K4Search {
  int nmax;     // 15 (Q4_K) or 31 (Q5_K)
  float rmin;   // the RTN path's search range start
  int nstep;
  bool clamp_importance_levels;  // Q5_K's impl clamps the qp levels to 63, Q4_K's does not
};

// Fills d, dmin, the 12 scale bytes and the levels L (0..nmax) of one super-block.
void quantize_k4_family(const float* x, const float* qw, const K4Search& s, uint16_t* d,
                        uint16_t* dmin, uint8_t* packed_scales, uint8_t* L) {
  uint8_t Laux[32], ls[8], lm[8];
  float scales[8], mins[8], w[32];
  if (!qw) {
    // Each sub-block weighs its values by rms + |x|; scales and mins round against their maxima.
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
      const float* xb = x + 32 * j;
      const float av_x = std::sqrt(sum_squares(xb, 32) / 32);
      for (int i = 0; i < 32; ++i) w[i] = av_x + std::fabs(xb[i]);
      scales[j] = make_qkx_quants(32, s.nmax, xb, w, L + 32 * j, &mins[j], Laux, s.rmin, 0.1f,
                                  s.nstep, false);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; ++j) {
      ls[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
      lm[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
    }
    *d = f32_to_fp16(max_scale / 63.f);
    *dmin = f32_to_fp16(max_min / 63.f);
  } else {
    const float sigma2 = 2 * sum_squares(x, kSuper) / float(kSuper);
    float sw[8];
    for (int j = 0; j < 8; ++j) {
      importance_weights(x + 32 * j, qw + 32 * j, sigma2, 32, w);
      sw[j] = sum_of(w, 32);
      scales[j] = make_qkx_quants(32, s.nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -0.9f,
                                  0.05f, 36, false);
    }
    const float d_block = make_qp_quants(8, 63, scales, ls, sw);
    const float m_block = make_qp_quants(8, 63, mins, lm, sw);
    if (s.clamp_importance_levels)
      for (int j = 0; j < 8; ++j) {
        ls[j] = std::min<uint8_t>(63, ls[j]);
        lm[j] = std::min<uint8_t>(63, lm[j]);
      }
    *d = f32_to_fp16(d_block);
    *dmin = f32_to_fp16(m_block);
  }
  pack_scales_k4(ls, lm, packed_scales);
  // Re-round against the stored scales and mins.
  const float d_all = fp16_to_f32(*d), m_all = fp16_to_f32(*dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_k4(j, packed_scales, &sc, &m);
    const float dj = d_all * float(sc);
    if (dj == 0) continue;
    const float dm = m_all * float(m);
    for (int i = 0; i < 32; ++i) {
      const int l = nearest_int((x[32 * j + i] + dm) / dj);
      L[32 * j + i] = uint8_t(std::max(0, std::min(s.nmax, l)));
    }
  }
}

constexpr K4Search kQ4KSearch{15, -1.f, 20, false};
constexpr K4Search kQ5KSearch{31, -0.5f, 15, true};

void quantize_block_q4_k(const float* x, const float* qw, BlockQ4K& b) {
  uint8_t L[kSuper];
  quantize_k4_family(x, qw, kQ4KSearch, &b.d, &b.dmin, b.scales, L);
  pack_q4_k(L, reinterpret_cast<uint8_t*>(&b));
}

void quantize_block_q5_k(const float* x, const float* qw, BlockQ5K& b) {
  uint8_t L[kSuper];
  quantize_k4_family(x, qw, kQ5KSearch, &b.d, &b.dmin, b.scales, L);
  // Low nibbles as Q4_K; the fifth bit of 64c + l / 64c + 32 + l is bit 2c / 2c+1 of qh[l].
  pack_q5_k(L, reinterpret_cast<uint8_t*>(&b));
}

// ---- Q6_K ----

// Without importance the weights are x^2; with it, the raw imatrix (no sigma term).
void quantize_block_q6_k(const float* x, const float* qw, BlockQ6K& b) {
  int8_t L[kSuper];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int j = 0; j < 16; ++j) {
    scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j, qw ? qw + 16 * j : nullptr);
    const float a = std::fabs(scales[j]);
    if (a > max_abs_scale) {
      max_abs_scale = a;
      max_scale = scales[j];
    }
  }
  if (max_abs_scale < kGroupMaxEps) return;  // an all-zero block
  const float iscale = -128.f / max_scale;
  b.d = f32_to_fp16(1 / iscale);
  for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(std::min(127, nearest_int(iscale * scales[j])));
  const float d_all = fp16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * float(b.scales[j]);
    if (d == 0) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = nearest_int(x[16 * j + i] / d);
      L[16 * j + i] = int8_t(std::max(-32, std::min(31, l)) + 32);
    }
  }
  // Per half h: ql[64h + l] holds 128h + l (low) and 128h + 64 + l (high), ql[64h + 32 + l]
  // holds 128h + 32 + l and 128h + 96 + l; qh[32h + l] the top 2 bits of the four.
  pack_q6_k(reinterpret_cast<const uint8_t*>(L), reinterpret_cast<uint8_t*>(&b));
}

// One row of super-blocks; qw (the imatrix, length n) moves along with x. Every encoder
// starts from a zeroed block and only sets or ORs in its fields.
template <class Block, void (*QuantizeBlock)(const float*, const float*, Block&)>
void quantize_row_blocks(const float* x, uint8_t* y, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / kSuper; ++i) {
    Block b{};
    QuantizeBlock(x + i * kSuper, qw ? qw + i * kSuper : nullptr, b);
    store_block(b, y, i);
  }
}

}  // namespace

void quantize_row_q2_k(const float* x, uint8_t* y, int64_t n, const float* w) {
  quantize_row_blocks<BlockQ2K, quantize_block_q2_k>(x, y, n, w);
}
void quantize_row_q3_k(const float* x, uint8_t* y, int64_t n, const float* w) {
  quantize_row_blocks<BlockQ3K, quantize_block_q3_k>(x, y, n, w);
}
void quantize_row_q4_k(const float* x, uint8_t* y, int64_t n, const float* w) {
  quantize_row_blocks<BlockQ4K, quantize_block_q4_k>(x, y, n, w);
}
void quantize_row_q5_k(const float* x, uint8_t* y, int64_t n, const float* w) {
  quantize_row_blocks<BlockQ5K, quantize_block_q5_k>(x, y, n, w);
}
void quantize_row_q6_k(const float* x, uint8_t* y, int64_t n, const float* w) {
  quantize_row_blocks<BlockQ6K, quantize_block_q6_k>(x, y, n, w);
}

// Decoders: ggml's dequantize_row_qX_K, the same float products in the same order. Each
// sub-block's scale (and min) is unpacked once, its levels into a local array, so the float
// loops vectorise (the engine decodes weight tiles on every pass).

void dequantize_q2_k(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kSuper; ++i, y += kSuper) {
    const auto b = load_block<BlockQ2K>(x, i);
    const float d = fp16_to_f32(b.d), min = fp16_to_f32(b.dmin);
    int q[kSuper];
    for (int e = 0; e < kSuper; ++e) q[e] = level_2bit(b.qs, e);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * float(b.scales[j] & 0xF), ml = min * float(b.scales[j] >> 4);
      for (int k = 0; k < 16; ++k) y[16 * j + k] = dl * float(q[16 * j + k]) - ml;
    }
  }
}

void dequantize_q3_k(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kSuper; ++i, y += kSuper) {
    const auto b = load_block<BlockQ3K>(x, i);
    const float d_all = fp16_to_f32(b.d);
    int q[kSuper];
    for (int e = 0; e < kSuper; ++e) q[e] = level_2bit(b.qs, e) - (((b.hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
    for (int j = 0; j < 16; ++j) {
      const float dl = d_all * float(unpack_scale_q3(j, b.scales));
      for (int k = 0; k < 16; ++k) y[16 * j + k] = dl * float(q[16 * j + k]);
    }
  }
}

namespace {
// Q4_K / Q5_K: (d * sc) * q - dmin * m per sub-block of 32; q holds the 256 levels.
template <class Block>
void dequantize_k4_family(const Block& b, const int* q, float* y) {
  const float d = fp16_to_f32(b.d), min = fp16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_k4(j, b.scales, &sc, &m);
    const float dl = d * float(sc), ml = min * float(m);
    for (int k = 0; k < 32; ++k) y[32 * j + k] = dl * float(q[32 * j + k]) - ml;
  }
}
// Byte 32c + l of qs: value 64c + l in its low nibble, 64c + 32 + l in its high one.
void unpack_k4_nibbles(const uint8_t* qs, int* q) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      q[64 * c + l] = qs[32 * c + l] & 0xF;
      q[64 * c + 32 + l] = qs[32 * c + l] >> 4;
    }
}
}  // namespace

void dequantize_q4_k(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kSuper; ++i, y += kSuper) {
    const auto b = load_block<BlockQ4K>(x, i);
    int q[kSuper];
    unpack_k4_nibbles(b.qs, q);
    dequantize_k4_family(b, q, y);
  }
}

void dequantize_q5_k(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kSuper; ++i, y += kSuper) {
    const auto b = load_block<BlockQ5K>(x, i);
    int q[kSuper];
    unpack_k4_nibbles(b.qs, q);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        q[64 * c + l] += 16 * ((b.qh[l] >> (2 * c)) & 1);
        q[64 * c + 32 + l] += 16 * ((b.qh[l] >> (2 * c + 1)) & 1);
      }
    dequantize_k4_family(b, q, y);
  }
}

void dequantize_q6_k(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kSuper; ++i, y += kSuper) {
    const auto b = load_block<BlockQ6K>(x, i);
    const float d = fp16_to_f32(b.d);
    int q[kSuper];
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t ql0 = b.ql[64 * h + l], ql1 = b.ql[64 * h + 32 + l], qh = b.qh[32 * h + l];
        q[128 * h + l] = ((ql0 & 0xF) | ((qh & 3) << 4)) - 32;
        q[128 * h + 32 + l] = ((ql1 & 0xF) | (((qh >> 2) & 3) << 4)) - 32;
        q[128 * h + 64 + l] = ((ql0 >> 4) | (((qh >> 4) & 3) << 4)) - 32;
        q[128 * h + 96 + l] = ((ql1 >> 4) | (((qh >> 6) & 3) << 4)) - 32;
      }
    for (int j = 0; j < 16; ++j) {
      const float dl = d * float(b.scales[j]);
      for (int k = 0; k < 16; ++k) y[16 * j + k] = dl * float(q[16 * j + k]);
    }
  }
}

}  // namespace lowbit::ggml_detail

// ---- Levels and packing per super-block (GPTQ re-picks the levels; the scales stay) ----

namespace lowbit::ggml_detail {

namespace {

// The same level range at every position of a sub-block of `n` values.
void fill_levels(GgmlLevels* out, int n, float step, float shift, int offset, int lo, int hi) {
  for (int i = 0; i < n; ++i) out[i] = GgmlLevels{step, shift, offset, lo, hi, nullptr};
}

// Q4_K / Q5_K: byte 32c + l holds value 64c + l (low nibble) and 64c + 32 + l (high nibble).
void pack_k4_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = uint8_t((L[64 * c + l] & 0xF) | ((L[64 * c + 32 + l] & 0xF) << 4));
}

// Q4_K / Q5_K: 8 sub-blocks of 32, level L decodes to (d * sc) * L - dmin * m.
template <class Block>
void levels_k4_family(const uint8_t* block, GgmlLevels* out, int nmax) {
  const auto b = load_block<Block>(block, 0);
  const float d = fp16_to_f32(b.d), min = fp16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_k4(j, b.scales, &sc, &m);
    fill_levels(out + 32 * j, 32, d * float(sc), min * float(m), 0, 0, nmax);
  }
}

}  // namespace

void levels_q2_k(const uint8_t* block, GgmlLevels* out) {
  const auto b = load_block<BlockQ2K>(block, 0);
  const float d = fp16_to_f32(b.d), min = fp16_to_f32(b.dmin);
  for (int j = 0; j < 16; ++j)
    fill_levels(out + 16 * j, 16, d * float(b.scales[j] & 0xF), min * float(b.scales[j] >> 4), 0, 0, 3);
}
void pack_q2_k(const uint8_t* L, uint8_t* block) { pack_2bit(L, block + offsetof(BlockQ2K, qs)); }

void levels_q3_k(const uint8_t* block, GgmlLevels* out) {
  const auto b = load_block<BlockQ3K>(block, 0);
  const float d_all = fp16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) fill_levels(out + 16 * j, 16, d_all * float(unpack_scale_q3(j, b.scales)), 0, 4, 0, 7);
}
void pack_q3_k(const uint8_t* L, uint8_t* block) {
  uint8_t low[kSuper], hmask[32] = {};
  for (int e = 0; e < kSuper; ++e) {
    if (L[e] > 3) hmask[e % 32] |= uint8_t(1 << (e / 32));
    low[e] = uint8_t(L[e] & 3);
  }
  std::memcpy(block + offsetof(BlockQ3K, hmask), hmask, 32);
  pack_2bit(low, block + offsetof(BlockQ3K, qs));
}

void levels_q4_k(const uint8_t* block, GgmlLevels* out) { levels_k4_family<BlockQ4K>(block, out, 15); }
void pack_q4_k(const uint8_t* L, uint8_t* block) { pack_k4_nibbles(L, block + offsetof(BlockQ4K, qs)); }

void levels_q5_k(const uint8_t* block, GgmlLevels* out) { levels_k4_family<BlockQ5K>(block, out, 31); }
void pack_q5_k(const uint8_t* L, uint8_t* block) {
  uint8_t qh[32] = {};
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      if (L[64 * c + l] > 15) qh[l] |= uint8_t(1 << (2 * c));
      if (L[64 * c + 32 + l] > 15) qh[l] |= uint8_t(2 << (2 * c));
    }
  std::memcpy(block + offsetof(BlockQ5K, qh), qh, 32);
  pack_k4_nibbles(L, block + offsetof(BlockQ5K, qs));
}

void levels_q6_k(const uint8_t* block, GgmlLevels* out) {
  const auto b = load_block<BlockQ6K>(block, 0);
  const float d = fp16_to_f32(b.d);
  for (int j = 0; j < 16; ++j) fill_levels(out + 16 * j, 16, d * float(b.scales[j]), 0, 32, 0, 63);
}
void pack_q6_k(const uint8_t* L, uint8_t* block) {
  uint8_t* ql = block + offsetof(BlockQ6K, ql);
  uint8_t* qh = block + offsetof(BlockQ6K, qh);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      ql[64 * h + l] = uint8_t((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[64 * h + 32 + l] = uint8_t((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[32 * h + l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

}  // namespace lowbit::ggml_detail
