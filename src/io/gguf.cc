#include "io/gguf.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "core/error.h"

namespace lowbit::io {

static_assert(std::endian::native == std::endian::little, "GGUF is read and written in the host's byte order");

namespace fs = std::filesystem;

namespace {

// Bytes of one element; 0 for STRING and ARRAY (variable-sized); nullopt for an unknown id.
std::optional<size_t> element_bytes(uint32_t id) {
  switch (GgufValueType(id)) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::BOOL: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    case GgufValueType::U64: case GgufValueType::I64: case GgufValueType::F64: return 8;
    case GgufValueType::STRING: case GgufValueType::ARRAY: return 0;
  }
  return std::nullopt;
}

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string r = "[";
  for (size_t i = 0; i < ne.size(); ++i) r += (i ? ", " : "") + std::to_string(ne[i]);
  return r + "]";
}

uint64_t pad_to(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

bool is_power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Why a type id read from a file has no row in the type table.
std::string unknown_type_reason(int32_t id) {
  if (id == 4 || id == 5 || (id >= 31 && id <= 33) || (id >= 36 && id <= 38)) return "removed from ggml";
  if (id >= 42) return "fork-specific: ids from 42 mean different types in different llama.cpp builds";
  return "unknown";
}

// dims after dropping trailing 1s, at least 1: what ggml_n_dims() writes
size_t written_dims(const std::vector<int64_t>& ne) {
  size_t n = ne.size();
  while (n > 1 && ne[n - 1] == 1) --n;
  return std::max<size_t>(n, 1);
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: return "u8";
    case GgufValueType::I8: return "i8";
    case GgufValueType::U16: return "u16";
    case GgufValueType::I16: return "i16";
    case GgufValueType::U32: return "u32";
    case GgufValueType::I32: return "i32";
    case GgufValueType::F32: return "f32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "str";
    case GgufValueType::ARRAY: return "arr";
    case GgufValueType::U64: return "u64";
    case GgufValueType::I64: return "i64";
    case GgufValueType::F64: return "f64";
  }
  return "unknown";
}

std::string gguf_describe_type(GgufValueType type, GgufValueType element_type) {
  if (type != GgufValueType::ARRAY) return std::string(gguf_value_type_name(type));
  return "arr[" + std::string(gguf_value_type_name(element_type)) + "]";
}

// ---------------------------------------------------------------------------------------------
// GgufValue

// The one place that builds values and turns them into bytes (a friend of GgufValue).
struct GgufCodec {
  template <class T>
  static GgufValue scalar(GgufValueType t, T v) {
    GgufValue r;
    r.type_ = r.element_type_ = t;
    std::memcpy(&r.scalar_, &v, sizeof v);
    return r;
  }
  template <class T>
  static GgufValue array(GgufValueType element, const std::vector<T>& v) {
    GgufValue r;
    r.type_ = GgufValueType::ARRAY;
    r.element_type_ = element;
    r.array_bytes_.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(r.array_bytes_.data(), v.data(), r.array_bytes_.size());
    return r;
  }
  static GgufValue string(std::string s) {
    GgufValue r;
    r.type_ = r.element_type_ = GgufValueType::STRING;
    r.string_ = std::move(s);
    return r;
  }
  static GgufValue bools(const std::vector<bool>& v) {
    GgufValue r;
    r.type_ = GgufValueType::ARRAY;
    r.element_type_ = GgufValueType::BOOL;
    for (bool b : v) r.array_bytes_.push_back(b ? 1 : 0);
    return r;
  }
  static GgufValue strings(std::vector<std::string> v) {
    GgufValue r;
    r.type_ = GgufValueType::ARRAY;
    r.element_type_ = GgufValueType::STRING;
    r.strings_ = std::move(v);
    return r;
  }
  // A numeric or bool array from its packed little-endian bytes (bools already 0/1).
  static GgufValue packed(GgufValueType element, std::vector<uint8_t> bytes) {
    GgufValue r;
    r.type_ = GgufValueType::ARRAY;
    r.element_type_ = element;
    r.array_bytes_ = std::move(bytes);
    return r;
  }
  static GgufValue raw_scalar(GgufValueType t, uint64_t bits) {
    GgufValue r;
    r.type_ = r.element_type_ = t;
    r.scalar_ = bits;
    return r;
  }

  static void put(std::string& out, const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }
  template <class T>
  static void put(std::string& out, T v) {
    put(out, &v, sizeof v);
  }
  static void put_string(std::string& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out += s;
  }
  static void put_value(std::string& out, const GgufValue& v) {
    put<int32_t>(out, int32_t(v.type_));
    if (v.type_ == GgufValueType::STRING) {
      put_string(out, v.string_);
    } else if (v.type_ == GgufValueType::ARRAY) {
      put<int32_t>(out, int32_t(v.element_type_));
      put<uint64_t>(out, v.array_size());
      if (v.element_type_ == GgufValueType::STRING) {
        for (const auto& s : v.strings_) put_string(out, s);
      } else {
        put(out, v.array_bytes_.data(), v.array_bytes_.size());
      }
    } else {
      put(out, &v.scalar_, *element_bytes(uint32_t(v.type_)));
    }
  }
};

GgufValue GgufValue::u8(uint8_t v) { return GgufCodec::scalar(GgufValueType::U8, v); }
GgufValue GgufValue::i8(int8_t v) { return GgufCodec::scalar(GgufValueType::I8, v); }
GgufValue GgufValue::u16(uint16_t v) { return GgufCodec::scalar(GgufValueType::U16, v); }
GgufValue GgufValue::i16(int16_t v) { return GgufCodec::scalar(GgufValueType::I16, v); }
GgufValue GgufValue::u32(uint32_t v) { return GgufCodec::scalar(GgufValueType::U32, v); }
GgufValue GgufValue::i32(int32_t v) { return GgufCodec::scalar(GgufValueType::I32, v); }
GgufValue GgufValue::f32(float v) { return GgufCodec::scalar(GgufValueType::F32, v); }
GgufValue GgufValue::boolean(bool v) { return GgufCodec::scalar(GgufValueType::BOOL, uint8_t(v ? 1 : 0)); }
GgufValue GgufValue::u64(uint64_t v) { return GgufCodec::scalar(GgufValueType::U64, v); }
GgufValue GgufValue::i64(int64_t v) { return GgufCodec::scalar(GgufValueType::I64, v); }
GgufValue GgufValue::f64(double v) { return GgufCodec::scalar(GgufValueType::F64, v); }
GgufValue GgufValue::string(std::string v) { return GgufCodec::string(std::move(v)); }

GgufValue GgufValue::u8s(std::vector<uint8_t> v) { return GgufCodec::array(GgufValueType::U8, v); }
GgufValue GgufValue::i8s(std::vector<int8_t> v) { return GgufCodec::array(GgufValueType::I8, v); }
GgufValue GgufValue::u16s(std::vector<uint16_t> v) { return GgufCodec::array(GgufValueType::U16, v); }
GgufValue GgufValue::i16s(std::vector<int16_t> v) { return GgufCodec::array(GgufValueType::I16, v); }
GgufValue GgufValue::u32s(std::vector<uint32_t> v) { return GgufCodec::array(GgufValueType::U32, v); }
GgufValue GgufValue::i32s(std::vector<int32_t> v) { return GgufCodec::array(GgufValueType::I32, v); }
GgufValue GgufValue::f32s(std::vector<float> v) { return GgufCodec::array(GgufValueType::F32, v); }
GgufValue GgufValue::bools(std::vector<bool> v) { return GgufCodec::bools(v); }
GgufValue GgufValue::u64s(std::vector<uint64_t> v) { return GgufCodec::array(GgufValueType::U64, v); }
GgufValue GgufValue::i64s(std::vector<int64_t> v) { return GgufCodec::array(GgufValueType::I64, v); }
GgufValue GgufValue::f64s(std::vector<double> v) { return GgufCodec::array(GgufValueType::F64, v); }
GgufValue GgufValue::strings(std::vector<std::string> v) { return GgufCodec::strings(std::move(v)); }

void GgufValue::mismatch(GgufValueType want_type, GgufValueType want_element) const {
  throw UserError((origin_.empty() ? std::string("GGUF value") : origin_) + " has type " +
                  gguf_describe_type(type_, element_type_) + ", expected " + gguf_describe_type(want_type, want_element));
}

template <class T>
T GgufValue::scalar(GgufValueType want) const {
  if (type_ != want) mismatch(want, want);
  T v;
  std::memcpy(&v, &scalar_, sizeof v);
  return v;
}

template <class T>
std::vector<T> GgufValue::array(GgufValueType want) const {
  if (type_ != GgufValueType::ARRAY || element_type_ != want) mismatch(GgufValueType::ARRAY, want);
  std::vector<T> v(array_bytes_.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), array_bytes_.data(), v.size() * sizeof(T));
  return v;
}

uint8_t GgufValue::as_u8() const { return scalar<uint8_t>(GgufValueType::U8); }
int8_t GgufValue::as_i8() const { return scalar<int8_t>(GgufValueType::I8); }
uint16_t GgufValue::as_u16() const { return scalar<uint16_t>(GgufValueType::U16); }
int16_t GgufValue::as_i16() const { return scalar<int16_t>(GgufValueType::I16); }
uint32_t GgufValue::as_u32() const { return scalar<uint32_t>(GgufValueType::U32); }
int32_t GgufValue::as_i32() const { return scalar<int32_t>(GgufValueType::I32); }
float GgufValue::as_f32() const { return scalar<float>(GgufValueType::F32); }
bool GgufValue::as_bool() const { return scalar<uint8_t>(GgufValueType::BOOL) != 0; }
uint64_t GgufValue::as_u64() const { return scalar<uint64_t>(GgufValueType::U64); }
int64_t GgufValue::as_i64() const { return scalar<int64_t>(GgufValueType::I64); }
double GgufValue::as_f64() const { return scalar<double>(GgufValueType::F64); }

const std::string& GgufValue::as_string() const {
  if (type_ != GgufValueType::STRING) mismatch(GgufValueType::STRING, GgufValueType::STRING);
  return string_;
}

size_t GgufValue::array_size() const {
  if (type_ != GgufValueType::ARRAY) mismatch(GgufValueType::ARRAY, element_type_);
  if (element_type_ == GgufValueType::STRING) return strings_.size();
  return array_bytes_.size() / *element_bytes(uint32_t(element_type_));
}

std::vector<uint8_t> GgufValue::as_u8s() const { return array<uint8_t>(GgufValueType::U8); }
std::vector<int8_t> GgufValue::as_i8s() const { return array<int8_t>(GgufValueType::I8); }
std::vector<uint16_t> GgufValue::as_u16s() const { return array<uint16_t>(GgufValueType::U16); }
std::vector<int16_t> GgufValue::as_i16s() const { return array<int16_t>(GgufValueType::I16); }
std::vector<uint32_t> GgufValue::as_u32s() const { return array<uint32_t>(GgufValueType::U32); }
std::vector<int32_t> GgufValue::as_i32s() const { return array<int32_t>(GgufValueType::I32); }
std::vector<float> GgufValue::as_f32s() const { return array<float>(GgufValueType::F32); }
std::vector<uint64_t> GgufValue::as_u64s() const { return array<uint64_t>(GgufValueType::U64); }
std::vector<int64_t> GgufValue::as_i64s() const { return array<int64_t>(GgufValueType::I64); }
std::vector<double> GgufValue::as_f64s() const { return array<double>(GgufValueType::F64); }

std::vector<bool> GgufValue::as_bools() const {
  std::vector<uint8_t> raw = array<uint8_t>(GgufValueType::BOOL);
  return std::vector<bool>(raw.begin(), raw.end());
}

const std::vector<std::string>& GgufValue::as_strings() const {
  if (type_ != GgufValueType::ARRAY || element_type_ != GgufValueType::STRING)
    mismatch(GgufValueType::ARRAY, GgufValueType::STRING);
  return strings_;
}

const std::vector<uint8_t>& GgufValue::array_bytes() const {
  if (type_ != GgufValueType::ARRAY || element_type_ == GgufValueType::STRING)
    mismatch(GgufValueType::ARRAY, element_type_ == GgufValueType::STRING ? GgufValueType::U8 : element_type_);
  return array_bytes_;
}

bool GgufValue::operator==(const GgufValue& o) const {
  return type_ == o.type_ && element_type_ == o.element_type_ && scalar_ == o.scalar_ && string_ == o.string_ &&
         array_bytes_ == o.array_bytes_ && strings_ == o.strings_;
}

std::optional<uint64_t> gguf_tensor_nbytes(GgmlType type, std::span<const int64_t> ne) {
  if (ne.empty()) return std::nullopt;
  auto row = ggml_row_bytes(type, ne[0]);
  if (!row) return std::nullopt;
  unsigned __int128 n = *row;
  for (size_t i = 1; i < ne.size(); ++i) {
    if (ne[i] < 0) return std::nullopt;
    n *= uint64_t(ne[i]);
    if (n > UINT64_MAX) return std::nullopt;
  }
  return uint64_t(n);
}

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

// A bounds-checked cursor over the file's bytes: every read names what it was reading.
class Cursor {
 public:
  Cursor(const uint8_t* bytes, size_t size, const std::string& label) : bytes_(bytes), size_(size), label_(label) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  [[noreturn]] void fail(const std::string& what) const { throw UserError(label_ + ": " + what); }

  template <class T>
  T read(const std::string& what) {
    if (sizeof(T) > left())
      fail("truncated: " + what + " at offset " + std::to_string(pos_) + " needs " + std::to_string(sizeof(T)) +
           " bytes but the file ends at " + std::to_string(size_));
    T v;
    std::memcpy(&v, bytes_ + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }

  std::string read_string(const std::string& what) {
    const size_t at = pos_;
    const uint64_t n = read<uint64_t>("the length of " + what);
    if (n > kGgufMaxStringBytes)
      fail(what + " at offset " + std::to_string(at) + " has length " + std::to_string(n) +
           ", over the 1 GiB limit of a GGUF string");
    if (n > left())
      fail(what + " at offset " + std::to_string(at) + " has length " + std::to_string(n) +
           ", past the end of the file (" + std::to_string(left()) + " bytes left)");
    std::string s(reinterpret_cast<const char*>(bytes_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }

  std::vector<uint8_t> read_bytes(size_t n) {
    std::vector<uint8_t> v(bytes_ + pos_, bytes_ + pos_ + n);  // callers checked n <= left()
    pos_ += n;
    return v;
  }

 private:
  const uint8_t* bytes_;
  size_t size_, pos_ = 0;
  const std::string& label_;
};

GgufValue read_value(Cursor& in, const std::string& key, size_t kv_at) {
  const std::string where = "key '" + key + "'";
  const int32_t type = in.read<int32_t>("the value type of " + where);
  if (type == int32_t(GgufValueType::ARRAY)) {
    const int32_t element = in.read<int32_t>("the element type of " + where);
    const size_t count_at = in.pos();
    const uint64_t count = in.read<uint64_t>("the element count of " + where);
    if (element == int32_t(GgufValueType::ARRAY))
      in.fail(where + " (offset " + std::to_string(kv_at) + ") is an array of arrays; llama.cpp reads no nested arrays");
    auto esize = element_bytes(uint32_t(element));
    if (element < 0 || !esize)
      in.fail(where + " (offset " + std::to_string(kv_at) + ") is an array of unknown value type " +
              std::to_string(element));
    if (count > kGgufMaxArrayElements)
      in.fail(where + ": array count " + std::to_string(count) + " at offset " + std::to_string(count_at) +
              " is over llama.cpp's limit of 2^30 elements");
    const GgufValueType et = GgufValueType(element);
    // a string element takes at least its 8-byte length
    const uint64_t min_bytes = count * (et == GgufValueType::STRING ? 8 : *esize);
    if (min_bytes > in.left())
      in.fail(where + ": array of " + std::to_string(count) + " " + std::string(gguf_value_type_name(et)) +
              " at offset " + std::to_string(count_at) + " needs at least " + std::to_string(min_bytes) +
              " bytes, past the end of the file (" + std::to_string(in.left()) + " bytes left)");
    if (et == GgufValueType::STRING) {
      std::vector<std::string> v;
      v.reserve(count);
      for (uint64_t i = 0; i < count; ++i) v.push_back(in.read_string("element " + std::to_string(i) + " of " + where));
      return GgufValue::strings(std::move(v));
    }
    std::vector<uint8_t> bytes = in.read_bytes(size_t(min_bytes));
    if (et == GgufValueType::BOOL)
      for (uint8_t& b : bytes) b = b != 0;  // any non-zero byte is true, as llama.cpp reads it
    return GgufCodec::packed(et, std::move(bytes));
  }
  if (type == int32_t(GgufValueType::STRING)) return GgufValue::string(in.read_string("the value of " + where));
  auto esize = element_bytes(uint32_t(type));
  if (type < 0 || !esize)
    in.fail(where + " (offset " + std::to_string(kv_at) + ") has unknown value type " + std::to_string(type));
  uint64_t bits = 0;
  switch (*esize) {
    case 1: bits = in.read<uint8_t>("the value of " + where); break;
    case 2: bits = in.read<uint16_t>("the value of " + where); break;
    case 4: bits = in.read<uint32_t>("the value of " + where); break;
    default: bits = in.read<uint64_t>("the value of " + where); break;
  }
  if (GgufValueType(type) == GgufValueType::BOOL) bits = bits != 0;
  return GgufCodec::raw_scalar(GgufValueType(type), bits);
}

}  // namespace

GgufHeader parse_gguf_header(const uint8_t* bytes, size_t size, const std::string& label) {
  Cursor in(bytes, size, label);
  GgufHeader h;
  if (size < 4) in.fail("truncated: " + std::to_string(size) + " bytes, not a GGUF file");
  if (std::memcmp(bytes, "GGUF", 4) != 0) {
    std::string shown;
    for (int i = 0; i < 4; ++i) shown += (bytes[i] >= 0x20 && bytes[i] < 0x7f) ? char(bytes[i]) : '?';
    in.fail("not a GGUF file: magic is '" + shown + "', expected 'GGUF'");
  }
  in.read<uint32_t>("magic");
  h.version = in.read<uint32_t>("the version");
  if (h.version == 0) in.fail("bad GGUF version 0");
  if ((h.version & 0xFFFF) == 0)
    in.fail("GGUF version " + std::to_string(h.version) +
            " is not 2 or 3; its low 16 bits are zero, so the file is probably big-endian (llama.cpp reads "
            "little-endian GGUF only)");
  if (h.version == 1) in.fail("GGUF version 1 is no longer supported (llama.cpp reads versions 2 and 3)");
  if (h.version > 3) in.fail("GGUF version " + std::to_string(h.version) + " is newer than 3, the latest llama.cpp reads");

  const int64_t n_tensors = in.read<int64_t>("the tensor count");
  const int64_t n_kv = in.read<int64_t>("the key-value count");
  // Each KV takes at least 13 bytes (key length, type, a 1-byte value), each tensor info at
  // least 24 (name length, n_dims, type, offset): bounds every loop and allocation below.
  if (n_tensors < 0 || n_kv < 0 ||
      (unsigned __int128)n_kv * 13 + (unsigned __int128)n_tensors * 24 > in.left())
    in.fail("header claims " + std::to_string(n_tensors) + " tensors and " + std::to_string(n_kv) +
            " key-value pairs, impossible in a file of " + std::to_string(size) + " bytes");

  std::unordered_map<std::string, size_t> key_index;
  h.metadata.reserve(size_t(n_kv));
  for (int64_t i = 0; i < n_kv; ++i) {
    const size_t at = in.pos();
    std::string key = in.read_string("the key of key-value pair " + std::to_string(i));
    if (key.empty()) in.fail("key-value pair " + std::to_string(i) + " at offset " + std::to_string(at) + " has an empty key");
    if (key_index.count(key))
      in.fail("duplicate key '" + key + "' (key-value pairs " + std::to_string(key_index[key]) + " and " +
              std::to_string(i) + ", offset " + std::to_string(at) + ")");
    GgufValue v = read_value(in, key, at);
    v.set_origin(label + ": key '" + key + "'");
    key_index.emplace(key, size_t(i));
    h.metadata.emplace_back(std::move(key), std::move(v));
  }

  if (auto it = key_index.find("general.alignment"); it != key_index.end()) {
    const GgufValue& a = h.metadata[it->second].second;
    if (a.type() != GgufValueType::U32)
      in.fail("key 'general.alignment' has type " + gguf_describe_type(a.type(), a.element_type()) +
              ", expected u32");
    if (!is_power_of_two(a.as_u32()))
      in.fail("key 'general.alignment' is " + std::to_string(a.as_u32()) + ", not a power of two");
    h.alignment = a.as_u32();
  }

  std::unordered_map<std::string, size_t> tensor_index;
  h.tensors.reserve(size_t(n_tensors));
  for (int64_t i = 0; i < n_tensors; ++i) {
    const size_t at = in.pos();
    GgufTensorInfo t;
    t.name = in.read_string("the name of tensor " + std::to_string(i));
    const std::string where = "tensor '" + t.name + "'";
    if (t.name.empty()) in.fail("tensor " + std::to_string(i) + " at offset " + std::to_string(at) + " has an empty name");
    if (t.name.size() > kGgufMaxNameBytes)
      in.fail(where + " (offset " + std::to_string(at) + ") has a " + std::to_string(t.name.size()) +
              "-byte name; llama.cpp allows at most 63 bytes");
    if (t.name.find('\0') != std::string::npos)
      in.fail("tensor " + std::to_string(i) + " at offset " + std::to_string(at) + " has a NUL byte in its name");
    if (tensor_index.count(t.name))
      in.fail("duplicate tensor name '" + t.name + "' (tensors " + std::to_string(tensor_index[t.name]) + " and " +
              std::to_string(i) + ", offset " + std::to_string(at) + ")");
    const uint32_t n_dims = in.read<uint32_t>("the n_dims of " + where);
    if (n_dims == 0 || n_dims > kGgufMaxDims)
      in.fail(where + " has n_dims " + std::to_string(n_dims) + ", expected 1 to 4");
    unsigned __int128 elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const int64_t n = in.read<int64_t>("ne[" + std::to_string(d) + "] of " + where);
      if (n < 0) in.fail(where + " has ne[" + std::to_string(d) + "] = " + std::to_string(n) + ", negative");
      t.ne.push_back(n);
      elements *= uint64_t(n);
      if (elements > (unsigned __int128)INT64_MAX)
        in.fail(where + " has dimensions " + shape_str(t.ne) + " whose element count overflows int64");
    }
    const int32_t type_id = in.read<int32_t>("the type of " + where);
    auto traits = type_id >= 0 ? find_ggml_type(uint32_t(type_id)) : std::nullopt;
    if (!traits)
      in.fail(where + " has ggml type id " + std::to_string(type_id) + ", which GGUF files may not hold (" +
              unknown_type_reason(type_id) + ")");
    t.type = traits->type;
    if (t.ne[0] % traits->block_size != 0)
      in.fail(where + " of type " + std::string(traits->name) + " has ne[0] = " + std::to_string(t.ne[0]) +
              ", not a multiple of its block size " + std::to_string(traits->block_size));
    // elements <= INT64_MAX and a block never takes more bytes than 8 per element: no overflow
    const unsigned __int128 nbytes = elements / uint64_t(traits->block_size) * uint64_t(traits->type_size);
    if (nbytes > size)
      in.fail(where + " (" + std::string(traits->name) + " " + shape_str(t.ne) + ") needs " +
              std::to_string(uint64_t(nbytes)) + " bytes, more than the whole file (" + std::to_string(size) + ")");
    t.nbytes = uint64_t(nbytes);
    t.offset = in.read<uint64_t>("the offset of " + where);
    tensor_index.emplace(t.name, size_t(i));
    h.tensors.push_back(std::move(t));
  }

  // llama.cpp aligns the data start (from the file start) only when there are tensors.
  h.data_start = in.pos();
  if (n_tensors > 0) {
    h.data_start = pad_to(in.pos(), h.alignment);
    if (h.data_start > size)
      in.fail("truncated: the tensor data would start at offset " + std::to_string(h.data_start) +
              " but the file ends at " + std::to_string(size));
  }
  uint64_t expected = 0;
  for (const auto& t : h.tensors) {
    if (t.offset != expected)
      in.fail("tensor '" + t.name + "' has offset " + std::to_string(t.offset) + ", expected " +
              std::to_string(expected) + " (each tensor follows the previous one, padded to the alignment " +
              std::to_string(h.alignment) + ")");
    const unsigned __int128 end = (unsigned __int128)h.data_start + t.offset + t.nbytes;
    if (end > size)
      in.fail("truncated: tensor '" + t.name + "' takes bytes " + std::to_string(h.data_start + t.offset) + " to " +
              std::to_string(uint64_t(end)) + " but the file ends at " + std::to_string(size));
    expected += pad_to(t.nbytes, h.alignment);
  }
  return h;
}

std::string encode_gguf_header(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                               const std::vector<GgufTensorInfo>& tensors, uint32_t alignment) {
  std::string out = "GGUF";
  GgufCodec::put<uint32_t>(out, 3);
  GgufCodec::put<int64_t>(out, int64_t(tensors.size()));
  GgufCodec::put<int64_t>(out, int64_t(metadata.size()));
  for (const auto& [key, value] : metadata) {
    GgufCodec::put_string(out, key);
    GgufCodec::put_value(out, value);
  }
  for (const auto& t : tensors) {
    GgufCodec::put_string(out, t.name);
    const size_t n_dims = written_dims(t.ne);
    GgufCodec::put<uint32_t>(out, uint32_t(n_dims));
    for (size_t d = 0; d < n_dims; ++d) GgufCodec::put<int64_t>(out, d < t.ne.size() ? t.ne[d] : 1);
    GgufCodec::put<int32_t>(out, int32_t(t.type));
    GgufCodec::put<uint64_t>(out, t.offset);
  }
  out.resize(pad_to(out.size(), alignment), '\0');
  return out;
}

// ---------------------------------------------------------------------------------------------
// GgufFile

GgufFile::GgufFile(const fs::path& path) : file_(path) {
  header_ = parse_gguf_header(file_.data(), file_.size(), path.string());
  for (size_t i = 0; i < header_.metadata.size(); ++i) keys_.emplace(header_.metadata[i].first, i);
  for (size_t i = 0; i < header_.tensors.size(); ++i) tensor_index_.emplace(header_.tensors[i].name, i);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &header_.metadata[it->second].second;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) throw UserError(path().string() + ": key '" + std::string(key) + "' is missing");
  return *v;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &header_.tensors[it->second];
}

// ---------------------------------------------------------------------------------------------
// GgufWriter

GgufWriter::GgufWriter(fs::path output) {
  output_ = fs::absolute(output).lexically_normal();
  const fs::path parent = output_.parent_path();
  if (!fs::is_directory(parent)) throw UserError(parent.string() + ": output's folder does not exist");
  if (fs::is_directory(output_)) throw UserError(output_.string() + ": is a folder, expected a .gguf file path");
  tmp_ = parent / ("." + output_.filename().string() + ".lowbit-tmp-" + std::to_string(getpid()));
  out_.emplace(tmp_);
}

GgufWriter::~GgufWriter() {
  if (finished_) return;
  out_.reset();  // closes the descriptor
  std::error_code ec;
  fs::remove(tmp_, ec);
}

void GgufWriter::set(std::string key, GgufValue value) {
  if (header_written_) throw std::logic_error("GGUF writer: set('" + key + "') after tensor data was written");
  if (key.empty()) throw std::logic_error("GGUF writer: empty key");
  if (key_index_.count(key)) throw std::logic_error("GGUF writer: duplicate key '" + key + "'");
  if (value.type() == GgufValueType::STRING && value.as_string().size() > kGgufMaxStringBytes)
    throw std::logic_error("GGUF writer: key '" + key + "': string over 1 GiB");
  if (value.is_array()) {
    if (value.array_size() > kGgufMaxArrayElements)
      throw std::logic_error("GGUF writer: key '" + key + "': array over 2^30 elements");
    if (value.element_type() == GgufValueType::STRING)
      for (const auto& s : value.as_strings())
        if (s.size() > kGgufMaxStringBytes) throw std::logic_error("GGUF writer: key '" + key + "': string over 1 GiB");
  }
  if (key == "general.alignment") {
    if (value.type() != GgufValueType::U32 || !is_power_of_two(value.as_u32()))
      throw std::logic_error("GGUF writer: general.alignment must be a u32 power of two");
    alignment_ = value.as_u32();
  }
  key_index_.emplace(key, metadata_.size());
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> ne, GgmlType type) {
  if (header_written_) throw std::logic_error("GGUF writer: add_tensor('" + name + "') after tensor data was written");
  if (name.empty() || name.size() > kGgufMaxNameBytes || name.find('\0') != std::string::npos)
    throw std::logic_error("GGUF writer: tensor name '" + name + "' must be 1 to 63 bytes without NUL");
  if (tensor_index_.count(name)) throw std::logic_error("GGUF writer: duplicate tensor '" + name + "'");
  if (ne.empty() || written_dims(ne) > kGgufMaxDims)
    throw std::logic_error("GGUF writer: tensor '" + name + "' has " + std::to_string(ne.size()) +
                           " dimensions, expected 1 to 4");
  if (!find_ggml_type(uint32_t(type)))
    throw std::logic_error("GGUF writer: tensor '" + name + "' has no ggml type row for id " +
                           std::to_string(uint32_t(type)));
  ne.resize(written_dims(ne));  // what the file will say, so nbytes and the reader agree
  unsigned __int128 elements = 1;
  for (int64_t n : ne) {
    if (n < 0) throw std::logic_error("GGUF writer: tensor '" + name + "' has a negative dimension");
    elements *= uint64_t(n);
    if (elements > (unsigned __int128)INT64_MAX)
      throw std::logic_error("GGUF writer: tensor '" + name + "' has too many elements");
  }
  auto nbytes = gguf_tensor_nbytes(type, ne);
  if (!nbytes)
    throw std::logic_error("GGUF writer: tensor '" + name + "' " + shape_str(ne) + ": ne[0] is not a multiple of " +
                           std::string(ggml_traits(type).name) + "'s block size " +
                           std::to_string(ggml_traits(type).block_size));
  GgufTensorInfo t;
  t.name = std::move(name);
  t.ne = std::move(ne);
  t.type = type;
  t.nbytes = *nbytes;
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
}

void GgufWriter::write_header() {
  // offsets are fixed only now: general.alignment may be set after add_tensor
  uint64_t offset = 0;
  for (auto& t : tensors_) {
    t.offset = offset;
    offset += pad_to(t.nbytes, alignment_);
  }
  const std::string header = encode_gguf_header(metadata_, tensors_, alignment_);
  out_->write(header.data(), header.size());
  header_written_ = true;
}

void GgufWriter::pad_to_alignment() {
  static const char zeros[4096] = {};
  uint64_t n = pad_to(out_->bytes_written(), alignment_) - out_->bytes_written();
  while (n > 0) {
    const size_t k = size_t(std::min<uint64_t>(n, sizeof zeros));
    out_->write(zeros, k);
    n -= k;
  }
}

void GgufWriter::write_tensor(std::string_view name, const void* data, size_t nbytes) {
  if (finished_) throw std::logic_error("GGUF writer: write_tensor('" + std::string(name) + "') after finish()");
  if (!header_written_) write_header();
  if (next_tensor_ >= tensors_.size() || tensors_[next_tensor_].name != name)
    throw std::logic_error("GGUF writer: tensor '" + std::string(name) + "' written out of order (expected " +
                           (next_tensor_ < tensors_.size() ? "'" + tensors_[next_tensor_].name + "'" : "no more") +
                           ")");
  const GgufTensorInfo& t = tensors_[next_tensor_];
  if (nbytes != t.nbytes)
    throw std::logic_error("GGUF writer: tensor '" + t.name + "' given " + std::to_string(nbytes) + " bytes, its " +
                           std::string(ggml_traits(t.type).name) + " " + shape_str(t.ne) + " takes " +
                           std::to_string(t.nbytes));
  if (nbytes > 0) out_->write(data, nbytes);
  pad_to_alignment();
  ++next_tensor_;
}

uint64_t GgufWriter::finish() {
  if (finished_) throw std::logic_error("GGUF writer: finish() called twice");
  if (!header_written_) write_header();
  if (next_tensor_ != tensors_.size())
    throw std::logic_error("GGUF writer: finish() after " + std::to_string(next_tensor_) + " of " +
                           std::to_string(tensors_.size()) + " tensors; '" + tensors_[next_tensor_].name +
                           "' was never written");
  const uint64_t bytes = out_->bytes_written();
  out_->close();
  std::error_code ec;
  fs::rename(tmp_, output_, ec);
  if (ec) throw UserError(output_.string() + ": cannot move the finished file into place: " + ec.message());
  finished_ = true;
  // the rename itself reaches the disk only with its folder
  int dir = ::open(output_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return bytes;
}

}  // namespace lowbit::io
