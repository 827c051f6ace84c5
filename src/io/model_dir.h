// A Hugging Face model folder: config.json plus model.safetensors, or sharded
// model-*.safetensors with model.safetensors.index.json. Shards are memory-mapped.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace lowbit::io {

struct TensorRef {
  const SafetensorsFile* file = nullptr;
  const TensorInfo* info = nullptr;
  const uint8_t* data() const { return file->data(*info); }
  void release() const { file->release(*info); }
};

class ModelDir {
 public:
  explicit ModelDir(const std::filesystem::path& dir);  // throws UserError

  const std::filesystem::path& path() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  // Every tensor in every shard, in shard order then file order.
  const std::vector<std::string>& tensor_names() const { return names_; }
  const TensorRef* find(const std::string& name) const;
  const TensorRef& at(const std::string& name) const;  // throws UserError if absent
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  uint64_t weight_bytes_on_disk() const;
  // Tokenizer, generation and chat-template files a checkpoint carries along.
  std::vector<std::filesystem::path> auxiliary_files() const;

 private:
  std::filesystem::path dir_;
  nlohmann::json config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, TensorRef> refs_;
};

}  // namespace lowbit::io
