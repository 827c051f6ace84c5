// A compressed-tensors checkpoint (ours or anyone's) as the source of a GGUF file: its
// quantized Linears carried over as ggml blocks with their codes and scales unchanged where
// the two grids coincide (symmetric int4 in groups of 32 is Q4_0, symmetric int8 in groups of 32
// is Q8_0, when every scale is exact in FP16; asymmetric int4 is Q4_1 up to the FP16 rounding of
// each block's offset), so GPTQ's or AWQ's rounding survives; other modules are decoded exactly and quantized by the GGUF type's own algorithm.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/ggml_types.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "numerics/quantized_weight.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::pipeline {

struct CompressedSource {
  quant::Recipe recipe;
  std::map<std::string, quant::QuantScheme> scheme_of;  // quantized module path -> its scheme
  const quant::QuantScheme* find(const std::string& module) const;
};

// The checkpoint's quantized modules (from config.json's quantization_config), or nothing for a
// dense checkpoint. Every quantized module's tensors are checked against config.json's shapes.
std::optional<CompressedSource> compressed_source(const io::ModelDir& in, const model::Architecture& arch);

// `q` as `type`'s blocks (rows * ggml_row_bytes(type, cols) bytes into `out`), its codes and
// scales unchanged, when every scale is exact in FP16: Q4_0 and Q8_0 then decode exactly what
// compressed-tensors decompresses; Q4_1's offset m = -s (z + 8) can need one bit more than FP16
// has, and is rounded to the nearest where it does (counted in `rounded_offsets`). False (out
// untouched) when the layout or a scale does not fit.
bool ggml_blocks_from_codes(const QuantizedWeight& q, GgmlType type, uint8_t* out, int64_t* rounded_offsets);

}  // namespace lowbit::pipeline
