// GPTQ onto a ggml block type (GGUF's Q4_K, Q6_K, IQ4_XS, Q4_0, ...): each block's scales are
// the ones ggml's own search picks with the importance matrix, and the column sweep picks every
// level on its block's grid with GPTQ's error feedback. The search runs either on the original
// weight before the sweep (the blocks start as exactly what llama-quantize --imatrix writes), or
// inside the sweep on the error-fed weight when the sweep reaches the block, as GPTQ fits group
// scales. Without off-diagonal curvature both give ggml's k-quant blocks (each level the
// nearest, as ggml's final rounding picks it). A pure function of its arguments.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/gptq.h"
#include "core/dtype.h"
#include "core/ggml_types.h"

namespace lowbit::algorithms {

struct GgmlGptqResult {
  std::vector<uint8_t> blocks;  // rows * ggml_row_bytes(type, cols), rows in the weight's order
  double loss = 0;              // as GptqResult::loss
  double dampening_frac = 0;
  bool rtn_fallback = false;    // no damping worked: the search's blocks, no error feedback
  std::string note;
  double error_sq = 0, norm_sq = 0;  // sum (W - Q(W))^2 and sum W^2
};

enum class GgmlScales {
  Before,  // searched on the original weight, before the sweep
  During,  // searched on the error-fed weight, at the start of the sweep block that reaches it
};

// `w` is [rows, cols] in `dtype`; `hessian` [cols, cols] float32 (any positive scale);
// `importance` (length cols, or null) is what ggml's search weighs each input channel by (the
// imatrix, E[x^2]). UserError naming `name` for NaN/Inf weights, a type without per-block
// levels (F16, BF16, F32, MXFP4) or a row length that is not a whole number of its blocks.
GgmlGptqResult gptq_quantize_ggml(const void* w, DType dtype, int64_t rows, int64_t cols, GgmlType type,
                                  const float* hessian, const float* importance, const GptqOptions& opts,
                                  const std::string& name, GgmlScales scales = GgmlScales::During);

}  // namespace lowbit::algorithms
