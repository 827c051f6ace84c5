// Round-to-nearest: codes and scales (zero points, global scale) for one weight matrix in
// any scheme lowbit writes; a pure function of the weight and the args, bit-identical to
// compressed-tensors' own quantizer.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "numerics/quantized_weight.h"
#include "quant/quant_args.h"

namespace lowbit::algorithms {

// `w` is [rows, cols] in `dtype` (BF16, F16 or F32). Throws UserError naming `name` on
// NaN/Inf or a shape the scheme cannot take. `shared_amax` (NVFP4 only) is the absolute
// max over every member of a vLLM-fused group (q/k/v, gate/up), which share one global scale.
QuantizedWeight rtn_quantize(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& args,
                             const std::string& name, std::optional<float> shared_amax = std::nullopt);

// Round-to-nearest with the ranges the args' observer picks (observer.h: minmax, mse,
// imatrix_mse with `importance` = E[x^2] per input channel, or null for unweighted).
QuantizedWeight rtn_quantize_observed(const void* w, DType dtype, int64_t rows, int64_t cols,
                                      const quant::QuantArgs& args, const std::string& name,
                                      std::optional<float> shared_amax = std::nullopt,
                                      const float* importance = nullptr);

// Scalar reference (plain loops, generic format encoders) for tests.
QuantizedWeight rtn_quantize_reference(const void* w, DType dtype, int64_t rows, int64_t cols,
                                       const quant::QuantArgs& args, std::optional<float> shared_amax = std::nullopt);

}  // namespace lowbit::algorithms
