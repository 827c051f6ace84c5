// The loaded tiny model the eval unit tests score with: 2 layers, a byte-level tokenizer (one
// token per byte), written under the test process's temporary folder.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "export/load_model.h"
#include "temp_path.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::fixtures {

struct LoadedTiny {
  std::unique_ptr<exporter::LoadedModel> m;
  std::unique_ptr<tokenizer::Tokenizer> tok;
};

// Writes the model to temp_path(name) and loads it with its tokenizer.
inline LoadedTiny load_tiny_model(const std::string& name, int64_t vocab) {
  TinyModelSpec s;
  s.hidden = 128, s.intermediate = 256, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.vocab = vocab;
  s.tokenizer = true;  // one token per byte
  const auto dir = temp_path(name);
  std::filesystem::remove_all(dir);
  write_tiny_model(dir, s);
  LoadedTiny r;
  r.m = exporter::load_model(dir);
  r.tok = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_file(dir / "tokenizer.json"));
  return r;
}

}  // namespace lowbit::fixtures
