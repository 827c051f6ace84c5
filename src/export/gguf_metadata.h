// The metadata of a GGUF file for a Hugging Face model folder, as llama.cpp's own converter
// (convert_hf_to_gguf.py) writes it and llama.cpp's loader reads it: the architecture keys
// from config.json (typed exactly: llama.cpp has no implicit widening), and the tokenizer
// (tokens, token types, merges, the pre-tokenizer id, special token ids, add-BOS/EOS flags,
// the chat template) from tokenizer.json and tokenizer_config.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/architecture.h"

namespace lowbit::exporter {

using GgufMetadata = std::vector<std::pair<std::string, io::GgufValue>>;

struct GgufMetadataOptions {
  uint32_t file_type = 1;  // general.file_type: the llama_ftype of the mix (e.g. 15 = Q4_K_M)
  std::string name;        // general.name; empty: the model folder's name
  // tokenizer.ggml.pre; empty: detected as the converter detects it (a hash of the ids of a
  // probe text), an error when the tokenizer is not one llama.cpp knows.
  std::string pre_tokenizer;
};

GgufMetadata gguf_metadata(const std::filesystem::path& model_dir, const model::Architecture& arch,
                           const nlohmann::json& config, const GgufMetadataOptions& options);

// The pre-tokenizer llama.cpp knows this tokenizer as, from the SHA-256 of the ids of the
// converter's probe text (ids as `tokenizer.encode(text)` gives them, special tokens added);
// empty when unknown. Exposed for tests.
std::string detect_pre_tokenizer(const std::filesystem::path& model_dir);

}  // namespace lowbit::exporter
