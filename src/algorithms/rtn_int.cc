// Integer round-to-nearest (W4A16, W4A16_ASYM, W8A16, W8A8, ...).
#include <cmath>
#include <limits>
#include <mutex>

#include "algorithms/rtn.h"
#include "algorithms/rtn_internal.h"
#include "core/error.h"
#include "core/isa.h"
#include "numerics/half.h"
#include "quant/qparams.h"

namespace lowbit::algorithms {

using quant::IntQParams;
using quant::QuantArgs;
using quant::Strategy;

namespace {

template <DType MD>
struct IntKernel {
  // Quantizes n weights and accumulates the squared error of their dequantized values.
  LOWBIT_MEMBER_KERNEL(void, quantize,
                       (const void* w, int64_t begin, int64_t n, float scale, float zp, float qmin, float qmax,
                        int8_t* out, double* err_sq, double* norm_sq),
                       (w, begin, n, scale, zp, qmin, qmax, out, err_sq, norm_sq)) {
    float e = 0, nn = 0;
#pragma omp simd reduction(+ : e, nn)
    for (int64_t i = 0; i < n; ++i) {
      const float x = load_as_f32(w, size_t(begin + i), MD);
      float v = round_to_dtype(x / scale, MD);
      v = round_to_dtype(v + zp, MD);
      v = std::min(std::max(v, qmin), qmax);
      const float r = quant::round_half_even(v);
      out[i] = int8_t(int(r));
      const float d = x - round_to_dtype((r - zp) * scale, MD);
      e += d * d;
      nn += x * x;
    }
    *err_sq += e;
    *norm_sq += nn;
  }
};

template <DType MD>
QuantizedWeight quantize_int_impl(const void* w, int64_t rows, int64_t cols, const QuantArgs& a,
                                  const std::string& name, const SlotRanges* ranges) {
  QuantizedWeight q = detail::shaped(a, MD, rows, cols);
  const int64_t g = q.block_cols, groups_per_row = cols / g;
  detail::BadIndex bad;
  float tmin = 0, tmax = 0;
  if (a.strategy == Strategy::Tensor) detail::minmax_all<MD>(w, rows, cols, &tmin, &tmax, bad);
  const IntQParams tensor_p = a.strategy == Strategy::Tensor && !bad.any() ? quant::int_qparams(tmin, tmax, a, MD)
                                                                          : IntQParams{1, 0};
  const float qmin = float(a.qmin()), qmax = float(a.qmax());
  double err_sq = 0, norm_sq = 0;
  if (!bad.any()) {
#pragma omp parallel for schedule(static) reduction(+ : err_sq, norm_sq)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t gi = 0; gi < groups_per_row; ++gi) {
        const int64_t begin = r * cols + gi * g;
        IntQParams p = tensor_p;
        if (a.strategy != Strategy::Tensor) {
          float mn, mx;
          if (!detail::minmax<MD>(w, begin, g, &mn, &mx, bad)) break;
          const int64_t si = r * groups_per_row + gi;
          if (ranges) mn = ranges->min[size_t(si)], mx = ranges->max[size_t(si)];  // the observer's choice
          p = quant::int_qparams(mn, mx, a, MD);
          store_from_f32(q.scales.data(), size_t(si), MD, p.scale);
          if (!a.symmetric) q.zero_points[size_t(si)] = int8_t(p.zero_point);
        }
        IntKernel<MD>::quantize(w, begin, g, p.scale, float(p.zero_point), qmin, qmax, q.codes.data() + begin,
                                &err_sq, &norm_sq);
      }
    }
  }
  bad.throw_if_any(w, MD, cols, name);
  q.error_sq = err_sq;
  q.norm_sq = norm_sq;
  if (a.strategy == Strategy::Tensor) {
    store_from_f32(q.scales.data(), 0, MD, tensor_p.scale);
    if (!a.symmetric) q.zero_points[0] = int8_t(tensor_p.zero_point);
  }
  return q;
}

}  // namespace

namespace detail {

QuantizedWeight quantize_int(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                             const std::string& name, const SlotRanges* ranges) {
  switch (dtype) {
    case DType::BF16: return quantize_int_impl<DType::BF16>(w, rows, cols, a, name, ranges);
    case DType::F16: return quantize_int_impl<DType::F16>(w, rows, cols, a, name, ranges);
    default: return quantize_int_impl<DType::F32>(w, rows, cols, a, name, ranges);
  }
}

QuantizedWeight quantize_int_reference(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a) {
  QuantizedWeight q = shaped(a, dtype, rows, cols);
  const int64_t nslots = q.scale_rows * q.scale_cols;
  std::vector<float> mn(size_t(nslots), std::numeric_limits<float>::infinity()), mx(size_t(nslots), -mn[0]);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float x = load_as_f32(w, size_t(r * cols + c), dtype);
      size_t s = size_t(q.slot_of(r, c));
      mn[s] = std::min(mn[s], x);
      mx[s] = std::max(mx[s], x);
    }
  std::vector<IntQParams> ps;
  for (int64_t s = 0; s < nslots; ++s) {
    ps.push_back(quant::int_qparams(mn[size_t(s)], mx[size_t(s)], a, dtype));
    store_from_f32(q.scales.data(), size_t(s), dtype, ps.back().scale);
    if (!a.symmetric) q.zero_points[size_t(s)] = int8_t(ps.back().zero_point);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float x = load_as_f32(w, size_t(r * cols + c), dtype);
      q.codes[size_t(r * cols + c)] = int8_t(quant::quantize_int(x, ps[size_t(q.slot_of(r, c))], a, dtype));
    }
  return q;
}

}  // namespace detail
}  // namespace lowbit::algorithms
