#include "export/load_model.h"

#include "core/error.h"
#include "export/checkpoint_weights.h"

namespace lowbit::exporter {

bool LoadedModel::has_tokenizer() const {
  return gguf_model.has_value() || (dir && std::filesystem::exists(dir->path() / "tokenizer.json"));
}

tokenizer::Tokenizer LoadedModel::tokenizer() const {
  if (gguf_model) {
    std::string text;
    try {
      text = gguf_model->tokenizer.dump();
    } catch (const nlohmann::json::exception& e) {  // a token that is not UTF-8
      throw UserError(path() + ": its tokenizer is not valid UTF-8 (" + e.what() + ")");
    }
    return tokenizer::Tokenizer::from_json_text(text, path() + " (its tokenizer)");
  }
  return tokenizer::Tokenizer::from_file(dir->path() / "tokenizer.json");
}

tokenizer::TokenFiles LoadedModel::token_files() const {
  if (gguf_model) return {gguf_model->tokenizer_config, gguf_model->config, gguf_model->generation_config};
  return tokenizer::TokenFiles::from_dir(dir->path());
}

std::string LoadedModel::path() const { return gguf ? gguf->path().string() : dir->path().string(); }

std::unique_ptr<LoadedModel> load_model(const std::filesystem::path& path, engine::Residency residency) {
  auto l = std::make_unique<LoadedModel>();
  if (std::filesystem::is_regular_file(path)) {  // a folder is a checkpoint, a file a GGUF
    l->gguf = std::make_unique<io::GgufFile>(path);
    l->gguf_model = gguf_hf_model(*l->gguf, "float32");
    l->arch = model::architecture_from_config(l->gguf_model->config, path.string() + " (config from its metadata)");
    l->weights = std::make_unique<GgufWeights>(*l->gguf, l->gguf_model->gguf_arch, l->arch);
  } else {
    l->dir = std::make_unique<io::ModelDir>(path);
    l->arch = model::architecture_from_config(l->dir->config(), (l->dir->path() / "config.json").string());
    l->weights = std::make_unique<CheckpointWeights>(*l->dir, l->arch);
  }
  l->net = std::make_unique<engine::Transformer>(l->arch, *l->weights, residency);
  return l;
}

}  // namespace lowbit::exporter
