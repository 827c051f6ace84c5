// GPTQ (Frantar et al. 2022) as llm-compressor's GPTQModifier runs it: the scales and zero
// points are the observer's, fixed before the sweep from the original weight (here:
// round-to-nearest's, bit-identical to compressed-tensors'); columns are quantized in
// blocks of `block_size` with the error fed forward through the upper Cholesky factor of
// the damped inverse Hessian; actorder "static" sweeps columns by descending diag(H) while
// groups keep their original columns (no g_idx: "group" was removed upstream). A pure function of the weight, the Hessian
// and the args.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "numerics/quantized_weight.h"
#include "quant/quant_args.h"

namespace lowbit::algorithms {

struct GptqOptions {
  int block_size = 128;         // columns per lazy batch update
  double dampening_frac = 0.01;  // lambda = frac * mean(diag(H)) added to the diagonal
  enum class ActOrder { None, Static } actorder = ActOrder::Static;  // "static" = "weight"
};

struct GptqResult {
  QuantizedWeight weight;
  double loss = 0;             // sum over weights of (w - q)^2 / d^2 / 2, as llm-compressor logs it
  double dampening_frac = 0;   // the fraction that made H + lambda I positive definite
  bool rtn_fallback = false;   // no damping worked: round-to-nearest codes, no error feedback
  std::string note;            // what happened, for warnings and the report ("" if nothing to say)
};

// The actorder a QuantArgs asks for: null -> None, "static"/"weight" -> Static; "group"/"dynamic"
// (groups in permuted order with weight_g_idx) is a UserError: compressed-tensors removed it
// (quant::actorder_group_removed).
GptqOptions::ActOrder gptq_actorder(const quant::QuantArgs& args, const std::string& where);

// `w` is [rows, cols] in `dtype`; `hessian` is [cols, cols] float32, row-major, symmetric:
// sum of x x^T over the calibration tokens of this Linear's input (any positive scale).
// Throws UserError naming `name` for NaN/Inf weights or shapes the scheme cannot take.
// `shared_amax` as for rtn_quantize (NVFP4 fused groups).
GptqResult gptq_quantize(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& args,
                         const float* hessian, const GptqOptions& opts, const std::string& name,
                         std::optional<float> shared_amax = std::nullopt);

}  // namespace lowbit::algorithms
