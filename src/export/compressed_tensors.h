// compressed-tensors output: the tensors a quantized Linear becomes in each
// compression format, reading them back, and the `quantization_config` block of
// config.json, exactly as llm-compressor writes them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "algorithms/rtn.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "quant/plan.h"

namespace lowbit::exporter {

// The compressed-tensors release whose on-disk format lowbit writes (config "version").
inline constexpr const char* kCompressedTensorsFormatVersion = "0.18.0";

struct OutTensor {
  io::TensorSpec spec;
  std::vector<uint8_t> bytes;
};

// Tensor names, dtypes and shapes for module `m` (sizes only, to plan shards):
//   pack-quantized        P.weight_packed I32 [N, ceil(K*b/32)], P.weight_scale MD, P.weight_shape I64 [2],
//                         P.weight_zero_point I32 packed along N (asymmetric)
//   int-quantized         P.weight I8 [N, K], P.weight_scale MD (+ P.weight_zero_point I8 if asymmetric)
//   float-/naive-quantized P.weight F8_E4M3 [N, K], P.weight_scale MD ([1], [N,1] or [ceil(N/bh), ceil(K/bw)])
//   mxfp8-quantized       P.weight F8_E4M3 [N, K], P.weight_scale U8 [N, K/32]
//   mxfp4-pack-quantized  P.weight_packed U8 [N, K/2], P.weight_scale U8 [N, K/32]
//   nvfp4-pack-quantized  P.weight_packed U8 [N, K/2], P.weight_scale F8_E4M3 [N, K/16], P.weight_global_scale F32 [1]
std::vector<io::TensorSpec> quantized_specs(const std::string& m, const quant::QuantScheme& scheme, int64_t n,
                                            int64_t k, DType model_dtype);
std::vector<OutTensor> quantized_tensors(const std::string& m, const quant::QuantScheme& scheme,
                                         const algorithms::QuantizedWeight& q);

// Reads module `m` of a checkpoint back (validating names, dtypes and shapes).
algorithms::QuantizedWeight read_quantized(const io::ModelDir& dir, const std::string& m,
                                           const quant::QuantScheme& scheme);

// config.json's quantization_config for the groups the plan actually uses.
nlohmann::json quantization_config(const quant::Recipe& recipe, const quant::Plan& plan);

}  // namespace lowbit::exporter
