// compressed-tensors output: the tensors a quantized Linear becomes, and the
// `quantization_config` block of config.json, exactly as llm-compressor writes them.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "algorithms/rtn.h"
#include "io/safetensors.h"
#include "quant/plan.h"

namespace lowbit::exporter {

// The compressed-tensors release whose on-disk format lowbit writes (config "version").
inline constexpr const char* kCompressedTensorsFormatVersion = "0.18.0";

struct OutTensor {
  io::TensorSpec spec;
  std::vector<uint8_t> bytes;
};

// pack-quantized: P.weight_packed (I32), P.weight_scale (model dtype), P.weight_shape
// (I64 [2]), and P.weight_zero_point (I32 packed along dim 0; I8 [1] for tensor strategy)
// when asymmetric. Specs only (sizes), for planning shards before quantizing.
std::vector<io::TensorSpec> pack_quantized_specs(const std::string& module, const quant::QuantArgs& args,
                                                 int64_t out_features, int64_t in_features, DType model_dtype);
std::vector<OutTensor> pack_quantized_tensors(const std::string& module, const quant::QuantArgs& args,
                                              const algorithms::IntQuantized& q);

// Reads them back (our own decompressor): codes, scales and zero points.
algorithms::IntQuantized unpack_quantized(const io::TensorSpec& packed_spec, const uint8_t* packed,
                                          const io::TensorInfo& scale, const uint8_t* scale_data,
                                          const io::TensorInfo* zp, const uint8_t* zp_data,
                                          const quant::QuantArgs& args);

// config.json's quantization_config for the groups the plan actually uses.
nlohmann::json quantization_config(const quant::Recipe& recipe, const quant::Plan& plan);

}  // namespace lowbit::exporter
