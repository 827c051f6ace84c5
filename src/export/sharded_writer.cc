#include "export/sharded_writer.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/file_util.h"

namespace lowbit::exporter {

ShardedWriter::ShardedWriter(std::filesystem::path dir, uint64_t max_shard_bytes)
    : dir_(std::move(dir)), max_bytes_(max_shard_bytes ? max_shard_bytes : UINT64_MAX) {}

ShardedWriter::~ShardedWriter() = default;

void ShardedWriter::add_unit(std::vector<io::TensorSpec> specs) { units_.push_back(std::move(specs)); }

std::string ShardedWriter::shard_name(size_t i) const {
  if (shards_.size() == 1) return "model.safetensors";
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, shards_.size());
  return buf;
}

std::vector<std::filesystem::path> ShardedWriter::shard_paths() const {
  std::vector<std::filesystem::path> out;
  for (size_t i = 0; i < shards_.size(); ++i) out.push_back(dir_ / shard_name(i));
  return out;
}

void ShardedWriter::start() {
  uint64_t cur = 0;
  for (auto& unit : units_) {
    uint64_t n = 0;
    for (const auto& s : unit) n += s.nbytes();
    if (shards_.empty() || (cur > 0 && cur + n > max_bytes_)) {
      shards_.emplace_back();
      cur = 0;
    }
    for (auto& s : unit) shards_.back().push_back(std::move(s));
    cur += n;
    total_ += n;
  }
  if (shards_.empty()) shards_.emplace_back();
  units_.clear();
  started_ = true;
  writer_ = std::make_unique<io::SafetensorsWriter>(dir_ / shard_name(0), shards_[0]);
}

void ShardedWriter::write(const std::string& name, const void* data, size_t nbytes) {
  while (cur_index_ >= shards_[cur_shard_].size()) {
    writer_->close();
    ++cur_shard_;
    cur_index_ = 0;
    writer_ = std::make_unique<io::SafetensorsWriter>(dir_ / shard_name(cur_shard_), shards_[cur_shard_]);
  }
  writer_->write_tensor(name, data, nbytes);
  ++cur_index_;
}

void ShardedWriter::finish() {
  while (cur_shard_ + 1 < shards_.size() || cur_index_ < shards_[cur_shard_].size()) {
    if (cur_index_ < shards_[cur_shard_].size())
      throw std::logic_error("sharded writer: finished before " + shards_[cur_shard_][cur_index_].name);
    writer_->close();
    ++cur_shard_;
    cur_index_ = 0;
    writer_ = std::make_unique<io::SafetensorsWriter>(dir_ / shard_name(cur_shard_), shards_[cur_shard_]);
  }
  writer_->close();
  if (shards_.size() > 1) {
    nlohmann::json idx;
    idx["metadata"] = {{"total_size", total_}};
    idx["weight_map"] = nlohmann::json::object();
    for (size_t i = 0; i < shards_.size(); ++i)
      for (const auto& s : shards_[i]) idx["weight_map"][s.name] = shard_name(i);
    io::write_text_file(dir_ / "model.safetensors.index.json", idx.dump(2) + "\n");
  }
}

}  // namespace lowbit::exporter
