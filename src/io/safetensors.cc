#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace lowbit::io {

using nlohmann::json;

namespace {
constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

uint64_t checked_numel(const std::vector<int64_t>& shape, bool* overflow) {
  unsigned __int128 n = 1;
  for (int64_t d : shape) {
    n *= static_cast<uint64_t>(d);
    if (n > (unsigned __int128)UINT64_MAX) {
      *overflow = true;
      return 0;
    }
  }
  return static_cast<uint64_t>(n);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}
}  // namespace

uint64_t TensorInfo::numel() const {
  bool of = false;
  return checked_numel(shape, &of);
}

uint64_t TensorSpec::nbytes() const {
  bool of = false;
  return checked_numel(shape, &of) * dtype_size(dtype);
}

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t size, const std::string& label) {
  if (size < 8) throw UserError(label + ": truncated: " + std::to_string(size) + " bytes, no safetensors header");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > kMaxHeader) throw UserError(label + ": header length " + std::to_string(n) + " exceeds 100 MB limit");
  if (n > size - 8)
    throw UserError(label + ": truncated: header length " + std::to_string(n) + " exceeds file size " +
                    std::to_string(size));
  const char* hb = reinterpret_cast<const char*>(bytes + 8);
  json h;
  try {
    h = json::parse(hb, hb + n);
  } catch (const json::exception& e) {
    throw UserError(label + ": header is not valid JSON: " + e.what());
  }
  if (!h.is_object()) throw UserError(label + ": header is not a JSON object");
  SafetensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t data_size = size - out.data_start;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw UserError(label + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw UserError(label + ": __metadata__." + m.key() + " is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    std::string where = label + ": tensor " + name;
    if (!v.is_object()) throw UserError(where + ": entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) throw UserError(where + ": missing or invalid dtype");
    if (sh == v.end() || !sh->is_array()) throw UserError(where + ": missing or invalid shape");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw UserError(where + ": missing or invalid data_offsets");
    TensorInfo t;
    t.name = name;
    auto d = dtype_from_name(dt->get<std::string>());
    if (!d) throw UserError(where + ": unknown dtype " + dt->get<std::string>());
    t.dtype = *d;
    for (const auto& s : *sh) {
      if (!s.is_number_unsigned()) throw UserError(where + ": shape has a non-integer or negative dimension");
      uint64_t dim = s.get<uint64_t>();
      if (dim > (uint64_t)INT64_MAX) throw UserError(where + ": shape dimension too large");
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end)
      throw UserError(where + ": data_offsets [" + std::to_string(t.begin) + "," + std::to_string(t.end) +
                      ") are reversed");
    if (t.end > data_size)
      throw UserError(where + ": offsets [" + std::to_string(t.begin) + "," + std::to_string(t.end) +
                      ") exceed data size " + std::to_string(data_size) + " (file truncated or corrupt)");
    bool overflow = false;
    uint64_t numel = checked_numel(t.shape, &overflow);
    unsigned __int128 want = (unsigned __int128)numel * dtype_size(t.dtype);
    if (overflow || want != t.end - t.begin)
      throw UserError(where + ": dtype " + std::string(dtype_name(t.dtype)) + " and shape " + shape_str(t.shape) +
                      " need " + (overflow ? std::string("an impossible number of") : std::to_string((uint64_t)want)) +
                      " bytes but data_offsets span " + std::to_string(t.end - t.begin));
    out.tensors.push_back(std::move(t));
  }
  // The data buffer must be covered exactly: sorted by offset, each tensor starts
  // where the previous one ended (the reference reader's rule).
  std::vector<const TensorInfo*> by_off;
  for (const auto& t : out.tensors) by_off.push_back(&t);
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  for (const TensorInfo* t : by_off) {
    if (t->begin < pos)
      throw UserError(label + ": tensor " + t->name + ": data_offsets [" + std::to_string(t->begin) + "," +
                      std::to_string(t->end) + ") overlap the previous tensor (which ends at " + std::to_string(pos) +
                      ")");
    if (t->begin > pos)
      throw UserError(label + ": tensor " + t->name + ": gap in data before offset " + std::to_string(t->begin) +
                      " (previous tensor ends at " + std::to_string(pos) + ")");
    pos = t->end;
  }
  if (pos != data_size)
    throw UserError(label + ": data buffer is " + std::to_string(data_size) + " bytes but tensors cover " +
                    std::to_string(pos) + " (trailing bytes or corrupt header)");
  return out;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(path) {
  header_ = parse_safetensors_header(file_.data(), file_.size(), path.filename().string());
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

SafetensorsWriter::SafetensorsWriter(const std::filesystem::path& path, std::vector<TensorSpec> specs,
                                     const std::map<std::string, std::string>& metadata)
    : out_(path), specs_(std::move(specs)) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& s : specs_) {
    if (h.contains(s.name)) throw std::logic_error("duplicate tensor name " + s.name);
    uint64_t nb = s.nbytes();
    h[s.name] = {{"dtype", dtype_name(s.dtype)}, {"shape", s.shape}, {"data_offsets", {off, off + nb}}};
    off += nb;
  }
  total_data_ = off;
  std::string text = h.dump();
  while (text.size() % 8 != 0) text.push_back(' ');  // keep the data 8-byte aligned
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  out_.write(len, 8);
  out_.write(text.data(), text.size());
}

void SafetensorsWriter::write_tensor(std::string_view name, const void* data, size_t nbytes) {
  if (next_ >= specs_.size() || specs_[next_].name != name)
    throw std::logic_error("safetensors writer: tensor " + std::string(name) + " written out of order");
  if (specs_[next_].nbytes() != nbytes)
    throw std::logic_error("safetensors writer: tensor " + std::string(name) + " has " + std::to_string(nbytes) +
                           " bytes, header says " + std::to_string(specs_[next_].nbytes()));
  out_.write(data, nbytes);
  ++next_;
}

void SafetensorsWriter::close() {
  if (next_ != specs_.size())
    throw std::logic_error("safetensors writer: closed after " + std::to_string(next_) + " of " +
                           std::to_string(specs_.size()) + " tensors");
  out_.close();
}

}  // namespace lowbit::io
