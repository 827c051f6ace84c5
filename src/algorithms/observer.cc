#include "algorithms/observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/isa.h"
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

enum class Norm { Two, Three, Any };

// Errors of one slot's values `x` (n of them, as float) under every candidate range
// [mins[k], maxs[k]], k < steps, into out[k]: compressed-tensors' quantize-dequantize in the model
// dtype (as fake_quantize runs on the model-dtype weight), |Q(x) - x|^norm, times the channel's
// importance, summed in double. The slot's values stay in cache across the candidates.
template <DType MD, Norm N, bool kWeighted>
struct SlotErrors {
  LOWBIT_MEMBER_KERNEL(void, run,
                       (const float* x, int64_t n, const float* imp, const float* mins, const float* maxs, int steps,
                        const QuantArgs* a, double norm, double* out),
                       (x, n, imp, mins, maxs, steps, a, norm, out)) {
    const float qmin = float(a->qmin()), qmax = float(a->qmax());
    for (int k = 0; k < steps; ++k) {
      const quant::IntQParams p = quant::int_qparams(mins[k], maxs[k], *a, MD);
      const float s = p.scale, zp = float(p.zero_point);
      double e = 0;
#pragma omp simd reduction(+ : e)
      for (int64_t i = 0; i < n; ++i) {
        float v = round_to_dtype(round_to_dtype(x[i] / s, MD) + zp, MD);  // + 0 when symmetric: exact
        v = std::min(std::max(v, qmin), qmax);
        const float q = quant::round_half_even(v);
        const float d = std::fabs(round_to_dtype((q - zp) * s, MD) - x[i]);
        double t = N == Norm::Two ? double(d) * d : N == Norm::Three ? double(d) * d * d : std::pow(double(d), norm);
        if (kWeighted) t *= imp[i];
        e += t;
      }
      out[k] = e;
    }
  }
};

template <DType MD, Norm N>
void slot_errors(const float* x, int64_t n, const float* imp, const float* mins, const float* maxs, int steps,
                 const QuantArgs& a, double norm, double* out) {
  if (imp) SlotErrors<MD, N, true>::run(x, n, imp, mins, maxs, steps, &a, norm, out);
  else SlotErrors<MD, N, false>::run(x, n, imp, mins, maxs, steps, &a, norm, out);
}

template <DType MD>
SlotRanges search(const void* w, int64_t rows, int64_t cols, const QuantArgs& a, const ObserverOptions& o,
                  const std::vector<float>& importance) {
  const int64_t g = a.strategy == Strategy::Group ? *a.group_size : cols, per_row = cols / g, slots = rows * per_row;
  SlotRanges r{std::vector<float>(static_cast<size_t>(slots)), std::vector<float>(static_cast<size_t>(slots))};
  const int steps = o.kind == ObserverOptions::Kind::MinMax ? 0 : int(o.maxshrink * o.grid);
  // Every candidate of every slot first (errors [slot][step]), then the search's order and
  // patience over them: the same choice as evaluating candidate by candidate.
  std::vector<double> err(static_cast<size_t>(slots) * size_t(steps));
  std::vector<float> cand_min(err.size()), cand_max(err.size());
  const float* imp_all = importance.empty() ? nullptr : importance.data();
  const Norm nk = o.norm == 2.0 ? Norm::Two : o.norm == 3.0 ? Norm::Three : Norm::Any;
#pragma omp parallel
  {
    std::vector<float> x(static_cast<size_t>(g));
#pragma omp for schedule(static)
    for (int64_t s = 0; s < slots; ++s) {
      const int64_t begin = (s / per_row) * cols + (s % per_row) * g;
      float mn = std::numeric_limits<float>::infinity(), mx = -mn;
      for (int64_t i = 0; i < g; ++i) {
        x[size_t(i)] = load_as_f32(w, size_t(begin + i), MD);
        mn = std::min(mn, x[size_t(i)]), mx = std::max(mx, x[size_t(i)]);
      }
      r.min[size_t(s)] = mn, r.max[size_t(s)] = mx;
      if (!steps) continue;
      float* cmin = cand_min.data() + s * steps;
      float* cmax = cand_max.data() + s * steps;
      for (int k = 0; k < steps; ++k) {
        // The shrunk range as the model dtype holds it (min_vals * p on a model-dtype tensor).
        const double p = 1.0 - double(k) / o.grid;
        cmin[k] = round_to_dtype(float(p * mn), MD), cmax[k] = round_to_dtype(float(p * mx), MD);
      }
      const float* imp = imp_all ? imp_all + (s % per_row) * g : nullptr;
      double* e = err.data() + s * steps;
      switch (nk) {
        case Norm::Two: slot_errors<MD, Norm::Two>(x.data(), g, imp, cmin, cmax, steps, a, o.norm, e); break;
        case Norm::Three: slot_errors<MD, Norm::Three>(x.data(), g, imp, cmin, cmax, steps, a, o.norm, e); break;
        default: slot_errors<MD, Norm::Any>(x.data(), g, imp, cmin, cmax, steps, a, o.norm, e); break;
      }
    }
  }
  std::vector<double> best(static_cast<size_t>(slots), std::numeric_limits<double>::max());
  int stale = 0;
  for (int k = 0; k < steps; ++k) {
    bool improved = false;
    for (int64_t s = 0; s < slots; ++s) {
      const size_t at = size_t(s * steps + k);
      if (err[at] < best[size_t(s)]) {
        best[size_t(s)] = err[at];
        r.min[size_t(s)] = cand_min[at], r.max[size_t(s)] = cand_max[at];
        improved = true;
      }
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
