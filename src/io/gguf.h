// GGUF v3, the container llama.cpp loads: a memory-mapped, validated reader and a streaming
// writer that renames its output into place only when every tensor is written.
//
// Layout (little-endian): "GGUF", u32 version, i64 tensor count, i64 KV count; each KV as
// string key, i32 value type, value (arrays: i32 element type, u64 count, elements; strings:
// u64 length + bytes); each tensor info as string name, u32 n_dims, i64 ne[n_dims] (ne[0]
// innermost), i32 ggml type, u64 offset; zero padding to the alignment (KV general.alignment,
// a u32 power of two, default 32) measured from the file start; then each tensor's bytes in
// info order, each followed by zero padding to the alignment. A tensor's offset (from the data
// start) must be the running sum of the padded sizes before it: llama.cpp refuses anything else.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/ggml_types.h"
#include "io/file_util.h"

namespace lowbit::io {

enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12
};

// As gguf_type_name() spells them: "u8", "i32", "f32", "bool", "str", "arr", ...
std::string_view gguf_value_type_name(GgufValueType t);
// A value's type for messages: "u32", "arr[str]".
std::string gguf_describe_type(GgufValueType type, GgufValueType element_type);

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint64_t kGgufMaxStringBytes = 1ull << 30;    // llama.cpp's GGUF_MAX_STRING_LENGTH
inline constexpr uint64_t kGgufMaxArrayElements = 1ull << 30;  // GGUF_MAX_ARRAY_ELEMENTS
inline constexpr size_t kGgufMaxNameBytes = 63;                // GGML_MAX_NAME - 1 (room for the NUL)
inline constexpr size_t kGgufMaxDims = 4;                      // GGML_MAX_DIMS

// One metadata value: a scalar, a string, or an array of one element type (never nested).
// Typed getters throw UserError on a type mismatch (no implicit widening, as in llama.cpp);
// a value read from a file names its file and key in that message.
class GgufValue {
 public:
  GgufValue() = default;  // a u8 0; only for containers
  static GgufValue u8(uint8_t v);
  static GgufValue i8(int8_t v);
  static GgufValue u16(uint16_t v);
  static GgufValue i16(int16_t v);
  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue u64(uint64_t v);
  static GgufValue i64(int64_t v);
  static GgufValue f64(double v);
  static GgufValue string(std::string v);

  static GgufValue u8s(std::vector<uint8_t> v);
  static GgufValue i8s(std::vector<int8_t> v);
  static GgufValue u16s(std::vector<uint16_t> v);
  static GgufValue i16s(std::vector<int16_t> v);
  static GgufValue u32s(std::vector<uint32_t> v);
  static GgufValue i32s(std::vector<int32_t> v);
  static GgufValue f32s(std::vector<float> v);
  static GgufValue bools(std::vector<bool> v);
  static GgufValue u64s(std::vector<uint64_t> v);
  static GgufValue i64s(std::vector<int64_t> v);
  static GgufValue f64s(std::vector<double> v);
  static GgufValue strings(std::vector<std::string> v);

  GgufValueType type() const { return type_; }
  // The element type of an array; for a scalar or string, its own type.
  GgufValueType element_type() const { return element_type_; }
  bool is_array() const { return type_ == GgufValueType::ARRAY; }

  uint8_t as_u8() const;
  int8_t as_i8() const;
  uint16_t as_u16() const;
  int16_t as_i16() const;
  uint32_t as_u32() const;
  int32_t as_i32() const;
  float as_f32() const;
  bool as_bool() const;
  uint64_t as_u64() const;
  int64_t as_i64() const;
  double as_f64() const;
  const std::string& as_string() const;

  size_t array_size() const;  // UserError if not an array
  std::vector<uint8_t> as_u8s() const;
  std::vector<int8_t> as_i8s() const;
  std::vector<uint16_t> as_u16s() const;
  std::vector<int16_t> as_i16s() const;
  std::vector<uint32_t> as_u32s() const;
  std::vector<int32_t> as_i32s() const;
  std::vector<float> as_f32s() const;
  std::vector<bool> as_bools() const;
  std::vector<uint64_t> as_u64s() const;
  std::vector<int64_t> as_i64s() const;
  std::vector<double> as_f64s() const;
  const std::vector<std::string>& as_strings() const;

  // The raw little-endian element bytes of a numeric or bool array (bools as 0/1).
  const std::vector<uint8_t>& array_bytes() const;

  // Same type and same bytes (floats compare by bits); where it came from is ignored.
  bool operator==(const GgufValue& o) const;

  // "model.gguf: key 'general.alignment'": prefixes type-mismatch messages (set by the reader).
  void set_origin(std::string origin) { origin_ = std::move(origin); }

 private:
  friend struct GgufCodec;
  template <class T>
  T scalar(GgufValueType want) const;
  template <class T>
  std::vector<T> array(GgufValueType want) const;
  [[noreturn]] void mismatch(GgufValueType want_type, GgufValueType want_element) const;

  GgufValueType type_ = GgufValueType::U8;
  GgufValueType element_type_ = GgufValueType::U8;
  uint64_t scalar_ = 0;                // a number's little-endian bytes (bool: 0/1)
  std::string string_;                 // a STRING
  std::vector<uint8_t> array_bytes_;   // a numeric or bool ARRAY's packed elements
  std::vector<std::string> strings_;   // an ARRAY of STRING
  std::string origin_;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] innermost (the reverse of a numpy shape)
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // from the data start
  uint64_t nbytes = 0;
};

struct GgufHeader {
  uint32_t version = 3;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // file order
  std::vector<GgufTensorInfo> tensors;                      // file order
  uint32_t alignment = kGgufDefaultAlignment;
  uint64_t data_start = 0;  // absolute offset of the first tensor's bytes
};

// Bytes of a tensor of `type` with dimensions `ne` (ggml order); nullopt when ne[0] is not a
// multiple of the block size, a dimension is negative, or the size overflows.
std::optional<uint64_t> gguf_tensor_nbytes(GgmlType type, std::span<const int64_t> ne);

// Validates everything llama.cpp's gguf reader checks (and that every tensor lies inside the
// `size` bytes); `label` names the file in errors. Throws UserError. Exposed so it is fuzzed.
GgufHeader parse_gguf_header(const uint8_t* bytes, size_t size, const std::string& label);

// The bytes from the magic to the data start (padding included) of version 3 with these KVs
// and tensor infos (their offsets as given). What GgufWriter writes before the tensor data.
std::string encode_gguf_header(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                               const std::vector<GgufTensorInfo>& tensors, uint32_t alignment);

class GgufFile {
 public:
  explicit GgufFile(const std::filesystem::path& path);  // throws UserError
  const GgufHeader& header() const { return header_; }
  const GgufValue* find(std::string_view key) const;  // null if absent
  const GgufValue& get(std::string_view key) const;   // UserError naming the key if absent
  const std::vector<GgufTensorInfo>& tensors() const { return header_.tensors; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const uint8_t* data(const GgufTensorInfo& t) const { return file_.data() + header_.data_start + t.offset; }
  // Hands the tensor's mapped pages back (they stay in the page cache).
  void release(const GgufTensorInfo& t) const { file_.release(header_.data_start + t.offset, t.nbytes); }
  const std::filesystem::path& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  MappedFile file_;
  GgufHeader header_;
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> keys_, tensor_index_;
};

// Streaming writer: every set() and add_tensor() first, then each tensor's bytes with
// write_tensor() in add_tensor order, then finish(). The file is written as a hidden sibling
// and renamed onto `output` by finish(); a writer destroyed before that removes it. Misuse
// (duplicate key or tensor, out-of-order or wrongly sized data) throws std::logic_error; I/O
// failures (full disk) throw UserError.
class GgufWriter {
 public:
  explicit GgufWriter(std::filesystem::path output);  // UserError if the folder is missing
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // general.alignment, if set, must be a U32 power of two.
  void set(std::string key, GgufValue value);
  // ne in ggml order, 1 to 4 dimensions; trailing 1s are not written (as ggml_n_dims).
  void add_tensor(std::string name, std::vector<int64_t> ne, GgmlType type);
  void write_tensor(std::string_view name, const void* data, size_t nbytes);
  // Checks every tensor was written, pads, fsyncs, renames; returns the file's size in bytes.
  uint64_t finish();

  const std::filesystem::path& output() const { return output_; }
  const std::filesystem::path& temporary() const { return tmp_; }

 private:
  void write_header();
  void pad_to_alignment();

  std::filesystem::path output_, tmp_;
  std::optional<FileWriter> out_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> key_index_, tensor_index_;
  uint32_t alignment_ = kGgufDefaultAlignment;
  bool header_written_ = false, finished_ = false;
  size_t next_tensor_ = 0;
};

}  // namespace lowbit::io
