#include "io/model_dir.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "io/file_util.h"

namespace lowbit::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
json read_json(const fs::path& p) {
  std::string text = read_text_file(p);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw UserError(p.string() + ": not valid JSON: " + e.what());
  }
}
}  // namespace

ModelDir::ModelDir(const fs::path& dir) : dir_(dir) {
  if (!fs::is_directory(dir)) throw UserError(dir.string() + ": not a directory");
  fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg)) throw UserError(cfg.string() + ": missing (not a Hugging Face model folder?)");
  config_ = read_json(cfg);
  if (!config_.is_object()) throw UserError(cfg.string() + ": not a JSON object");

  fs::path single = dir / "model.safetensors";
  fs::path index = dir / "model.safetensors.index.json";
  std::vector<std::string> shard_files;
  json weight_map;
  if (fs::exists(index)) {
    json idx = read_json(index);
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      throw UserError(index.string() + ": no weight_map object");
    weight_map = idx["weight_map"];
    std::set<std::string> seen;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it.value().is_string()) throw UserError(index.string() + ": weight_map." + it.key() + " is not a string");
      std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f == ".." || f.empty())
        throw UserError(index.string() + ": weight_map." + it.key() + " names an invalid shard path " + f);
      if (seen.insert(f).second) shard_files.push_back(f);
    }
    std::sort(shard_files.begin(), shard_files.end());
    for (const auto& f : shard_files)
      if (!fs::exists(dir / f))
        throw UserError(index.string() + ": names shard " + f + ", which is missing from " + dir.string());
  } else if (fs::exists(single)) {
    shard_files.push_back("model.safetensors");
  } else {
    throw UserError(dir.string() + ": no model.safetensors or model.safetensors.index.json");
  }

  for (const auto& f : shard_files) {
    shards_.push_back(std::make_unique<SafetensorsFile>(dir / f));
    const SafetensorsFile* sf = shards_.back().get();
    for (const auto& t : sf->tensors()) {
      if (refs_.count(t.name))
        throw UserError(f + ": tensor " + t.name + " also appears in another shard");
      refs_[t.name] = TensorRef{sf, &t};
    }
  }
  // Keep a stable, file-ordered listing (header order is sorted by name already).
  for (const auto& sf : shards_)
    for (const auto& t : sf->tensors()) names_.push_back(t.name);

  if (!weight_map.is_null()) {
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      auto r = refs_.find(it.key());
      if (r == refs_.end() || r->second.file->path().filename() != it.value().get<std::string>())
        throw UserError(index.string() + ": tensor " + it.key() + " is not in shard " +
                        it.value().get<std::string>());
    }
    for (const auto& n : names_)
      if (!weight_map.contains(n))
        throw UserError(index.string() + ": tensor " + n + " is in a shard but not in weight_map");
  }
}

const TensorRef* ModelDir::find(const std::string& name) const {
  auto it = refs_.find(name);
  return it == refs_.end() ? nullptr : &it->second;
}

const TensorRef& ModelDir::at(const std::string& name) const {
  const TensorRef* r = find(name);
  if (!r) throw UserError(dir_.string() + ": tensor " + name + " not found in any shard");
  return *r;
}

uint64_t ModelDir::weight_bytes_on_disk() const {
  uint64_t n = 0;
  for (const auto& s : shards_) n += s->file_size();
  return n;
}

std::vector<fs::path> ModelDir::auxiliary_files() const {
  static const std::set<std::string> kNames = {
      "tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
      "vocab.json",       "merges.txt",            "tokenizer.model",         "generation_config.json",
      "chat_template.json", "chat_template.jinja", "preprocessor_config.json", "vocab.txt"};
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (!e.is_regular_file()) continue;
    if (kNames.count(e.path().filename().string())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace lowbit::io
