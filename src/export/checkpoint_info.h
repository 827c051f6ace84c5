// Reading a checkpoint back: what is quantized and how, sizes and bits per
// weight (for `lowbit inspect`), and our own decompressor (for `lowbit dequantize`).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_dir.h"
#include "model/architecture.h"
#include "quant/plan.h"

namespace lowbit::exporter {

struct LinearInfo {
  std::string path;
  std::string scheme;  // "int4 sym group 128" or the dense dtype, e.g. "BF16"
  std::string group;   // config group name, empty if dense
  int64_t weights = 0;  // N*K
  uint64_t bytes = 0;   // on disk: packed weight + scales + zero points + shape
};

struct CheckpointInfo {
  std::string architecture;
  int64_t layers = 0, hidden = 0, vocab = 0;
  bool tied_embeddings = false;
  int64_t parameters = 0;  // dense-equivalent count
  std::map<std::string, uint64_t> dtype_bytes;  // tensor bytes by stored dtype
  uint64_t tensor_bytes = 0, file_bytes = 0;
  int shards = 0;
  std::string format;  // "dense" or the compressed-tensors format
  nlohmann::json quantization_config;  // null when dense
  std::vector<LinearInfo> linears;
  double linear_bits_per_weight = 0;  // over all Linear weights (incl. scales/zero points)
  double bits_per_parameter = 0;      // whole checkpoint
};

// A compressed-tensors quantization_config -> recipe (groups + expanded ignore).
quant::Recipe recipe_from_quantization_config(const nlohmann::json& qc, const std::string& label);

CheckpointInfo inspect_checkpoint(const io::ModelDir& dir);
nlohmann::json to_json(const CheckpointInfo& info);
std::string to_text(const CheckpointInfo& info);

}  // namespace lowbit::exporter
