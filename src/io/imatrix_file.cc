#include "io/imatrix_file.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/error.h"
#include "io/file_util.h"
#include "io/gguf.h"

namespace lowbit::io {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSumsSuffix = ".in_sum2", kCountsSuffix = ".counts";
// Counts are floats in the GGUF form: past 2^53 they no longer name a whole number of tokens.
constexpr double kMaxCount = 9007199254740992.0;

// Bounded little-endian reads over the legacy bytes; every overrun names what was being read.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, const std::string& label) : p_(p), n_(n), label_(label) {}
  size_t left() const { return n_ - at_; }
  int32_t i32(const std::string& what) {
    need(4, what);
    int32_t v;
    std::memcpy(&v, p_ + at_, 4);
    at_ += 4;
    return v;
  }
  const uint8_t* bytes(size_t n, const std::string& what) {
    need(n, what);
    const uint8_t* out = p_ + at_;
    at_ += n;
    return out;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(label_ + ": legacy imatrix (.dat) at byte " + std::to_string(at_) + ": " + what);
  }

 private:
  void need(size_t n, const std::string& what) const {
    if (left() < n)
      fail("truncated: " + what + " needs " + std::to_string(n) + " bytes, " + std::to_string(left()) + " left");
  }
  const uint8_t* p_;
  size_t n_, at_ = 0;
  const std::string& label_;
};

Imatrix parse_legacy(const uint8_t* bytes, size_t size, const std::string& label) {
  Cursor in(bytes, size, label);
  Imatrix m;
  m.format = ImatrixFormat::Legacy;
  const int32_t n_entries = in.i32("the entry count");
  if (n_entries < 1) in.fail("entry count " + std::to_string(n_entries) + ": no data (not an imatrix file?)");
  for (int32_t i = 0; i < n_entries; ++i) {
    const std::string entry = "entry " + std::to_string(i + 1) + " of " + std::to_string(n_entries);
    const int32_t len = in.i32(entry + ": name length");
    if (len < 1 || size_t(len) > in.left())
      in.fail(entry + ": name length " + std::to_string(len) + " (" + std::to_string(in.left()) + " bytes left)");
    const uint8_t* name_bytes = in.bytes(size_t(len), entry + ": name");
    std::string name(reinterpret_cast<const char*>(name_bytes), size_t(len));
    if (name.find('\0') != std::string::npos) in.fail(entry + ": name holds a NUL byte");
    const int32_t ncall = in.i32(entry + " (" + name + "): ncall");
    if (ncall < 0) in.fail(name + ": negative ncall " + std::to_string(ncall));
    const int32_t nval = in.i32(name + ": value count");
    if (nval < 1 || size_t(nval) > in.left() / 4)
      in.fail(name + ": value count " + std::to_string(nval) + " (" + std::to_string(in.left()) + " bytes left)");
    ImatrixEntry e;
    e.sums.resize(size_t(nval));
    std::memcpy(e.sums.data(), in.bytes(size_t(nval) * 4, name + ": values"), size_t(nval) * 4);
    e.counts = {ncall};
    if (!m.entries.emplace(name, std::move(e)).second) in.fail("entry '" + name + "' appears twice");
  }
  // The trailer (chunk count, dataset) is optional, as in llama.cpp; when present it is whole.
  if (in.left() > 0) {
    const int32_t chunks = in.i32("the chunk count");
    if (chunks < 0) in.fail("negative chunk count " + std::to_string(chunks));
    m.chunk_count = uint32_t(chunks);
    const int32_t len = in.i32("the dataset name's length");
    if (len < 0 || size_t(len) > in.left())
      in.fail("dataset name length " + std::to_string(len) + " (" + std::to_string(in.left()) + " bytes left)");
    if (len > 0) {
      const char* d = reinterpret_cast<const char*>(in.bytes(size_t(len), "the dataset name"));
      m.datasets.emplace_back(d, strnlen(d, size_t(len)));  // llama.cpp reads it as a C string
    }
    if (in.left() > 0) in.fail(std::to_string(in.left()) + " bytes after the dataset name");
  }
  return m;
}

Imatrix parse_gguf(const uint8_t* bytes, size_t size, const std::string& label) {
  const GgufHeader h = parse_gguf_header(bytes, size, label);
  Imatrix m;
  m.format = ImatrixFormat::Gguf;
  auto find = [&](std::string_view key) -> const GgufValue* {
    for (const auto& [k, v] : h.metadata)
      if (k == key) return &v;
    return nullptr;
  };
  if (const GgufValue* t = find("general.type"); t && t->type() == GgufValueType::STRING && t->as_string() != "imatrix")
    throw UserError(label + ": a GGUF of general.type '" + t->as_string() + "', not an importance matrix");
  const GgufValue *datasets = find("imatrix.datasets"), *count = find("imatrix.chunk_count"),
                  *csize = find("imatrix.chunk_size");
  if (!datasets || !count || !csize)
    throw UserError(label + ": not a llama.cpp importance matrix: missing " +
                    std::string(!datasets ? "imatrix.datasets" : !count ? "imatrix.chunk_count" : "imatrix.chunk_size") +
                    " (llama-quantize refuses it too)");
  m.datasets = datasets->as_strings();
  m.chunk_count = count->as_u32();
  m.chunk_size = csize->as_u32();
  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> pairs;
  for (const auto& t : h.tensors) {
    if (t.name.ends_with(kSumsSuffix))
      pairs[t.name.substr(0, t.name.size() - kSumsSuffix.size())].first = &t;
    else if (t.name.ends_with(kCountsSuffix))
      pairs[t.name.substr(0, t.name.size() - kCountsSuffix.size())].second = &t;
  }
  for (const auto& [name, p] : pairs) {
    const auto [sums, counts] = p;
    if (!sums || !counts)
      throw UserError(label + ": entry '" + name + "' has " + (sums ? "sums (.in_sum2) but no .counts" : ".counts but no sums (.in_sum2)"));
    if (sums->type != GgmlType::F32 || counts->type != GgmlType::F32)
      throw UserError(label + ": entry '" + name + "': sums and counts must be F32");
    const uint64_t nval = sums->nbytes / 4, ncounts = counts->nbytes / 4;
    if (nval == 0 || ncounts == 0 || nval % ncounts != 0)
      throw UserError(label + ": entry '" + name + "': " + std::to_string(nval) + " sums do not split into " +
                      std::to_string(ncounts) + " matrices");
    ImatrixEntry e;
    e.sums.resize(nval);
    std::memcpy(e.sums.data(), bytes + h.data_start + sums->offset, nval * 4);
    std::vector<float> c(ncounts);
    std::memcpy(c.data(), bytes + h.data_start + counts->offset, ncounts * 4);
    for (float v : c) {
      if (!std::isfinite(v) || v < 0 || v > kMaxCount)
        throw UserError(label + ": entry '" + name + "': token count " + std::to_string(v) + " is not a count");
      e.counts.push_back(std::lround(double(v)));  // as llama.cpp's loader rounds it
    }
    m.entries.emplace(name, std::move(e));
  }
  if (m.entries.empty()) throw UserError(label + ": no importance matrix entries (no <name>.in_sum2 tensors)");
  return m;
}

void check_entry(const std::string& name, const ImatrixEntry& e) {
  if (e.counts.empty() || e.sums.empty() || e.sums.size() % e.counts.size() != 0)
    throw std::logic_error("imatrix entry " + name + ": " + std::to_string(e.sums.size()) + " sums for " +
                           std::to_string(e.counts.size()) + " matrices");
}

// A hidden sibling renamed into place on commit(), removed if never committed.
class TempFile {
 public:
  explicit TempFile(const fs::path& path) {
    out_ = fs::absolute(path).lexically_normal();
    if (!fs::is_directory(out_.parent_path()))
      throw UserError(out_.parent_path().string() + ": output's folder does not exist");
    if (fs::is_directory(out_)) throw UserError(out_.string() + ": is a folder, expected a file path");
    tmp_ = out_.parent_path() / ("." + out_.filename().string() + ".lowbit-tmp-" + std::to_string(getpid()));
  }
  ~TempFile() {
    if (done_) return;
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
  void commit(const std::string& bytes) {
    {
      FileWriter w(tmp_);
      w.write(bytes.data(), bytes.size());
      w.close();
    }
    std::error_code ec;
    fs::rename(tmp_, out_, ec);
    if (ec) throw UserError(out_.string() + ": cannot move the finished file into place: " + ec.message());
    done_ = true;
  }

 private:
  fs::path out_, tmp_;
  bool done_ = false;
};

void put_i32(std::string& out, int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

void write_legacy(const Imatrix& m, const fs::path& path) {
  std::string out;
  std::vector<const std::pair<const std::string, ImatrixEntry>*> stored;
  for (const auto& kv : m.entries)
    if (std::any_of(kv.second.counts.begin(), kv.second.counts.end(), [](int64_t c) { return c != 0; }))
      stored.push_back(&kv);
  if (stored.empty()) throw UserError(path.string() + ": no imatrix entry has data; nothing to write");
  put_i32(out, int32_t(stored.size()));
  for (const auto* kv : stored) {
    const auto& [name, e] = *kv;
    check_entry(name, e);
    put_i32(out, int32_t(name.size()));
    out += name;
    // ncall = ceil(max count / chunk_size), as llama-imatrix writes it; a matrix read from a legacy
    // file (no chunk size) already holds ncall.
    const int64_t max_count = *std::max_element(e.counts.begin(), e.counts.end());
    const int64_t chunk = m.chunk_size > 0 ? int64_t(m.chunk_size) : 1;
    const int32_t ncall = int32_t((max_count + chunk - 1) / chunk);
    put_i32(out, ncall);
    put_i32(out, int32_t(e.sums.size()));
    const size_t ne0 = e.sums.size() / e.counts.size();
    for (size_t i = 0; i < e.sums.size(); ++i) {
      float count = float(e.counts[i / ne0]), value = e.sums[i];
      if (count == 0.0f) value = count = 1.0f;  // llama-imatrix stores 1s for a matrix with no data
      const float v = m.chunk_size > 0 ? (value / count) * float(ncall) : value;
      out.append(reinterpret_cast<const char*>(&v), 4);
    }
  }
  put_i32(out, int32_t(m.chunk_count));
  const std::string dataset = m.datasets.empty() ? std::string() : m.datasets.back();
  put_i32(out, int32_t(dataset.size()));
  out += dataset;
  TempFile(path).commit(out);
}

void write_gguf(const Imatrix& m, const fs::path& path) {
  if (m.entries.empty()) throw UserError(path.string() + ": no imatrix entries; nothing to write");
  GgufWriter w(path);
  w.set("general.type", GgufValue::string("imatrix"));
  w.set("imatrix.datasets", GgufValue::strings(m.datasets));
  w.set("imatrix.chunk_count", GgufValue::u32(m.chunk_count));
  w.set("imatrix.chunk_size", GgufValue::u32(m.chunk_size));
  for (const auto& [name, e] : m.entries) {
    check_entry(name, e);
    const int64_t nmat = int64_t(e.counts.size());
    w.add_tensor(name + std::string(kSumsSuffix), {e.ne0(), nmat}, GgmlType::F32);
    w.add_tensor(name + std::string(kCountsSuffix), {1, nmat}, GgmlType::F32);
  }
  for (const auto& [name, e] : m.entries) {
    w.write_tensor(name + std::string(kSumsSuffix), e.sums.data(), e.sums.size() * 4);
    std::vector<float> c(e.counts.begin(), e.counts.end());
    w.write_tensor(name + std::string(kCountsSuffix), c.data(), c.size() * 4);
  }
  w.finish();
}

}  // namespace

Imatrix parse_imatrix(const uint8_t* bytes, size_t size, const std::string& label) {
  if (size == 0) throw UserError(label + ": empty file, not an importance matrix");
  if (size >= 4 && std::memcmp(bytes, "GGUF", 4) == 0) return parse_gguf(bytes, size, label);
  return parse_legacy(bytes, size, label);
}

Imatrix read_imatrix(const fs::path& path) {
  const MappedFile f(path);
  return parse_imatrix(f.data(), f.size(), path.string());
}

void write_imatrix(const Imatrix& m, const fs::path& path, ImatrixFormat format) {
  if (format == ImatrixFormat::Legacy)
    write_legacy(m, path);
  else
    write_gguf(m, path);
}

std::map<std::string, std::vector<float>> importance_vectors(const Imatrix& m) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, e] : m.entries) {
    if (e.counts.empty() || e.sums.size() % e.counts.size() != 0)
      throw std::logic_error("imatrix entry " + name + " is not nmat x ne0");
    std::vector<float> v(e.sums.size());
    const size_t ne0 = e.sums.size() / e.counts.size();
    if (m.format == ImatrixFormat::Gguf) {
      for (size_t j = 0; j < e.counts.size(); ++j) {
        const float count = float(e.counts[j]);
        for (size_t i = 0; i < ne0; ++i) v[j * ne0 + i] = count > 0.0f ? e.sums[j * ne0 + i] / count : 1.0f;
      }
    } else {
      const int64_t ncall = e.counts[0];
      for (size_t i = 0; i < v.size(); ++i) v[i] = ncall > 0 ? e.sums[i] / float(ncall) : e.sums[i];
    }
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw UserError("the importance matrix of " + name + " holds a non-finite value (" + std::to_string(v[i]) +
                        " at index " + std::to_string(i) + "); llama-quantize refuses it too");
    out.emplace(name, std::move(v));
  }
  return out;
}

const char* imatrix_format_name(ImatrixFormat f) { return f == ImatrixFormat::Legacy ? "legacy (.dat)" : "GGUF"; }

}  // namespace lowbit::io
