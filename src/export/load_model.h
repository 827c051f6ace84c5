// A model ready to run: a checkpoint folder or a GGUF model file, its architecture, weights
// and the forward pass, held together because each points into the one before; and its
// tokenizer and special-token rules, from the folder's files or built from the GGUF metadata.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "engine/transformer.h"
#include "engine/weight_source.h"
#include "export/gguf_model.h"
#include "io/gguf.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::exporter {

struct LoadedModel {
  std::unique_ptr<io::ModelDir> dir;     // a folder; null for a GGUF file
  std::unique_ptr<io::GgufFile> gguf;    // a GGUF file; null for a folder
  std::optional<GgufHfModel> gguf_model; // its config and tokenizer, rebuilt from the metadata
  model::Architecture arch;
  std::unique_ptr<engine::WeightSource> weights;
  std::unique_ptr<engine::Transformer> net;

  // The folder's tokenizer.json exists (a GGUF file always carries its tokenizer).
  bool has_tokenizer() const;
  tokenizer::Tokenizer tokenizer() const;  // UserError when there is none
  tokenizer::TokenFiles token_files() const;
  std::string path() const;
};

// Opens a model folder (dense or compressed-tensors) or a .gguf model file (llama, qwen2,
// qwen3; every ggml type lowbit decodes); UserError for anything it cannot run.
std::unique_ptr<LoadedModel> load_model(const std::filesystem::path& path,
                                        engine::Residency residency = engine::Residency::AllLayers);

}  // namespace lowbit::exporter
