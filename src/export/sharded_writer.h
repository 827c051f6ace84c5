// Sharded safetensors output: tensors are planned in units that stay in one shard
// (a quantized module's packed weight, scales and shape), shards are cut at
// `max_shard_bytes`, and the index is written when there is more than one shard.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace lowbit::exporter {

class ShardedWriter {
 public:
  ShardedWriter(std::filesystem::path dir, uint64_t max_shard_bytes);
  ~ShardedWriter();
  void add_unit(std::vector<io::TensorSpec> specs);  // planning, before start()
  void start();
  void write(const std::string& name, const void* data, size_t nbytes);  // planned order
  void finish();  // closes the last shard; writes model.safetensors.index.json if sharded

  uint64_t total_bytes() const { return total_; }
  int num_shards() const { return int(shards_.size()); }
  std::vector<std::filesystem::path> shard_paths() const;

 private:
  std::string shard_name(size_t i) const;
  std::filesystem::path dir_;
  uint64_t max_bytes_;
  std::vector<std::vector<io::TensorSpec>> units_;
  std::vector<std::vector<io::TensorSpec>> shards_;
  size_t cur_shard_ = 0, cur_index_ = 0;
  std::unique_ptr<io::SafetensorsWriter> writer_;
  uint64_t total_ = 0;
  bool started_ = false;
};

}  // namespace lowbit::exporter
