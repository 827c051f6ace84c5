#include "io/imatrix_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "core/error.h"
#include "io/file_util.h"
#include "io/gguf.h"
#include "temp_path.h"
#include "user_error.h"

using namespace lowbit;
using namespace lowbit::io;
namespace fs = std::filesystem;

namespace {

std::string bytes_of(const fs::path& p) {
  MappedFile f(p);
  return std::string(reinterpret_cast<const char*>(f.data()), f.size());
}

// The UserError message of parsing these bytes; "" if they parse.
std::string error_of(const std::string& bytes) {
  return fixtures::error_of(
      [&] { parse_imatrix(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.dat"); });
}

void i32(std::string& s, int32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void f32s(std::string& s, std::initializer_list<float> v) {
  for (float x : v) s.append(reinterpret_cast<const char*>(&x), 4);
}
void entry(std::string& s, const std::string& name, int32_t ncall, std::initializer_list<float> v) {
  i32(s, int32_t(name.size()));
  s += name;
  i32(s, ncall);
  i32(s, int32_t(v.size()));
  f32s(s, v);
}

// Two entries: q (raw sums 4 8 12 16 over 8 tokens) and a 3-expert down (2 channels; counts 4, 0, 2).
Imatrix sample() {
  Imatrix m;
  m.entries["blk.0.attn_q.weight"] = {{4, 8, 12, 16}, {8}};
  m.entries["blk.0.ffn_down_exps.weight"] = {{1, 2, 3, 4, 5, 6}, {4, 0, 2}};
  m.datasets = {"first.txt", "wiki.txt"};
  m.chunk_count = 2;
  m.chunk_size = 4;
  return m;
}

struct GgufParts {
  std::vector<std::pair<std::string, GgufValue>> kv = {{"general.type", GgufValue::string("imatrix")},
                                                       {"imatrix.datasets", GgufValue::strings({"w.txt"})},
                                                       {"imatrix.chunk_count", GgufValue::u32(1)},
                                                       {"imatrix.chunk_size", GgufValue::u32(4)}};
  struct T {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type = GgmlType::F32;
    std::vector<float> values;
  };
  std::vector<T> tensors = {{"a.weight.in_sum2", {2}, GgmlType::F32, {2, 6}}, {"a.weight.counts", {1}, GgmlType::F32, {4}}};
};

std::string gguf_error(const GgufParts& p) {
  const fs::path path = fixtures::temp_path("bad.imatrix.gguf");
  {
    GgufWriter w(path);
    for (const auto& [k, v] : p.kv) w.set(k, v);
    for (const auto& t : p.tensors) w.add_tensor(t.name, t.ne, t.type);
    for (const auto& t : p.tensors) {
      if (t.type == GgmlType::F32) {
        w.write_tensor(t.name, t.values.data(), t.values.size() * 4);
      } else {  // F16: any bytes of the right size
        std::vector<uint16_t> h(t.values.size(), 0x3c00);
        w.write_tensor(t.name, h.data(), h.size() * 2);
      }
    }
    w.finish();
  }
  try {
    read_imatrix(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ImatrixFile, GgufRoundTripKeepsSumsCountsAndMetadata) {
  const fs::path path = fixtures::temp_path("m.imatrix.gguf");
  write_imatrix(sample(), path, ImatrixFormat::Gguf);
  const Imatrix m = read_imatrix(path);
  EXPECT_EQ(m.format, ImatrixFormat::Gguf);
  EXPECT_EQ(m.datasets, (std::vector<std::string>{"first.txt", "wiki.txt"}));
  EXPECT_EQ(m.chunk_count, 2u);
  EXPECT_EQ(m.chunk_size, 4u);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries.at("blk.0.attn_q.weight").sums, (std::vector<float>{4, 8, 12, 16}));
  EXPECT_EQ(m.entries.at("blk.0.ffn_down_exps.weight").counts, (std::vector<int64_t>{4, 0, 2}));
  EXPECT_EQ(m.entries.at("blk.0.ffn_down_exps.weight").ne0(), 2);
  // The layout llama-imatrix writes: keys in its order, per entry sums [ne0, nmat] then counts [1, nmat].
  GgufFile f(path);
  ASSERT_EQ(f.header().metadata.size(), 4u);
  EXPECT_EQ(f.header().metadata[0].first, "general.type");
  EXPECT_EQ(f.header().metadata[1].first, "imatrix.datasets");
  EXPECT_EQ(f.header().metadata[2].first, "imatrix.chunk_count");
  EXPECT_EQ(f.header().metadata[3].first, "imatrix.chunk_size");
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "blk.0.attn_q.weight.in_sum2");
  EXPECT_EQ(f.tensors()[1].name, "blk.0.attn_q.weight.counts");
  EXPECT_EQ(f.tensors()[2].name, "blk.0.ffn_down_exps.weight.in_sum2");
  EXPECT_EQ(f.tensors()[2].ne, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.tensors()[3].ne, (std::vector<int64_t>{1, 3}));
}

TEST(ImatrixFile, ImportanceIsSumOverCountAndOneWithoutTokens) {
  const auto v = importance_vectors(sample());
  EXPECT_EQ(v.at("blk.0.attn_q.weight"), (std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f}));
  // Expert 1 saw no token: llama-quantize gives it 1s.
  EXPECT_EQ(v.at("blk.0.ffn_down_exps.weight"), (std::vector<float>{0.25f, 0.5f, 1, 1, 2.5f, 3}));
}

TEST(ImatrixFile, ImportanceDividesInFloatAsLlamaQuantize) {
  Imatrix m;
  m.entries["x.weight"] = {{1.0f, 0.1f}, {3}};
  const auto v = importance_vectors(m);
  EXPECT_EQ(v.at("x.weight")[0], 1.0f / 3.0f);
  EXPECT_EQ(v.at("x.weight")[1], 0.1f / 3.0f);
}

TEST(ImatrixFile, LegacyBytesAreLlamaImatrixs) {
  const fs::path path = fixtures::temp_path("m.imatrix.dat");
  Imatrix m = sample();
  m.entries["blk.1.ffn_up.weight"] = {{7, 7}, {0}};  // no data at all: left out, as llama-imatrix does
  m.entries.at("blk.0.attn_q.weight").counts = {9};   // ncall = ceil(9 / 4) = 3
  write_imatrix(m, path, ImatrixFormat::Legacy);
  std::string want;
  i32(want, 2);
  entry(want, "blk.0.attn_q.weight", 3, {4.0f / 9 * 3, 8.0f / 9 * 3, 12.0f / 9 * 3, 16.0f / 9 * 3});
  // ncall = ceil(4 / 4) = 1; the matrix without tokens is stored as 1s.
  entry(want, "blk.0.ffn_down_exps.weight", 1, {0.25f, 0.5f, 1, 1, 2.5f, 3});
  i32(want, 2);  // chunk count
  i32(want, 8);
  want += "wiki.txt";  // the last dataset
  EXPECT_EQ(bytes_of(path), want);

  const Imatrix back = read_imatrix(path);
  EXPECT_EQ(back.format, ImatrixFormat::Legacy);
  EXPECT_EQ(back.chunk_count, 2u);
  EXPECT_EQ(back.chunk_size, 0u);
  EXPECT_EQ(back.datasets, (std::vector<std::string>{"wiki.txt"}));
  EXPECT_EQ(back.entries.at("blk.0.attn_q.weight").counts, (std::vector<int64_t>{3}));
  // Importance = stored / ncall.
  const auto v = importance_vectors(back);
  EXPECT_EQ(v.at("blk.0.attn_q.weight")[0], (4.0f / 9 * 3) / 3.0f);
  EXPECT_EQ(v.at("blk.0.ffn_down_exps.weight"), (std::vector<float>{0.25f, 0.5f, 1, 1, 2.5f, 3}));
}

TEST(ImatrixFile, LegacyReadWrittenAgainIsTheSameFile) {
  std::string dat;
  i32(dat, 1);
  entry(dat, "output.weight", 5, {1.5f, 2.5f});
  i32(dat, 5);
  i32(dat, 5);
  dat += "a.txt";
  const Imatrix m = parse_imatrix(reinterpret_cast<const uint8_t*>(dat.data()), dat.size(), "m.dat");
  EXPECT_EQ(importance_vectors(m).at("output.weight"), (std::vector<float>{1.5f / 5, 2.5f / 5}));
  const fs::path path = fixtures::temp_path("again.dat");
  write_imatrix(m, path, ImatrixFormat::Legacy);
  EXPECT_EQ(bytes_of(path), dat);
  // And as GGUF: sums and counts as read, so the importance stays stored / ncall.
  const fs::path g = fixtures::temp_path("again.gguf");
  write_imatrix(m, g, ImatrixFormat::Gguf);
  EXPECT_EQ(importance_vectors(read_imatrix(g)).at("output.weight"), (std::vector<float>{1.5f / 5, 2.5f / 5}));
}

TEST(ImatrixFile, LegacyWithoutTrailerAndNcallZeroKeepsTheValues) {
  std::string dat;
  i32(dat, 1);
  entry(dat, "blk.0.attn_k.weight", 0, {3, 4});
  const Imatrix m = parse_imatrix(reinterpret_cast<const uint8_t*>(dat.data()), dat.size(), "m.dat");
  EXPECT_EQ(m.chunk_count, 0u);
  EXPECT_TRUE(m.datasets.empty());
  EXPECT_EQ(importance_vectors(m).at("blk.0.attn_k.weight"), (std::vector<float>{3, 4}));
}

TEST(ImatrixFile, BadLegacyFilesAreClearErrors) {
  std::string good;
  i32(good, 1);
  entry(good, "a.weight", 1, {1, 2});
  ASSERT_EQ(error_of(good), "");
  EXPECT_NE(error_of("").find("empty file"), std::string::npos);
  EXPECT_NE(error_of("ab").find("truncated: the entry count"), std::string::npos);
  // Every proper prefix of a valid file (up to its trailer) is refused, never read past.
  for (size_t n = 1; n < good.size(); ++n) EXPECT_NE(error_of(good.substr(0, n)), "") << n;
  auto with = [](int32_t count, auto fill) {
    std::string s;
    i32(s, count);
    fill(s);
    return s;
  };
  EXPECT_NE(error_of(with(0, [](std::string&) {})).find("no data"), std::string::npos);
  EXPECT_NE(error_of(with(-3, [](std::string&) {})).find("entry count -3"), std::string::npos);
  EXPECT_NE(error_of(with(1, [](std::string& s) { i32(s, -1); })).find("name length -1"), std::string::npos);
  EXPECT_NE(error_of(with(1, [](std::string& s) { i32(s, 1 << 30); })).find("name length 1073741824"), std::string::npos);
  EXPECT_NE(error_of(with(1, [](std::string& s) { i32(s, 3), s += std::string("a\0b", 3), i32(s, 1), i32(s, 1), f32s(s, {1}); }))
                .find("NUL"),
            std::string::npos);
  EXPECT_NE(error_of(with(1, [](std::string& s) { entry(s, "a", -2, {1}); })).find("negative ncall"), std::string::npos);
  EXPECT_NE(error_of(with(1, [](std::string& s) { i32(s, 1), s += "a", i32(s, 1), i32(s, 0); })).find("value count 0"),
            std::string::npos);
  EXPECT_NE(error_of(with(1, [](std::string& s) { i32(s, 1), s += "a", i32(s, 1), i32(s, 1 << 29), f32s(s, {1}); }))
                .find("value count 536870912"),
            std::string::npos);
  EXPECT_NE(error_of(with(2, [](std::string& s) { entry(s, "a", 1, {1}), entry(s, "a", 1, {2}); })).find("twice"),
            std::string::npos);
  EXPECT_NE(error_of(with(2, [](std::string& s) { entry(s, "a", 1, {1}); })).find("entry 2 of 2"), std::string::npos);
  // A trailer is whole or absent.
  EXPECT_NE(error_of(good + "xy").find("the chunk count"), std::string::npos);
  std::string t = good;
  i32(t, -1);
  i32(t, 0);
  EXPECT_NE(error_of(t).find("negative chunk count"), std::string::npos);
  t = good;
  i32(t, 1);
  EXPECT_NE(error_of(t).find("dataset name's length"), std::string::npos);
  t = good;
  i32(t, 1), i32(t, 10), t += "abc";
  EXPECT_NE(error_of(t).find("dataset name length 10"), std::string::npos);
  t = good;
  i32(t, 1), i32(t, 3), t += "abcd";
  EXPECT_NE(error_of(t).find("1 bytes after the dataset name"), std::string::npos);
}

TEST(ImatrixFile, BadGgufFilesAreClearErrors) {
  EXPECT_EQ(gguf_error(GgufParts{}), "");
  {
    GgufParts p;
    p.kv.pop_back();
    EXPECT_NE(gguf_error(p).find("missing imatrix.chunk_size"), std::string::npos);
  }
  {
    GgufParts p;
    p.kv[2].second = GgufValue::i32(1);
    EXPECT_NE(gguf_error(p).find("imatrix.chunk_count"), std::string::npos);
  }
  {
    GgufParts p;
    p.kv[1].second = GgufValue::string("w.txt");
    EXPECT_NE(gguf_error(p).find("imatrix.datasets"), std::string::npos);
  }
  {
    GgufParts p;
    p.kv[0].second = GgufValue::string("model");
    EXPECT_NE(gguf_error(p).find("general.type 'model', not an importance matrix"), std::string::npos);
  }
  {
    GgufParts p;
    p.tensors.pop_back();
    EXPECT_NE(gguf_error(p).find("'a.weight' has sums (.in_sum2) but no .counts"), std::string::npos);
  }
  {
    GgufParts p;
    p.tensors.erase(p.tensors.begin());
    EXPECT_NE(gguf_error(p).find(".counts but no sums"), std::string::npos);
  }
  {
    GgufParts p;
    p.tensors[0].type = GgmlType::F16;
    EXPECT_NE(gguf_error(p).find("must be F32"), std::string::npos);
  }
  {
    GgufParts p;
    p.tensors[1] = {"a.weight.counts", {3}, GgmlType::F32, {1, 1, 1}};
    EXPECT_NE(gguf_error(p).find("2 sums do not split into 3 matrices"), std::string::npos);
  }
  for (float bad : {-1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 1e30f}) {
    GgufParts p;
    p.tensors[1].values = {bad};
    EXPECT_NE(gguf_error(p).find("is not a count"), std::string::npos) << bad;
  }
  {
    GgufParts p;
    p.tensors = {{"other", {2}, GgmlType::F32, {1, 2}}};
    EXPECT_NE(gguf_error(p).find("no importance matrix entries"), std::string::npos);
  }
  // A damaged GGUF is the GGUF reader's error, not a legacy misreading.
  const fs::path path = fixtures::temp_path("cut.imatrix.gguf");
  write_imatrix(sample(), path, ImatrixFormat::Gguf);
  const std::string whole = bytes_of(path);
  // (The last tensor's padding may go: llama.cpp does not read it. 40 bytes cut into its data.)
  for (size_t n : {size_t(4), size_t(20), whole.size() / 2, whole.size() - 40})
    EXPECT_NE(error_of(whole.substr(0, n)), "") << n;
}

TEST(ImatrixFile, NonFiniteImportanceNamesTheTensor) {
  Imatrix m;
  m.entries["blk.3.ffn_down.weight"] = {{1, std::numeric_limits<float>::infinity()}, {2}};
  try {
    importance_vectors(m);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("blk.3.ffn_down.weight"), std::string::npos) << e.what();
  }
}

TEST(ImatrixFile, FailedWriteLeavesNothing) {
  const fs::path dir = fixtures::temp_path("imatrix-out");
  fs::create_directories(dir);
  Imatrix empty;
  EXPECT_THROW(write_imatrix(empty, dir / "m.gguf", ImatrixFormat::Gguf), UserError);
  EXPECT_THROW(write_imatrix(empty, dir / "m.dat", ImatrixFormat::Legacy), UserError);
  EXPECT_THROW(write_imatrix(sample(), dir / "missing" / "m.gguf", ImatrixFormat::Gguf), UserError);
  EXPECT_TRUE(fs::is_empty(dir));
}
