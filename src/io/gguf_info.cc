#include "io/gguf_info.h"

#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "core/progress.h"

namespace lowbit::io {

using nlohmann::json;

namespace {

template <class T>
json list(const std::vector<T>& v) {
  json a = json::array();
  for (const auto& x : v) a.push_back(x);
  return a;
}

json array_json(const GgufValue& v) {
  switch (v.element_type()) {
    case GgufValueType::U8: return list(v.as_u8s());
    case GgufValueType::I8: return list(v.as_i8s());
    case GgufValueType::U16: return list(v.as_u16s());
    case GgufValueType::I16: return list(v.as_i16s());
    case GgufValueType::U32: return list(v.as_u32s());
    case GgufValueType::I32: return list(v.as_i32s());
    case GgufValueType::F32: {
      json a = json::array();
      for (float x : v.as_f32s()) a.push_back(double(x));
      return a;
    }
    case GgufValueType::BOOL: return list(v.as_bools());
    case GgufValueType::U64: return list(v.as_u64s());
    case GgufValueType::I64: return list(v.as_i64s());
    case GgufValueType::F64: return list(v.as_f64s());
    case GgufValueType::STRING: return list(v.as_strings());
    case GgufValueType::ARRAY: break;
  }
  throw std::logic_error("nested GGUF array");
}

struct TypeTotals {
  uint64_t tensors = 0, bytes = 0;
};

// Per ggml type, in the type table's order.
std::map<uint32_t, TypeTotals> totals_by_type(const GgufFile& f) {
  std::map<uint32_t, TypeTotals> by;
  for (const auto& t : f.tensors()) {
    auto& s = by[uint32_t(t.type)];
    s.tensors++;
    s.bytes += t.nbytes;
  }
  return by;
}

std::string architecture(const GgufFile& f) {
  const GgufValue* a = f.find("general.architecture");
  return a && a->type() == GgufValueType::STRING ? a->as_string() : "";
}

}  // namespace

json gguf_value_json(const GgufValue& v, size_t max_elements) {
  switch (v.type()) {
    case GgufValueType::U8: return v.as_u8();
    case GgufValueType::I8: return v.as_i8();
    case GgufValueType::U16: return v.as_u16();
    case GgufValueType::I16: return v.as_i16();
    case GgufValueType::U32: return v.as_u32();
    case GgufValueType::I32: return v.as_i32();
    case GgufValueType::F32: return double(v.as_f32());
    case GgufValueType::BOOL: return v.as_bool();
    case GgufValueType::U64: return v.as_u64();
    case GgufValueType::I64: return v.as_i64();
    case GgufValueType::F64: return v.as_f64();
    case GgufValueType::STRING: return v.as_string();
    case GgufValueType::ARRAY: break;
  }
  if (v.array_size() > max_elements) return json{{"length", v.array_size()}};
  return array_json(v);
}

json gguf_info_json(const GgufFile& f) {
  const GgufHeader& h = f.header();
  json types = json::array();
  for (const auto& [id, s] : totals_by_type(f))
    types.push_back({{"type", std::string(ggml_traits(GgmlType(id)).name)}, {"tensors", s.tensors}, {"bytes", s.bytes}});
  json metadata = json::array();
  for (const auto& [key, v] : h.metadata)
    metadata.push_back({{"key", key}, {"type", gguf_describe_type(v.type(), v.element_type())},
                        {"value", gguf_value_json(v, 16)}});
  json tensors = json::array();
  for (const auto& t : f.tensors())
    tensors.push_back({{"name", t.name}, {"ne", t.ne}, {"type", std::string(ggml_traits(t.type).name)},
                       {"offset", t.offset}, {"bytes", t.nbytes}});
  return {{"format", "gguf"},           {"version", h.version},
          {"architecture", architecture(f)}, {"alignment", h.alignment},
          {"file_bytes", f.file_size()},     {"key_count", h.metadata.size()},
          {"tensor_count", h.tensors.size()}, {"types", types},
          {"metadata", metadata},            {"tensors", tensors}};
}

std::string gguf_info_text(const GgufFile& f) {
  const GgufHeader& h = f.header();
  std::ostringstream o;
  const std::string arch = architecture(f);
  o << "format         GGUF version " << h.version << " (alignment " << h.alignment << ")\n";
  o << "architecture   " << (arch.empty() ? "(none)" : arch) << "\n";
  if (const GgufValue* name = f.find("general.name"); name && name->type() == GgufValueType::STRING)
    o << "name           " << name->as_string() << "\n";
  o << "on disk        " << Progress::human_bytes(double(f.file_size())) << "\n";
  o << "keys           " << h.metadata.size() << "\n";
  o << "tensors        " << h.tensors.size() << "\n";
  char buf[256];
  for (const auto& [id, s] : totals_by_type(f)) {
    std::snprintf(buf, sizeof buf, "  %-10s %6llu tensors %12s\n", std::string(ggml_traits(GgmlType(id)).name).c_str(),
                  static_cast<unsigned long long>(s.tensors), Progress::human_bytes(double(s.bytes)).c_str());
    o << buf;
  }
  return o.str();
}

}  // namespace lowbit::io
