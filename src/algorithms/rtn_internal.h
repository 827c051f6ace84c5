// Pieces shared by the int and float round-to-nearest kernels.
#pragma once
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

#include "algorithms/observer.h"
#include "algorithms/rtn.h"
#include "core/error.h"
#include "core/isa.h"
#include "numerics/half.h"

namespace lowbit::algorithms::detail {

// The first NaN/Inf index any thread found.
struct BadIndex {
  std::mutex mu;
  int64_t index = -1;
  void record(int64_t i) {
    std::lock_guard lk(mu);
    if (index < 0 || i < index) index = i;
  }
  bool any() const { return index >= 0; }
  void throw_if_any(const void* w, DType dt, int64_t cols, const std::string& name) const {
    if (index < 0) return;
    float v = load_as_f32(w, size_t(index), dt);
    throw UserError(name + ": " + (std::isnan(v) ? "NaN" : "Inf") + " at [" + std::to_string(index / cols) + ", " +
                    std::to_string(index % cols) + "]; refusing to quantize a corrupt weight");
  }
};

// min/max of n elements starting at `begin` (min <= 0 <= max, as compressed-tensors clamps);
// false (and the index recorded) on a non-finite value.
template <DType MD>
struct MinMax {
  LOWBIT_MEMBER_KERNEL(bool, run, (const void* w, int64_t begin, int64_t n, float* mn, float* mx),
                       (w, begin, n, mn, mx)) {
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;
    for (int64_t i = 0; i < n; ++i) {
      float x = load_as_f32(w, size_t(begin + i), MD);
      finite &= std::isfinite(x);
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    *mn = lo;
    *mx = hi;
    return finite;
  }
};

template <DType MD>
bool minmax(const void* w, int64_t begin, int64_t n, float* mn, float* mx, BadIndex& bad) {
  if (MinMax<MD>::run(w, begin, n, mn, mx)) return true;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(load_as_f32(w, size_t(begin + i), MD))) {
      bad.record(begin + i);
      break;
    }
  return false;
}

template <DType MD>
void minmax_all(const void* w, int64_t rows, int64_t cols, float* mn, float* mx, BadIndex& bad) {
  float tmin = 0, tmax = 0;
#pragma omp parallel for schedule(static) reduction(min : tmin) reduction(max : tmax)
  for (int64_t r = 0; r < rows; ++r) {
    float a, b;
    if (!minmax<MD>(w, r * cols, cols, &a, &b, bad)) continue;
    tmin = std::min(tmin, a);
    tmax = std::max(tmax, b);
  }
  *mn = tmin;
  *mx = tmax;
}

// An empty QuantizedWeight with codes, scales and zero points sized for the args.
QuantizedWeight shaped(const quant::QuantArgs& a, DType model_dtype, int64_t rows, int64_t cols);

// `ranges` (optional): per-slot [min, max] chosen by an observer instead of each slot's own.
QuantizedWeight quantize_int(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& a,
                             const std::string& name, const SlotRanges* ranges = nullptr);
QuantizedWeight quantize_int_reference(const void* w, DType dtype, int64_t rows, int64_t cols,
                                       const quant::QuantArgs& a);
QuantizedWeight quantize_float(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& a,
                               const std::string& name, std::optional<float> shared_amax);
QuantizedWeight quantize_float_reference(const void* w, DType dtype, int64_t rows, int64_t cols,
                                         const quant::QuantArgs& a, std::optional<float> shared_amax);

}  // namespace lowbit::algorithms::detail
