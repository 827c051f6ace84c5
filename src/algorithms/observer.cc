#include "algorithms/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "numerics/half.h"
#include "numerics/scan.h"
#include "quant/qparams.h"
#include "quant/schemes.h"

namespace lowbit::algorithms {

using quant::QuantArgs;
using quant::Strategy;

ObserverOptions ObserverOptions::from_args(const QuantArgs& a, const std::string& where) {
  ObserverOptions o;
  const std::string name = a.observer.value_or("memoryless_minmax");
  if (name == "minmax" || name == "memoryless_minmax" || name == "static_minmax") return o;
  if (name == "mse" || name == "memoryless_mse") {
    o.kind = Kind::Mse;  // llm-compressor's defaults for mse
  } else if (name == "imatrix_mse") {
    o.kind = Kind::IMatrixMse;
    o.maxshrink = 0.95, o.grid = 20, o.norm = 3.0, o.patience = 5;
  } else {
    throw UserError(where + ": observer '" + name + "' is not supported (minmax, mse, imatrix_mse)");
  }
  if (a.type != quant::QType::Int || (a.strategy != Strategy::Channel && a.strategy != Strategy::Group))
    throw UserError(where + ": observer " + name + " is implemented for int weights with strategy channel or group");
  const auto& kw = a.observer_kwargs;
  auto number = [&](const char* key, double& out, double lo, double hi) {
    if (!kw.contains(key)) return;
    if (!kw[key].is_number() || !(kw[key].get<double>() >= lo) || kw[key].get<double>() > hi)
      throw UserError(where + ": observer_kwargs." + key + " must be a number in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
    out = kw[key].get<double>();
  };
  double patience = o.patience;
  number("maxshrink", o.maxshrink, 0.0, 1.0);
  number("grid", o.grid, 1.0, 1e6);
  number("norm", o.norm, 1e-3, 100.0);
  number("patience", patience, 0.0, 1e6);
  o.patience = int(patience);
  for (auto it = kw.begin(); it != kw.end(); ++it)
    if (it.key() != "maxshrink" && it.key() != "grid" && it.key() != "norm" && it.key() != "patience" &&
        it.key() != "averaging_constant")
      throw UserError(where + ": observer_kwargs." + it.key() + " is not supported");
  return o;
}

namespace {

// Error of one slot under a candidate range, with compressed-tensors' arithmetic in the model
// dtype (as fake_quantize runs on the model-dtype weight), accumulated in double.
template <DType MD>
double slot_error(const void* w, int64_t begin, int64_t n, float mn, float mx, const QuantArgs& a, double norm,
                  const float* imp) {
  const quant::IntQParams p = quant::int_qparams(mn, mx, a, MD);
  double e = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = load_as_f32(w, size_t(begin + i), MD);
    const int q = quant::quantize_int(x, p, a, MD);
    const float d = std::fabs(round_to_dtype(float(q - p.zero_point) * p.scale, MD) - x);
    const double t = norm == 2.0 ? double(d) * d : norm == 3.0 ? double(d) * d * d : std::pow(double(d), norm);
    e += imp ? t * imp[i] : t;
  }
  return e;
}

template <DType MD>
SlotRanges search(const void* w, int64_t rows, int64_t cols, const QuantArgs& a, const ObserverOptions& o,
                  const std::vector<float>& importance) {
  const int64_t g = a.strategy == Strategy::Group ? *a.group_size : cols, per_row = cols / g, slots = rows * per_row;
  SlotRanges r{std::vector<float>(size_t(slots)), std::vector<float>(size_t(slots))};
  std::vector<float> lo(static_cast<size_t>(slots)), hi(static_cast<size_t>(slots));
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < slots; ++s) {
    float mn = std::numeric_limits<float>::infinity(), mx = -mn;
    const int64_t begin = (s / per_row) * cols + (s % per_row) * g;
    for (int64_t i = 0; i < g; ++i) {
      const float x = load_as_f32(w, size_t(begin + i), MD);
      mn = std::min(mn, x), mx = std::max(mx, x);
    }
    lo[size_t(s)] = r.min[size_t(s)] = mn;
    hi[size_t(s)] = r.max[size_t(s)] = mx;
  }
  if (o.kind == ObserverOptions::Kind::MinMax) return r;
  std::vector<double> best(static_cast<size_t>(slots), std::numeric_limits<double>::max()), err(static_cast<size_t>(slots));
  const float* imp = importance.empty() ? nullptr : importance.data();
  int stale = 0;
  for (int64_t i = 0; i < int64_t(o.maxshrink * o.grid); ++i) {
    const double p = 1.0 - double(i) / o.grid;
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < slots; ++s) {
      // The shrunk range as the model dtype holds it (min_vals * p on a model-dtype tensor).
      const float mn = round_to_dtype(float(p * lo[size_t(s)]), MD), mx = round_to_dtype(float(p * hi[size_t(s)]), MD);
      const int64_t begin = (s / per_row) * cols + (s % per_row) * g;
      err[size_t(s)] = slot_error<MD>(w, begin, g, mn, mx, a, o.norm, imp ? imp + (s % per_row) * g : nullptr);
    }
    bool improved = false;
    for (int64_t s = 0; s < slots; ++s)
      if (err[size_t(s)] < best[size_t(s)]) {
        best[size_t(s)] = err[size_t(s)];
        r.min[size_t(s)] = round_to_dtype(float(p * lo[size_t(s)]), MD);
        r.max[size_t(s)] = round_to_dtype(float(p * hi[size_t(s)]), MD);
        improved = true;
      }
    stale = improved ? 0 : stale + 1;
    if (o.patience > 0 && stale >= o.patience) break;  // patience 0: the whole grid
  }
  return r;
}

}  // namespace

SlotRanges observe_ranges(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                          const ObserverOptions& o, const float* importance) {
  if (a.type != quant::QType::Int || (a.strategy != Strategy::Channel && a.strategy != Strategy::Group))
    throw std::logic_error("observe_ranges: int channel/group weights only");
  const std::string problem = quant::shape_problem(a, rows, cols);
  if (!problem.empty()) throw UserError(problem);
  if (const int64_t bad = find_non_finite(w, uint64_t(rows * cols), dtype); bad >= 0)
    throw UserError("NaN or Inf at [" + std::to_string(bad / cols) + ", " + std::to_string(bad % cols) +
                    "]; refusing to quantize a corrupt weight");
  std::vector<float> imp;
  if (importance && o.kind == ObserverOptions::Kind::IMatrixMse) {  // normalised by its mean, as llm-compressor
    double mean = 0;
    for (int64_t c = 0; c < cols; ++c) mean += importance[c];
    mean /= double(cols);
    imp.resize(size_t(cols));
    for (int64_t c = 0; c < cols; ++c) imp[size_t(c)] = float(importance[c] / (mean + 1e-38));
  }
  switch (dtype) {
    case DType::BF16: return search<DType::BF16>(w, rows, cols, a, o, imp);
    case DType::F16: return search<DType::F16>(w, rows, cols, a, o, imp);
    default: return search<DType::F32>(w, rows, cols, a, o, imp);
  }
}

}  // namespace lowbit::algorithms
