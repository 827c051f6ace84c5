#include "algorithms/rtn.h"

#include "algorithms/observer.h"
#include "algorithms/rtn_internal.h"
#include "core/error.h"
#include "quant/schemes.h"

namespace lowbit::algorithms {

using quant::QType;
using quant::QuantArgs;

namespace detail {
QuantizedWeight shaped(const QuantArgs& a, DType md, int64_t rows, int64_t cols) {
  return QuantizedWeight(quant::resolve_layout(a, md, rows, cols));
}
}  // namespace detail

namespace {
void check_input(const QuantArgs& a, DType dtype, int64_t rows, int64_t cols, const std::string& name) {
  if (dtype != DType::BF16 && dtype != DType::F16 && dtype != DType::F32)
    throw UserError(name + ": cannot quantize dtype " + std::string(dtype_name(dtype)) + " (BF16, F16 or F32)");
  std::string p = quant::shape_problem(a, rows, cols);
  if (!p.empty()) throw UserError(name + ": " + p);
}
}  // namespace

QuantizedWeight rtn_quantize(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                             const std::string& name, std::optional<float> shared_amax) {
  check_input(a, dtype, rows, cols, name);
  if (a.type == QType::Int) return detail::quantize_int(w, dtype, rows, cols, a, name);
  return detail::quantize_float(w, dtype, rows, cols, a, name, shared_amax);
}

QuantizedWeight rtn_quantize_observed(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                                      const std::string& name, std::optional<float> shared_amax,
                                      const float* importance) {
  const ObserverOptions o = ObserverOptions::from_args(a, name);
  if (o.kind == ObserverOptions::Kind::MinMax) return rtn_quantize(w, dtype, rows, cols, a, name, shared_amax);
  check_input(a, dtype, rows, cols, name);
  SlotRanges ranges;
  try {
    ranges = observe_ranges(w, dtype, rows, cols, a, o, importance);
  } catch (const UserError& e) {
    throw UserError(name + ": " + e.what());
  }
  return detail::quantize_int(w, dtype, rows, cols, a, name, &ranges);
}

QuantizedWeight rtn_quantize_reference(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                                       std::optional<float> shared_amax) {
  check_input(a, dtype, rows, cols, "reference");
  if (a.type == QType::Int) return detail::quantize_int_reference(w, dtype, rows, cols, a);
  return detail::quantize_float_reference(w, dtype, rows, cols, a, shared_amax);
}

}  // namespace lowbit::algorithms
