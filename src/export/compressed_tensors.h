// compressed-tensors output: the tensors a quantized Linear becomes (names, dtypes, shapes
// and packing from the scheme table, quant/schemes.h), reading them back, and the
// `quantization_config` block of config.json, exactly as llm-compressor writes them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_dir.h"
#include "io/safetensors.h"
#include "numerics/quantized_weight.h"
#include "quant/plan.h"

namespace lowbit::exporter {

// The compressed-tensors release whose on-disk format lowbit writes (config "version").
inline constexpr const char* kCompressedTensorsFormatVersion = "0.18.0";

struct OutTensor {
  io::TensorSpec spec;
  std::vector<uint8_t> bytes;
};

// Tensor names, dtypes and shapes for module `m` (sizes only, to plan shards).
std::vector<io::TensorSpec> quantized_specs(const std::string& m, const quant::QuantScheme& scheme, int64_t n,
                                            int64_t k, DType model_dtype);
std::vector<OutTensor> quantized_tensors(const std::string& m, const quant::QuantScheme& scheme,
                                         const QuantizedWeight& q);

// The layout of module `m` in a checkpoint, every tensor's name, dtype and shape checked
// against what its scheme writes (UserError naming the tensor otherwise); reads no codes.
QuantLayout read_quantized_layout(const io::ModelDir& dir, const std::string& m, const quant::QuantScheme& scheme);
// Reads module `m` of a checkpoint back (validated as read_quantized_layout).
QuantizedWeight read_quantized(const io::ModelDir& dir, const std::string& m, const quant::QuantScheme& scheme);

// config.json's quantization_config for the groups the plan actually uses.
nlohmann::json quantization_config(const quant::Recipe& recipe, const quant::Plan& plan);

}  // namespace lowbit::exporter
