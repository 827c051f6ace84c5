// Scales, zero points and the quantize/dequantize of one value, with
// compressed-tensors' exact arithmetic: every intermediate is rounded to the
// model dtype (bf16 models compute in bf16), divisions stay divisions, and
// rounding is half-to-even. This makes our codes bit-identical to llm-compressor's.
#pragma once
#include <algorithm>
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

// compressed-tensors _dequantize: (q - zp) * scale, rounded to the scale dtype.
inline float dequantize_int(int q, float scale, int zp, DType md) {
  return round_to_dtype(float(q - zp) * scale, md);
}

}  // namespace lowbit::quant
