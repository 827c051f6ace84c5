// The one interface between the pipeline and an output format (compressed-tensors now, GGUF
// next). The pipeline plans every output tensor up front, hands over the tensors in that
// order, then the metadata; the writer owns everything about the files: the temporary
// folder, shards and their index, config, recipe, report, auxiliary files, and the final
// rename (before commit nothing is visible at the target; an abandoned writer leaves nothing).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "numerics/quantized_weight.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::exporter {

// One tensor of the output: a dense tensor, or a quantized Linear (scheme set).
struct PlannedTensor {
  std::string name;            // dense: the tensor name; quantized: the module path
  DType dtype = DType::BF16;   // dense: as stored; quantized: the model dtype of the source weight
  std::vector<int64_t> shape;  // dense: the tensor's; quantized: the weight's [out, in]
  const quant::QuantScheme* scheme = nullptr;
};

// Per quantized module: how far the dequantized weight is from the original.
struct ModuleError {
  std::string module;
  std::string group;
  double relative_error = 0;  // ||W - Q(W)|| / ||W||
  double snr_db = 0;          // 20 log10(||W|| / ||W - Q(W)||)
  std::string note;           // what the method had to say (a GPTQ fallback, raised damping), or ""
};

// Everything written beside the tensors.
struct CheckpointMetadata {
  nlohmann::json config;                  // the source model's config.json
  const quant::Recipe* recipe = nullptr;  // the recipe and plan quantization followed; null: a dense output
  const quant::Plan* plan = nullptr;
  bool untied_head = false;               // lm_head was tied to the embedding and now has its own tensor
  std::vector<ModuleError> errors;        // per quantized module
  std::string method = "rtn";             // how the weights were quantized: rtn, gptq
  nlohmann::json calibration;             // what calibrated them (file, sha256, samples, seq_len, seed); null: none
  std::vector<std::filesystem::path> auxiliary_files;  // tokenizer, generation and chat-template files
  // What the method decided while the tensors were written (AWQ's chosen scales per mapping),
  // asked for when the report is written: keys added to quantization_report.json. Empty: none.
  std::function<nlohmann::json()> method_report;
};

struct WriterOptions {
  std::filesystem::path output;
  bool overwrite = false;
  uint64_t max_shard_bytes = 5'000'000'000ull;
};

struct WriteResult {
  uint64_t bytes = 0;  // tensor bytes written
  int shards = 0;
};

class CheckpointWriter {
 public:
  virtual ~CheckpointWriter() = default;
  // In planned order, each tensor exactly once.
  virtual void write_dense(const std::string& name, const void* data, size_t nbytes) = 0;
  virtual void write_quantized(const std::string& module, const QuantizedWeight& q) = 0;
  // Writes the metadata and moves the output into place.
  virtual WriteResult commit(const CheckpointMetadata& meta) = 0;
};

}  // namespace lowbit::exporter
