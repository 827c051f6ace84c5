// Data-free quantization of a checkpoint (round-to-nearest): streams the input
// module by module, quantizes targeted Linear weights, copies every other tensor
// bit-exactly, and writes a compressed-tensors folder atomically.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/progress.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::pipeline {

struct QuantizeOptions {
  std::filesystem::path output;
  bool overwrite = false;
  uint64_t max_shard_bytes = 5'000'000'000ull;
  ProgressMode progress = ProgressMode::Auto;
};

// Per quantized module: how far the dequantized weight is from the original.
struct ModuleError {
  std::string module;
  std::string group;
  double relative_error = 0;  // ||W - Q(W)|| / ||W||
  double snr_db = 0;          // 20 log10(||W|| / ||W - Q(W)||)
};

struct QuantizeSummary {
  std::vector<ModuleError> errors;
  int quantized_modules = 0;
  int copied_tensors = 0;
  uint64_t input_bytes = 0;   // tensor bytes read
  uint64_t output_bytes = 0;  // tensor bytes written
  int shards = 0;
  double seconds = 0;
};

// Checks the checkpoint holds every tensor the architecture needs, with the right
// shapes and float dtypes. Throws UserError naming the file and tensor.
void validate_checkpoint(const io::ModelDir& in, const model::Architecture& arch);

// The end both pipelines share: config.json, tokenizer files, atomic rename, summary sizes.
void finish_checkpoint(const io::ModelDir& in, const std::filesystem::path& tmp_dir, const nlohmann::json& config,
                       uint64_t input_bytes, uint64_t output_bytes, int shards, double seconds, QuantizeSummary& sum);

QuantizeSummary quantize_checkpoint(const io::ModelDir& in, const model::Architecture& arch,
                                    const quant::Recipe& recipe, const quant::Plan& plan,
                                    const QuantizeOptions& opts);

}  // namespace lowbit::pipeline
