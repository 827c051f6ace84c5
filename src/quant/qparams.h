// Scales, zero points and the quantize/dequantize of one value, with
// compressed-tensors' exact arithmetic: every intermediate is rounded to the
// model dtype (bf16 models compute in bf16), divisions stay divisions, and
// rounding is half-to-even. This makes our codes bit-identical to llm-compressor's.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "numerics/half.h"
#include "quant/quant_args.h"

namespace lowbit::quant {

struct IntQParams {
  float scale;  // exactly representable in the model dtype
  int zero_point;  // signed domain; 0 when symmetric
};

// Round half to even for |v| < 2^22 (all our clamped values), vectorisable.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

// compressed-tensors calculate_qparams for int args from an observed (min, max).
inline IntQParams int_qparams(float mn, float mx, const QuantArgs& a, DType md) {
  mn = std::min(mn, 0.0f);
  mx = std::max(mx, 0.0f);
  const float qmin = float(a.qmin()), qmax = float(a.qmax());
  IntQParams p{0.0f, 0};
  if (a.symmetric) {
    float amax = std::max(-mn, mx);
    // full range: amax / ((qmax - qmin) / 2) = amax/7.5 for int4; restricted: amax/qmax.
    float denom = a.restricted_range ? qmax : (qmax - qmin) / 2.0f;
    p.scale = round_to_dtype(amax / denom, md);
  } else {
    p.scale = round_to_dtype(round_to_dtype(mx - mn, md) / (qmax - qmin), md);
    if (p.scale != 0.0f) {
      float zp = round_to_dtype(qmin - round_to_dtype(mn / p.scale, md), md);
      zp = std::clamp(zp, qmin, qmax);
      p.zero_point = int(round_half_even(zp));
    }
    // An all-zero group (scale 0) keeps zero point 0: every code then decodes to 0.
  }
  if (p.scale == 0.0f) p.scale = dtype_eps(md);
  return p;
}

// compressed-tensors _quantize: round(clamp(rd(rd(x / scale) + zp), qmin, qmax)).
inline int quantize_int(float x, const IntQParams& p, const QuantArgs& a, DType md) {
  float v = round_to_dtype(x / p.scale, md);
  if (p.zero_point != 0) v = round_to_dtype(v + float(p.zero_point), md);
  v = std::clamp(v, float(a.qmin()), float(a.qmax()));
  return int(round_half_even(v));
}

}  // namespace lowbit::quant

#include "numerics/formats.h"

namespace lowbit::quant {

// FP8 weights with model-dtype scales (tensor, channel, block): amax / 448 in the model dtype.
inline float fp8_scale(float amax, DType md) {
  float s = round_to_dtype(amax / 448.0f, md);
  return s == 0.0f ? dtype_eps(md) : s;
}

// The largest power of two not above amax, rounded up when amax's mantissa fraction is
// >= 0.75: compressed-tensors' round_to_power_2 on amax's bits in the model dtype (it
// uses FP4's one mantissa bit for MXFP8 too).
inline float mx_round_pow2(float amax, DType md) {
  if (md == DType::BF16) {
    uint16_t b = f32_to_bf16(amax);
    return bf16_to_f32(uint16_t((b + (1u << 5)) & 0xff80u));
  }
  if (md == DType::F16) {
    uint16_t b = f32_to_fp16(amax);
    return fp16_to_f32(uint16_t((b + (1u << 8)) & 0xfc00u));
  }
  uint32_t b = std::bit_cast<uint32_t>(amax);
  return std::bit_cast<float>((b + (1u << 21)) & 0xff800000u);
}

struct MxScale {
  uint8_t e8m0;  // stored byte
  float scale;   // 2^(e8m0 - 127) as the model dtype holds it
};

// MX block scale: e = 127 + log2(p2) - offset, offset = floor(log2(elem max)) = 2 (FP4), 8 (FP8).
inline MxScale mx_scale(float amax, DType md, int elem_bits) {
  const int offset = elem_bits == 4 ? 2 : 8;
  const float p2 = mx_round_pow2(amax, md);  // 0, inf or a power of two
  const uint32_t pb = std::bit_cast<uint32_t>(p2);
  const int exp_field = int((pb >> 23) & 0xff);  // p2 is a normal f32 (or 0 / inf)
  int e = p2 > 0.0f ? exp_field - offset : 0;
  if (std::isinf(p2)) e = 255;
  e = std::clamp(e, 0, 255);
  // 2^(e-127) in the model dtype: exact in bf16/f32 (their range reaches 2^-133 / 2^-149);
  // fp16 may underflow to 0, which compressed-tensors then replaces by 1 (uint8 eps).
  float s = md == DType::F16 ? round_to_dtype(std::ldexp(1.0f, e - 127), md) : e8m0_decode(uint8_t(std::min(e, 254)));
  if (e == 255) s = INFINITY;
  if (s == 0.0f) s = 1.0f;
  return {s == 1.0f && e != 127 ? uint8_t(127) : uint8_t(std::min(e, 254)), s};
}

// NVFP4 global scale (a divisor): 448 * 6 / amax in the model dtype, as float32. PyTorch
// evaluates `scalar / tensor` as reciprocal(tensor) * scalar, two roundings, so we do too.
inline float nvfp4_global_scale(float amax, DType md) {
  const float tiny = md == DType::BF16 ? 0x1p-126f : md == DType::F16 ? 0x1p-14f : 0x1p-126f;
  float g = round_to_dtype(round_to_dtype(1.0f / std::max(amax, tiny), md) * 2688.0f, md);
  return std::isfinite(g) ? g : 1.0f;
}

struct Nvfp4Scale {
  uint8_t fp8;  // stored E4M3 code
  float value;  // its value
};

// NVFP4 block scale: fp8(global * (amax_block / 6)), zero -> 0.125.
inline Nvfp4Scale nvfp4_block_scale(float amax_block, float global, DType md) {
  float local = round_to_dtype(amax_block / 6.0f, md);
  float s = std::clamp(global * local, -448.0f, 448.0f);
  uint8_t code = fp8_e4m3_encode(s);
  float v = fp8_e4m3_decode(code);
  if (v == 0.0f) {
    code = fp8_e4m3_encode(0.125f);
    v = 0.125f;
  }
  return {code, v};
}

}  // namespace lowbit::quant
