// safetensors: memory-mapped, validated reading and streaming writing.
// Format: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {str: str}},
// then the data buffer, which the tensors must cover exactly, without gaps or overlaps.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "io/file_util.h"

namespace lowbit::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // offsets into the data buffer
  uint64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in header (sorted-name) order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + header length
};

// Validates everything a reader could trip on; `label` names the file in errors.
// Throws UserError. Exposed separately so it can be fuzzed on raw bytes.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t size, const std::string& label);

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const TensorInfo* find(std::string_view name) const;
  const uint8_t* data(const TensorInfo& t) const { return file_.data() + header_.data_start + t.begin; }
  void release(const TensorInfo& t) const { file_.release(header_.data_start + t.begin, t.nbytes()); }
  const std::filesystem::path& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
  std::unordered_map<std::string, size_t> index_;
};

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t nbytes() const;
};

// Writes the header up front (the specs fix every offset), then tensor data in
// spec order, one whole tensor per write_tensor call.
class SafetensorsWriter {
 public:
  SafetensorsWriter(const std::filesystem::path& path, std::vector<TensorSpec> specs,
                    const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
  void write_tensor(std::string_view name, const void* data, size_t nbytes);
  void close();
  uint64_t data_bytes() const { return total_data_; }

 private:
  FileWriter out_;
  std::vector<TensorSpec> specs_;
  size_t next_ = 0;
  uint64_t total_data_ = 0;
};

}  // namespace lowbit::io
