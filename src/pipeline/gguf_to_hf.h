// `lowbit convert IN.gguf -o DIR`: a GGUF model file (llama, qwen2, qwen3) back to a Hugging
// Face folder: every tensor dequantized to BF16 (or F16/F32), named and laid out as the
// checkpoint it came from, with config.json, tokenizer.json, tokenizer_config.json and
// generation_config.json rebuilt from the metadata (export/gguf_model). Written into a hidden
// sibling and renamed into place when complete.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/dtype.h"
#include "core/progress.h"

namespace lowbit::pipeline {

struct GgufToHfOptions {
  std::filesystem::path input, output;
  DType dtype = DType::BF16;  // BF16, F16 or F32
  bool overwrite = false;
  uint64_t max_shard_bytes = 5000000000ull;
  ProgressMode progress = ProgressMode::Auto;
};

struct GgufToHfSummary {
  std::string gguf_arch;
  size_t tensors = 0;
  uint64_t bytes = 0;
  int shards = 0;
  bool tied = false;
  double seconds = 0;
};

GgufToHfSummary gguf_to_hf(const GgufToHfOptions& opts);

}  // namespace lowbit::pipeline
