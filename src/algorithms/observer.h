// Observers: how the range [min, max] of each scale slot is chosen before quantization, as
// llm-compressor's weight observers choose it. `minmax` (the default) takes the slot's own
// min and max; `mse` searches shrunk ranges p * [min, max], p = 1 - i/grid, for the one whose
// quantize-dequantize error sum |Q(w) - w|^norm is smallest; `imatrix_mse` weights that error
// by each input channel's mean squared activation (E[x^2], from calibration). The search
// stops when no slot improved for `patience` candidates in a row (shared across the weight).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/quant_args.h"

namespace lowbit::algorithms {

struct ObserverOptions {
  enum class Kind { MinMax, Mse, IMatrixMse } kind = Kind::MinMax;
  double maxshrink = 0.2, grid = 100, norm = 2.4;
  int patience = 5;
  // The observer QuantArgs name (observer + observer_kwargs, llm-compressor's defaults per kind).
  // UserError for observers lowbit does not implement or kwargs out of range.
  static ObserverOptions from_args(const quant::QuantArgs& args, const std::string& where);
  bool needs_activations() const { return kind == Kind::IMatrixMse; }
};

// Per scale slot, the range quantization uses (slot order as QuantLayout::slot_of).
struct SlotRanges {
  std::vector<float> min, max;
};

// The ranges the observer picks for a [rows, cols] weight in `dtype` under int `args`
// (strategies channel and group; minmax also tensor). `importance` is E[x^2] per input
// channel (cols values) for imatrix_mse, or null (then the error is unweighted).
SlotRanges observe_ranges(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& args,
                          const ObserverOptions& opts, const float* importance);

}  // namespace lowbit::algorithms
