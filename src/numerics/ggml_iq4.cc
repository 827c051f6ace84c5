#include "numerics/ggml_iq4.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "numerics/ggml_quants_internal.h"
#include "numerics/ggml_search.h"
#include "numerics/half.h"

namespace lowbit::ggml_detail {

namespace {

constexpr int kBlock = 32;
constexpr int kTries = 7;  // quantize_iq4_nl / quantize_iq4_xs's ntry

// ggml's IQ4_XS block (ggml-common.h).
struct BlockIq4Xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
static_assert(sizeof(BlockIq4Xs) == 136);

// The weighted least-squares scale of one block of 32 and its search: start from the scale that
// maps the extreme value to the codebook's -127, then try 15 inverse scales (t - 127) / max;
// keep the largest sumqx^2 / sumq2 (the error the fit removes). 0 for an all-zero block.
float iq4_block_scale(const float* xb, const float* w, uint8_t* Lb) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  if (amax < kGroupMaxEps) return 0;
  float d = -max / float(kIq4Values[0]);
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < kBlock; ++j) {
    const int l = iq4_nearest_code(id * xb[j]);
    Lb[j] = uint8_t(l);
    const float q = kIq4Values[l];
    sumqx += w[j] * q * xb[j];
    sumq2 += w[j] * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int t = -kTries; t <= kTries; ++t) {
    id = float(t + kIq4Values[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float q = kIq4Values[iq4_nearest_code(id * xb[j])];
      sumqx += w[j] * q * xb[j];
      sumq2 += w[j] * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

}  // namespace

int iq4_nearest_code(float x) {
  if (x <= kIq4Values[0]) return 0;
  if (x >= kIq4Values[15]) return 15;
  int lo = 0, hi = 15;  // binary search for kIq4Values[lo] <= x < kIq4Values[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIq4Values[mid])
      hi = mid;
    else
      lo = mid;
  }
  return x - kIq4Values[hi - 1] < kIq4Values[hi] - x ? hi - 1 : hi;
}

void quantize_iq4_superblock(int super_block_size, const float* x, const float* qw, uint16_t* d,
                             uint8_t* qs, uint16_t* scales_h, uint8_t* scales_l) {
  const int nblocks = super_block_size / kBlock;
  float sigma2 = 0;
  for (int j = 0; j < super_block_size; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / float(super_block_size);

  uint8_t L[256];
  float scales[8], w[kBlock];
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < nblocks; ++ib) {
    const float* xb = x + ib * kBlock;
    for (int j = 0; j < kBlock; ++j)
      w[j] = qw ? qw[ib * kBlock + j] * std::sqrt(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
    scales[ib] = iq4_block_scale(xb, w, L + ib * kBlock);
    const float a = std::fabs(scales[ib]);
    if (a > amax_scale) {
      amax_scale = a;
      max_scale = scales[ib];
    }
  }

  if (nblocks > 1) {
    // IQ4_XS: sub-block scales as 6-bit multiples of d = -max_scale/32; the codes are re-picked
    // with the rounded sub-block scale (in float, d not fp16-rounded, as ggml does).
    *scales_h = 0;
    const float ds = -max_scale / 32;
    *d = f32_to_fp16(ds);
    const float id = ds != 0 ? 1 / ds : 0.f;
    for (int ib = 0; ib < nblocks; ++ib) {
      int l = std::max(-32, std::min(31, nearest_int(id * scales[ib])));
      const float dl = ds * float(l);
      const float idl = dl != 0 ? 1 / dl : 0.f;
      for (int j = 0; j < kBlock; ++j)
        L[ib * kBlock + j] = uint8_t(iq4_nearest_code(idl * x[ib * kBlock + j]));
      l += 32;
      if (ib % 2 == 0)
        scales_l[ib / 2] = uint8_t(l & 0xF);
      else
        scales_l[ib / 2] |= uint8_t((l & 0xF) << 4);
      *scales_h |= uint16_t((l >> 4) << (2 * (ib % 8)));
    }
  } else {
    // IQ4_NL: the block's own scale in fp16; codes re-picked with its float inverse.
    *d = f32_to_fp16(scales[0]);
    const float id = scales[0] != 0 ? 1 / scales[0] : 0;
    for (int j = 0; j < kBlock; ++j) L[j] = uint8_t(iq4_nearest_code(id * x[j]));
  }

  for (int i = 0; i < nblocks; ++i)
    for (int j = 0; j < 16; ++j)
      qs[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void quantize_row_iq4_xs(const float* x, uint8_t* y, int64_t n, const float* qw) {
  for (int64_t i = 0; i < n / 256; ++i) {
    BlockIq4Xs b{};
    quantize_iq4_superblock(256, x + 256 * i, qw ? qw + 256 * i : nullptr, &b.d, b.qs,
                            &b.scales_h, b.scales_l);
    std::memcpy(y + i * int64_t(sizeof b), &b, sizeof b);
  }
}

void levels_iq4_xs(const uint8_t* block, GgmlLevels* out) {
  BlockIq4Xs b;
  std::memcpy(&b, block, sizeof b);
  const float d = fp16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const int low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF;
    const int ls = low | (((b.scales_h >> (2 * ib)) & 3) << 4);
    for (int j = 0; j < kBlock; ++j) out[32 * ib + j] = GgmlLevels{d * float(ls - 32), 0, 0, 0, 15, kIq4Values};
  }
}
void pack_iq4_xs(const uint8_t* L, uint8_t* block) {
  uint8_t* qs = block + offsetof(BlockIq4Xs, qs);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 16; ++j) qs[16 * i + j] = uint8_t((L[32 * i + j] & 0xF) | ((L[32 * i + 16 + j] & 0xF) << 4));
}

void dequantize_iq4_xs(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / 256; ++i, y += 256) {
    BlockIq4Xs b;
    std::memcpy(&b, x + i * int64_t(sizeof b), sizeof b);
    const float d = fp16_to_f32(b.d);
    for (int ib = 0; ib < 8; ++ib) {
      const int low = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF;
      const int ls = low | (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * float(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[32 * ib + j] = dl * float(kIq4Values[b.qs[16 * ib + j] & 0xF]);
        y[32 * ib + 16 + j] = dl * float(kIq4Values[b.qs[16 * ib + j] >> 4]);
      }
    }
  }
}

}  // namespace lowbit::ggml_detail
