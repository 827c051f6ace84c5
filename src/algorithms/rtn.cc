#include "algorithms/rtn.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>

#include "core/error.h"

#include "core/target_clones.h"
#include "numerics/half.h"
#include "quant/qparams.h"

namespace lowbit::algorithms {

using quant::IntQParams;
using quant::QuantArgs;
using quant::Strategy;

float IntQuantized::scale_at(int64_t i) const { return load_as_f32(scales.data(), size_t(i), scale_dtype); }

namespace {

int64_t group_len(const QuantArgs& a, int64_t cols) {
  if (a.strategy == Strategy::Group) return *a.group_size;
  return cols;  // tensor and channel: one "group" spans the row
}

void shape_qparams(IntQuantized& q, const QuantArgs& a) {
  if (a.strategy == Strategy::Tensor) q.scale_rows = q.scale_cols = 1;
  else if (a.strategy == Strategy::Channel) q.scale_rows = q.rows, q.scale_cols = 1;
  else q.scale_rows = q.rows, q.scale_cols = q.cols / *a.group_size;
  q.scales.assign(size_t(q.scale_rows * q.scale_cols) * dtype_size(q.scale_dtype), 0);
  if (!a.symmetric) q.zero_points.assign(size_t(q.scale_rows * q.scale_cols), 0);
  q.codes.assign(size_t(q.rows * q.cols), 0);
}

void check_args(const QuantArgs& a, DType dtype, int64_t cols, const std::string& name) {
  if (dtype != DType::BF16 && dtype != DType::F16 && dtype != DType::F32)
    throw UserError(name + ": cannot quantize dtype " + std::string(dtype_name(dtype)) + " (BF16, F16 or F32)");
  if (a.strategy == Strategy::Group && cols % *a.group_size != 0)
    throw UserError(name + ": input size " + std::to_string(cols) + " is not divisible by group size " +
                    std::to_string(*a.group_size));
}

// The per-element kernels, one instantiation per model dtype so round_to_dtype
// folds to constants; cloned per ISA and picked at run time.
template <DType MD>
struct Kernels {
  static float load(const void* w, int64_t i) { return load_as_f32(w, size_t(i), MD); }

  // min/max of n elements; returns false on a non-finite value (index in *bad).
  LOWBIT_TARGET_CLONES
  static bool minmax(const void* w, int64_t begin, int64_t n, float* mn, float* mx, int64_t* bad) {
    float lo = 0.0f, hi = 0.0f;  // compressed-tensors clamps min <= 0 <= max anyway
    bool finite = true;
    for (int64_t i = 0; i < n; ++i) {
      float x = load(w, begin + i);
      finite &= std::isfinite(x);
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    if (!finite) {
      for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(load(w, begin + i))) {
          *bad = begin + i;
          break;
        }
      return false;
    }
    *mn = lo;
    *mx = hi;
    return true;
  }

  LOWBIT_TARGET_CLONES
  static void quantize(const void* w, int64_t begin, int64_t n, float scale, float zp, float qmin, float qmax,
                       int8_t* out) {
    for (int64_t i = 0; i < n; ++i) {
      float v = round_to_dtype(load(w, begin + i) / scale, MD);
      v = round_to_dtype(v + zp, MD);
      v = std::min(std::max(v, qmin), qmax);
      out[i] = int8_t(int(quant::round_half_even(v)));
    }
  }
};

template <DType MD>
IntQuantized quantize_impl(const void* w, int64_t rows, int64_t cols, const QuantArgs& a, const std::string& name) {
  IntQuantized q;
  q.rows = rows;
  q.cols = cols;
  q.scale_dtype = MD;
  shape_qparams(q, a);
  const int64_t g = group_len(a, cols), groups_per_row = cols / g;
  std::mutex err_mu;
  int64_t bad_index = -1;
  auto record_bad = [&](int64_t idx) {
    std::lock_guard lk(err_mu);
    if (bad_index < 0 || idx < bad_index) bad_index = idx;
  };

  float tmin = 0, tmax = 0;
  if (a.strategy == Strategy::Tensor) {
#pragma omp parallel for schedule(static) reduction(min : tmin) reduction(max : tmax)
    for (int64_t r = 0; r < rows; ++r) {
      float mn, mx;
      int64_t bad;
      if (!Kernels<MD>::minmax(w, r * cols, cols, &mn, &mx, &bad)) {
        record_bad(bad);
        continue;
      }
      tmin = std::min(tmin, mn);
      tmax = std::max(tmax, mx);
    }
  }
  const IntQParams tensor_p =
      a.strategy == Strategy::Tensor && bad_index < 0 ? quant::int_qparams(tmin, tmax, a, MD) : IntQParams{1, 0};
  const float qmin = float(a.qmin()), qmax = float(a.qmax());

  if (bad_index < 0) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t gi = 0; gi < groups_per_row; ++gi) {
        const int64_t begin = r * cols + gi * g;
        IntQParams p = tensor_p;
        if (a.strategy != Strategy::Tensor) {
          float mn, mx;
          int64_t bad;
          if (!Kernels<MD>::minmax(w, begin, g, &mn, &mx, &bad)) {
            record_bad(bad);
            break;
          }
          p = quant::int_qparams(mn, mx, a, MD);
          const int64_t si = r * groups_per_row + gi;
          store_from_f32(q.scales.data(), size_t(si), MD, p.scale);
          if (!a.symmetric) q.zero_points[size_t(si)] = int8_t(p.zero_point);
        }
        Kernels<MD>::quantize(w, begin, g, p.scale, float(p.zero_point), qmin, qmax, q.codes.data() + begin);
      }
    }
  }
  if (bad_index >= 0) {
    float v = load_as_f32(w, size_t(bad_index), MD);
    throw UserError(name + ": " + (std::isnan(v) ? "NaN" : "Inf") + " at [" + std::to_string(bad_index / cols) +
                    ", " + std::to_string(bad_index % cols) + "]; refusing to quantize a corrupt weight");
  }
  if (a.strategy == Strategy::Tensor) {
    store_from_f32(q.scales.data(), 0, MD, tensor_p.scale);
    if (!a.symmetric) q.zero_points[0] = int8_t(tensor_p.zero_point);
  }
  return q;
}

}  // namespace

IntQuantized rtn_quantize_int(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                              const std::string& name) {
  check_args(a, dtype, cols, name);
  switch (dtype) {
    case DType::BF16: return quantize_impl<DType::BF16>(w, rows, cols, a, name);
    case DType::F16: return quantize_impl<DType::F16>(w, rows, cols, a, name);
    default: return quantize_impl<DType::F32>(w, rows, cols, a, name);
  }
}

IntQuantized rtn_quantize_int_reference(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a) {
  check_args(a, dtype, cols, "reference");
  IntQuantized q;
  q.rows = rows;
  q.cols = cols;
  q.scale_dtype = dtype;
  shape_qparams(q, a);
  const int64_t g = group_len(a, cols);
  auto slot_of = [&](int64_t r, int64_t c) -> int64_t {
    if (a.strategy == Strategy::Tensor) return 0;
    if (a.strategy == Strategy::Channel) return r;
    return r * (cols / g) + c / g;
  };
  const int64_t nslots = q.scale_rows * q.scale_cols;
  std::vector<float> mn(size_t(nslots), std::numeric_limits<float>::infinity()), mx(size_t(nslots), -mn[0]);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float x = load_as_f32(w, size_t(r * cols + c), dtype);
      int64_t s = slot_of(r, c);
      mn[size_t(s)] = std::min(mn[size_t(s)], x);
      mx[size_t(s)] = std::max(mx[size_t(s)], x);
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
      q.codes[size_t(r * cols + c)] = int8_t(quant::quantize_int(x, ps[size_t(slot_of(r, c))], a, dtype));
    }
  return q;
}

void dequantize_int(const IntQuantized& q, const QuantArgs& a, void* out) {
  const int64_t gcols = q.scale_cols == 0 ? 1 : q.cols / q.scale_cols;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      int64_t s = q.scale_rows == 1 && q.scale_cols == 1 ? 0 : r * q.scale_cols + c / gcols;
      int zp = q.zero_points.empty() ? 0 : q.zero_points[size_t(s)];
      float v = quant::dequantize_int(q.codes[size_t(r * q.cols + c)], q.scale_at(s), zp, q.scale_dtype);
      store_from_f32(out, size_t(r * q.cols + c), q.scale_dtype, v);
    }
}

}  // namespace lowbit::algorithms
