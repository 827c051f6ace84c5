#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "core/error.h"
#include "io/file_util.h"
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

// The message parse_gguf_header gives for these bytes; "" if they parse.
std::string error_of(const std::string& bytes) {
  return fixtures::error_of(
      [&] { parse_gguf_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.gguf"); });
}

template <class T>
void poke(std::string& bytes, size_t at, T v) {
  ASSERT_LE(at + sizeof v, bytes.size());
  std::memcpy(bytes.data() + at, &v, sizeof v);
}

// Offset just after the first occurrence of `needle` (a key or tensor name) in the file.
size_t after(const std::string& bytes, const std::string& needle) {
  size_t at = bytes.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return at + needle.size();
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
  return v;
}

// A valid file with keys and tensors the bad-input cases patch:
//   general.architecture = "llama", k.u32 = 7, k.arr = [1, 2, 3] (i32), k.str = ["x", "yz"];
//   t0 f32 [4, 2], t1 q4_K [256] (written as [256, 1]), t2 f16 [3].
std::string valid_file(const std::string& name = "valid.gguf") {
  fs::path p = fixtures::temp_path(name);
  GgufWriter w(p);
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("k.u32", GgufValue::u32(7));
  w.set("k.arr", GgufValue::i32s({1, 2, 3}));
  w.set("k.str", GgufValue::strings({"x", "yz"}));
  w.add_tensor("t0", {4, 2}, GgmlType::F32);
  w.add_tensor("t1", {256, 1}, GgmlType::Q4_K);
  w.add_tensor("t2", {3}, GgmlType::F16);
  auto a = pattern(32, 1), b = pattern(144, 2), c = pattern(6, 3);
  w.write_tensor("t0", a.data(), a.size());
  w.write_tensor("t1", b.data(), b.size());
  w.write_tensor("t2", c.data(), c.size());
  w.finish();
  return bytes_of(p);
}

}  // namespace

TEST(GgufValue, FactoriesAndGetters) {
  EXPECT_EQ(GgufValue::u8(200).as_u8(), 200);
  EXPECT_EQ(GgufValue::i8(-5).as_i8(), -5);
  EXPECT_EQ(GgufValue::u16(60000).as_u16(), 60000);
  EXPECT_EQ(GgufValue::i16(-30000).as_i16(), -30000);
  EXPECT_EQ(GgufValue::u32(4000000000u).as_u32(), 4000000000u);
  EXPECT_EQ(GgufValue::i32(-2000000000).as_i32(), -2000000000);
  EXPECT_EQ(GgufValue::f32(1.5f).as_f32(), 1.5f);
  EXPECT_TRUE(GgufValue::boolean(true).as_bool());
  EXPECT_FALSE(GgufValue::boolean(false).as_bool());
  EXPECT_EQ(GgufValue::u64(1ull << 60).as_u64(), 1ull << 60);
  EXPECT_EQ(GgufValue::i64(-(1ll << 60)).as_i64(), -(1ll << 60));
  EXPECT_EQ(GgufValue::f64(0.1).as_f64(), 0.1);
  EXPECT_EQ(GgufValue::string("héllo").as_string(), "héllo");
  EXPECT_EQ(GgufValue::u32(1).type(), GgufValueType::U32);
  auto arr = GgufValue::f32s({1, 2.5f});
  EXPECT_EQ(arr.type(), GgufValueType::ARRAY);
  EXPECT_EQ(arr.element_type(), GgufValueType::F32);
  EXPECT_EQ(arr.array_size(), 2u);
  EXPECT_EQ(arr.as_f32s(), (std::vector<float>{1, 2.5f}));
  EXPECT_EQ(GgufValue::strings({"a", ""}).as_strings(), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(GgufValue::bools({true, false, true}).as_bools(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(GgufValue::strings({}).array_size(), 0u);
  EXPECT_TRUE(GgufValue::u32(3) == GgufValue::u32(3));
  EXPECT_FALSE(GgufValue::u32(3) == GgufValue::i32(3));
  EXPECT_FALSE(GgufValue::i32s({1}) == GgufValue::u32s({1}));
}

TEST(GgufValue, TypedGettersDoNotWiden) {
  // llama.cpp reads a u64 where it wants a u32 as an error: so do we.
  try {
    GgufValue::u64(5).as_u32();
    FAIL() << "as_u32 on a u64 returned";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "GGUF value has type u64, expected u32");
  }
  EXPECT_THROW(GgufValue::i32(5).as_u32(), UserError);
  EXPECT_THROW(GgufValue::f64(5).as_f32(), UserError);
  EXPECT_THROW(GgufValue::u8(1).as_bool(), UserError);
  EXPECT_THROW(GgufValue::u32(1).array_size(), UserError);
  EXPECT_THROW(GgufValue::u32(1).as_string(), UserError);
  try {
    GgufValue::u32s({1}).as_i32s();
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "GGUF value has type arr[u32], expected arr[i32]");
  }
  EXPECT_THROW(GgufValue::string("a").as_strings(), UserError);
}

TEST(GgufFile, RoundTripsEveryValueTypeAndTensorTypes) {
  fs::path p = fixtures::temp_path("all.gguf");
  std::vector<std::pair<std::string, GgufValue>> kvs = {
      {"general.architecture", GgufValue::string("llama")},
      {"v.u8", GgufValue::u8(255)},
      {"v.i8", GgufValue::i8(-128)},
      {"v.u16", GgufValue::u16(65535)},
      {"v.i16", GgufValue::i16(-32768)},
      {"v.u32", GgufValue::u32(4294967295u)},
      {"v.i32", GgufValue::i32(std::numeric_limits<int32_t>::min())},
      {"v.f32", GgufValue::f32(-0.1f)},
      {"v.bool", GgufValue::boolean(true)},
      {"v.str", GgufValue::string("")},
      {"v.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max())},
      {"v.i64", GgufValue::i64(std::numeric_limits<int64_t>::min())},
      {"v.f64", GgufValue::f64(std::nan(""))},
      {"a.u8", GgufValue::u8s({0, 1, 255})},
      {"a.i8", GgufValue::i8s({-1, 2})},
      {"a.u16", GgufValue::u16s({1, 65535})},
      {"a.i16", GgufValue::i16s({-2, 3})},
      {"a.u32", GgufValue::u32s({7, 8, 9})},
      {"a.i32", GgufValue::i32s({-7, 8})},
      {"a.f32", GgufValue::f32s({1.25f, -std::numeric_limits<float>::infinity()})},
      {"a.bool", GgufValue::bools({false, true})},
      {"a.u64", GgufValue::u64s({1ull << 63})},
      {"a.i64", GgufValue::i64s({-1})},
      {"a.f64", GgufValue::f64s({1e300, -0.0})},
      {"a.str", GgufValue::strings({"Ġthe", "", "<0x0A>"})},
      {"a.empty", GgufValue::u32s({})},
  };
  struct T {
    std::string name;
    std::vector<int64_t> ne, ne_read;
    GgmlType type;
    uint64_t nbytes;
  };
  std::vector<T> specs = {
      {"norm.weight", {5}, {5}, GgmlType::F32, 20},
      {"f16.weight", {3, 2}, {3, 2}, GgmlType::F16, 12},
      {"q8.weight", {64, 2}, {64, 2}, GgmlType::Q8_0, 4 * 34},
      {"q4k.weight", {512, 3}, {512, 3}, GgmlType::Q4_K, 2 * 3 * 144},
      {"bf16.weight", {2, 3, 4}, {2, 3, 4}, GgmlType::BF16, 48},
      {"trailing.weight", {8, 1, 1}, {8}, GgmlType::F32, 32},
      {"q6k.weight", {256, 1, 2}, {256, 1, 2}, GgmlType::Q6_K, 2 * 210},
      {"empty.weight", {0, 4}, {0, 4}, GgmlType::F32, 0},
  };
  std::vector<std::vector<uint8_t>> data;
  uint64_t written = 0;
  {
    GgufWriter w(p);
    for (const auto& [k, v] : kvs) w.set(k, v);
    for (const auto& t : specs) w.add_tensor(t.name, t.ne, t.type);
    for (size_t i = 0; i < specs.size(); ++i) {
      data.push_back(pattern(specs[i].nbytes, uint8_t(i)));
      w.write_tensor(specs[i].name, data[i].data(), data[i].size());
    }
    written = w.finish();
  }
  EXPECT_EQ(written, fs::file_size(p));
  GgufFile f(p);
  EXPECT_EQ(f.header().version, 3u);
  EXPECT_EQ(f.header().alignment, 32u);
  EXPECT_EQ(f.header().data_start % 32, 0u);
  ASSERT_EQ(f.header().metadata.size(), kvs.size());
  for (size_t i = 0; i < kvs.size(); ++i) {
    EXPECT_EQ(f.header().metadata[i].first, kvs[i].first);  // insertion order kept
    EXPECT_TRUE(f.header().metadata[i].second == kvs[i].second) << kvs[i].first;
  }
  EXPECT_EQ(f.get("v.i64").as_i64(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(std::isnan(f.get("v.f64").as_f64()));
  EXPECT_EQ(f.get("a.str").as_strings()[0], "Ġthe");
  EXPECT_EQ(f.get("a.empty").array_size(), 0u);
  EXPECT_EQ(f.find("absent"), nullptr);
  ASSERT_EQ(f.tensors().size(), specs.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const GgufTensorInfo* t = f.find_tensor(specs[i].name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t, &f.tensors()[i]);
    EXPECT_EQ(t->ne, specs[i].ne_read) << t->name;
    EXPECT_EQ(t->type, specs[i].type);
    EXPECT_EQ(t->nbytes, specs[i].nbytes);
    EXPECT_EQ(t->offset, offset);
    EXPECT_EQ((f.header().data_start + t->offset) % 32, 0u);
    if (!data[i].empty()) {
      EXPECT_EQ(std::memcmp(f.data(*t), data[i].data(), data[i].size()), 0) << t->name;
      f.release(*t);
      EXPECT_EQ(std::memcmp(f.data(*t), data[i].data(), data[i].size()), 0) << "readable after release";
    }
    offset += (specs[i].nbytes + 31) / 32 * 32;
  }
  // padding after the last tensor too
  EXPECT_EQ(fs::file_size(p), f.header().data_start + offset);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

TEST(GgufFile, CustomAlignment) {
  fs::path p = fixtures::temp_path("align64.gguf");
  {
    GgufWriter w(p);
    w.set("general.architecture", GgufValue::string("qwen2"));
    w.add_tensor("a", {3}, GgmlType::F32);
    w.add_tensor("b", {32}, GgmlType::Q8_0);
    w.set("general.alignment", GgufValue::u32(64));  // after add_tensor: offsets follow it
    auto a = pattern(12, 1), b = pattern(34, 2);
    w.write_tensor("a", a.data(), 12);
    w.write_tensor("b", b.data(), 34);
    const uint64_t bytes = w.finish();
    EXPECT_EQ(bytes, fs::file_size(p));
  }
  GgufFile f(p);
  EXPECT_EQ(f.header().alignment, 64u);
  EXPECT_EQ(f.header().data_start % 64, 0u);
  EXPECT_EQ(f.find_tensor("b")->offset, 64u);
  EXPECT_EQ(fs::file_size(p), f.header().data_start + 128);
  EXPECT_EQ(f.data(*f.find_tensor("b"))[0], pattern(1, 2)[0]);
}

TEST(GgufFile, NoTensors) {
  fs::path p = fixtures::temp_path("meta-only.gguf");
  GgufWriter w(p);
  w.set("general.architecture", GgufValue::string("llama"));
  w.finish();
  GgufFile f(p);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get("general.architecture").as_string(), "llama");
}

TEST(GgufFile, ExactBytesOfATinyFile) {
  fs::path p = fixtures::temp_path("tiny.gguf");
  {
    GgufWriter w(p);
    w.set("a", GgufValue::u32(7));
    w.add_tensor("t", {2}, GgmlType::F32);
    const float v[2] = {1.0f, 2.0f};
    w.write_tensor("t", v, sizeof v);
    EXPECT_EQ(w.finish(), 128u);
  }
  // Worked out by hand from the format: header 24 bytes, the KV 17, the tensor info 33 (=74),
  // zero padding to 96, 8 bytes of data, zero padding to 128.
  const unsigned char want[] = {
      'G', 'G', 'U', 'F', 3, 0, 0, 0,          // magic, version 3
      1, 0, 0, 0, 0, 0, 0, 0,                  // tensor count (int64) first
      1, 0, 0, 0, 0, 0, 0, 0,                  // then the KV count
      1, 0, 0, 0, 0, 0, 0, 0, 'a',             // key: u64 length + bytes
      4, 0, 0, 0,                              // value type u32
      7, 0, 0, 0,                              // value
      1, 0, 0, 0, 0, 0, 0, 0, 't',             // tensor name
      1, 0, 0, 0,                              // n_dims
      2, 0, 0, 0, 0, 0, 0, 0,                  // ne[0]
      0, 0, 0, 0,                              // ggml type f32
      0, 0, 0, 0, 0, 0, 0, 0,                  // offset 0
  };
  std::string expect(reinterpret_cast<const char*>(want), sizeof want);
  ASSERT_EQ(expect.size(), 74u);
  expect.resize(96, '\0');
  const unsigned char data[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40};  // 1.0f, 2.0f
  expect.append(reinterpret_cast<const char*>(data), sizeof data);
  expect.resize(128, '\0');
  EXPECT_EQ(bytes_of(p), expect);
}

TEST(GgufFile, ValidFileParsesAndVersion2IsAccepted) {
  std::string b = valid_file("v2.gguf");
  EXPECT_EQ(error_of(b), "");
  poke<uint32_t>(b, 4, 2);
  EXPECT_EQ(error_of(b), "");
}

TEST(GgufFile, RejectsBadMagicAndVersion) {
  const std::string good = valid_file("magic.gguf");
  std::string b = good;
  std::memcpy(b.data(), "GGML", 4);
  EXPECT_EQ(error_of(b), "x.gguf: not a GGUF file: magic is 'GGML', expected 'GGUF'");
  EXPECT_NE(error_of("GG").find("truncated: 2 bytes"), std::string::npos);
  b = good;
  poke<uint32_t>(b, 4, 4);
  EXPECT_NE(error_of(b).find("GGUF version 4 is newer than 3"), std::string::npos);
  poke<uint32_t>(b, 4, 1);
  EXPECT_NE(error_of(b).find("GGUF version 1 is no longer supported"), std::string::npos);
  poke<uint32_t>(b, 4, 0);
  EXPECT_NE(error_of(b).find("bad GGUF version 0"), std::string::npos);
  poke<uint32_t>(b, 4, 0x03000000);  // a big-endian file's version 3
  EXPECT_NE(error_of(b).find("GGUF version 50331648 is not 2 or 3"), std::string::npos);
  EXPECT_NE(error_of(b).find("big-endian"), std::string::npos);
}

TEST(GgufFile, RejectsImpossibleCounts) {
  const std::string good = valid_file("counts.gguf");
  std::string b = good;
  poke<int64_t>(b, 8, 1'000'000'000'000);
  EXPECT_NE(error_of(b).find("header claims 1000000000000 tensors and 4 key-value pairs, impossible in a file of"),
            std::string::npos);
  b = good;
  poke<int64_t>(b, 16, -1);
  EXPECT_NE(error_of(b).find("impossible"), std::string::npos);
  b = good;
  poke<int64_t>(b, 16, 5);  // one KV more than there is: the reader runs into the tensor infos
  EXPECT_NE(error_of(b), "");
}

TEST(GgufFile, RejectsBadStrings) {
  const std::string good = valid_file("strings.gguf");
  const size_t key_len_at = good.find("k.u32") - 8;
  std::string b = good;
  poke<uint64_t>(b, key_len_at, (1ull << 30) + 1);
  EXPECT_NE(error_of(b).find("the key of key-value pair 1 at offset " + std::to_string(key_len_at) +
                             " has length 1073741825, over the 1 GiB limit"),
            std::string::npos);
  poke<uint64_t>(b, key_len_at, 100000);
  EXPECT_NE(error_of(b).find("has length 100000, past the end of the file"), std::string::npos);
  b = good;
  poke<uint64_t>(b, good.find("llama") - 8, 1000);  // the value of general.architecture
  EXPECT_NE(error_of(b).find("the value of key 'general.architecture'"), std::string::npos);
  b = good;
  poke<uint64_t>(b, key_len_at, 0);
  EXPECT_NE(error_of(b).find("key-value pair 1 at offset " + std::to_string(key_len_at) + " has an empty key"),
            std::string::npos);
}

TEST(GgufFile, RejectsBadValueTypes) {
  const std::string good = valid_file("types.gguf");
  std::string b = good;
  poke<int32_t>(b, after(good, "k.u32"), 13);
  EXPECT_NE(error_of(b).find("key 'k.u32' (offset "), std::string::npos);
  EXPECT_NE(error_of(b).find("has unknown value type 13"), std::string::npos);
  b = good;
  poke<int32_t>(b, after(good, "k.arr") + 4, int32_t(GgufValueType::ARRAY));
  EXPECT_NE(error_of(b).find("key 'k.arr' (offset "), std::string::npos);
  EXPECT_NE(error_of(b).find("is an array of arrays"), std::string::npos);
  b = good;
  poke<int32_t>(b, after(good, "k.arr") + 4, -3);
  EXPECT_NE(error_of(b).find("is an array of unknown value type -3"), std::string::npos);
  b = good;
  poke<uint64_t>(b, after(good, "k.arr") + 8, 1ull << 29);
  EXPECT_NE(error_of(b).find("key 'k.arr': array of 536870912 i32 at offset"), std::string::npos);
  EXPECT_NE(error_of(b).find("past the end of the file"), std::string::npos);
  poke<uint64_t>(b, after(good, "k.arr") + 8, 1ull << 31);
  EXPECT_NE(error_of(b).find("over llama.cpp's limit of 2^30 elements"), std::string::npos);
  b = good;
  poke<uint64_t>(b, after(good, "k.str") + 8, 1ull << 28);  // strings: 8 bytes each at least
  EXPECT_NE(error_of(b).find("key 'k.str': array of 268435456 str"), std::string::npos);
}

TEST(GgufFile, RejectsDuplicateKeys) {
  std::string b = valid_file("dupkey.gguf");
  std::memcpy(b.data() + b.find("k.u32"), "k.arr", 5);
  EXPECT_NE(error_of(b).find("duplicate key 'k.arr' (key-value pairs 1 and 2"), std::string::npos);
}

TEST(GgufFile, RejectsBadAlignment) {
  fs::path p = fixtures::temp_path("badalign.gguf");
  {
    GgufWriter w(p);
    w.set("general.alignment", GgufValue::u32(64));
    w.add_tensor("t", {4}, GgmlType::F32);
    auto d = pattern(16, 0);
    w.write_tensor("t", d.data(), 16);
    w.finish();
  }
  const std::string good = bytes_of(p);
  EXPECT_EQ(error_of(good), "");
  const size_t type_at = after(good, "general.alignment");
  std::string b = good;
  poke<int32_t>(b, type_at, int32_t(GgufValueType::I32));
  EXPECT_EQ(error_of(b), "x.gguf: key 'general.alignment' has type i32, expected u32");
  b = good;
  poke<uint32_t>(b, type_at + 4, 48);
  EXPECT_EQ(error_of(b), "x.gguf: key 'general.alignment' is 48, not a power of two");
  poke<uint32_t>(b, type_at + 4, 0);
  EXPECT_EQ(error_of(b), "x.gguf: key 'general.alignment' is 0, not a power of two");
}

TEST(GgufFile, RejectsBadTensorNames) {
  const std::string good = valid_file("names.gguf");
  const size_t t0_len_at = after(good, "yz") + 0;  // the KVs end with "yz": then t0's name
  ASSERT_EQ(good.substr(t0_len_at + 8, 2), "t0");
  std::string b = good;
  poke<uint64_t>(b, t0_len_at, 0);
  EXPECT_NE(error_of(b).find("tensor 0 at offset " + std::to_string(t0_len_at) + " has an empty name"),
            std::string::npos);
  b = good;
  std::memcpy(b.data() + b.find("t1"), "t0", 2);
  EXPECT_NE(error_of(b).find("duplicate tensor name 't0' (tensors 0 and 1"), std::string::npos);
  b = good;
  b[t0_len_at + 9] = '\0';
  EXPECT_NE(error_of(b).find("tensor 0 at offset " + std::to_string(t0_len_at) + " has a NUL byte in its name"),
            std::string::npos);

  // A 63-byte name is the longest llama.cpp takes; one byte more is refused.
  fs::path p = fixtures::temp_path("longname.gguf");
  const std::string name(63, 'n');
  {
    GgufWriter w(p);
    w.add_tensor(name, {1}, GgmlType::F32);
    const float one = 1;
    w.write_tensor(name, &one, 4);
    w.finish();
  }
  b = bytes_of(p);
  EXPECT_EQ(error_of(b), "");
  poke<uint64_t>(b, b.find(name) - 8, 64);
  EXPECT_NE(error_of(b).find("has a 64-byte name; llama.cpp allows at most 63 bytes"), std::string::npos);
}

TEST(GgufFile, RejectsBadShapesAndTypes) {
  const std::string good = valid_file("shapes.gguf");
  const size_t t0 = after(good, "t0");  // n_dims, ne[0], ne[1], type, offset
  const size_t t1 = after(good, "t1");  // n_dims, ne[0], type, offset
  std::string b = good;
  poke<uint32_t>(b, t0, 5);
  EXPECT_NE(error_of(b).find("tensor 't0' has n_dims 5, expected 1 to 4"), std::string::npos);
  poke<uint32_t>(b, t0, 0);
  EXPECT_NE(error_of(b).find("tensor 't0' has n_dims 0, expected 1 to 4"), std::string::npos);
  b = good;
  poke<int64_t>(b, t0 + 4, -4);
  EXPECT_NE(error_of(b).find("tensor 't0' has ne[0] = -4, negative"), std::string::npos);
  b = good;
  poke<int64_t>(b, t0 + 12, std::numeric_limits<int64_t>::max());
  EXPECT_NE(error_of(b).find("tensor 't0' has dimensions [4, 9223372036854775807] whose element count overflows int64"),
            std::string::npos);
  b = good;
  poke<int64_t>(b, t0 + 12, 1ll << 40);
  EXPECT_NE(error_of(b).find("tensor 't0' (f32 [4, 1099511627776]) needs 17592186044416 bytes, more than the whole file"),
            std::string::npos);
  b = good;
  poke<int32_t>(b, t0 + 20, 42);
  EXPECT_NE(error_of(b).find("tensor 't0' has ggml type id 42, which GGUF files may not hold (fork-specific"),
            std::string::npos);
  poke<int32_t>(b, t0 + 20, 4);
  EXPECT_NE(error_of(b).find("ggml type id 4, which GGUF files may not hold (removed from ggml)"), std::string::npos);
  poke<int32_t>(b, t0 + 20, 41);
  EXPECT_NE(error_of(b).find("ggml type id 41, which GGUF files may not hold (unknown)"), std::string::npos);
  poke<int32_t>(b, t0 + 20, -1);
  EXPECT_NE(error_of(b).find("ggml type id -1"), std::string::npos);
  b = good;
  poke<int64_t>(b, t1 + 4, 128);
  EXPECT_NE(error_of(b).find("tensor 't1' of type q4_K has ne[0] = 128, not a multiple of its block size 256"),
            std::string::npos);
}

TEST(GgufFile, RejectsOffsetsThatAreNotTheRunningPaddedSum) {
  const std::string good = valid_file("offsets.gguf");
  const size_t t2_offset_at = after(good, "t2") + 4 + 8 + 4;
  std::string b = good;
  // t0 takes 32 bytes, t1 144 padded to 160: t2 must be at 192
  poke<uint64_t>(b, t2_offset_at, 184);
  EXPECT_NE(error_of(b).find("tensor 't2' has offset 184, expected 192 (each tensor follows the previous one, "
                             "padded to the alignment 32)"),
            std::string::npos);
  poke<uint64_t>(b, after(good, "t0") + 24, 32);
  EXPECT_NE(error_of(b).find("tensor 't0' has offset 32, expected 0"), std::string::npos);
}

TEST(GgufFile, RejectsDataPastTheEnd) {
  const std::string good = valid_file("trunc.gguf");
  GgufHeader h = parse_gguf_header(reinterpret_cast<const uint8_t*>(good.data()), good.size(), "x.gguf");
  const GgufTensorInfo& t2 = h.tensors[2];
  const size_t t2_end = h.data_start + t2.offset + t2.nbytes;
  EXPECT_EQ(error_of(good.substr(0, t2_end)), "");  // the final padding is not needed to read
  EXPECT_EQ(error_of(good.substr(0, t2_end - 1)),
            "x.gguf: truncated: tensor 't2' takes bytes " + std::to_string(h.data_start + t2.offset) + " to " +
                std::to_string(t2_end) + " but the file ends at " + std::to_string(t2_end - 1));
  // Every shorter prefix is refused with a message, never a crash or a read past the end.
  for (size_t n = 0; n < t2_end; ++n) EXPECT_NE(error_of(good.substr(0, n)), "") << n;
  EXPECT_NE(error_of(good.substr(0, h.data_start - 1)).find("the tensor data would start at offset"),
            std::string::npos);
}

TEST(GgufFile, TypedGetterNamesFileAndKey) {
  fs::path p = fixtures::temp_path("ctx.gguf");
  {
    GgufWriter w(p);
    w.set("llama.context_length", GgufValue::u64(4096));
    w.finish();
  }
  GgufFile f(p);
  try {
    f.get("llama.context_length").as_u32();
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), p.string() + ": key 'llama.context_length' has type u64, expected u32");
  }
  try {
    f.get("llama.block_count");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), p.string() + ": key 'llama.block_count' is missing");
  }
  EXPECT_EQ(f.get("llama.context_length").as_u64(), 4096u);
}

TEST(GgufFile, NotAGgufFile) {
  fs::path p = fixtures::temp_path("empty.gguf");
  write_text_file(p, "");
  EXPECT_THROW(GgufFile{p}, UserError);
  EXPECT_THROW(GgufFile{fixtures::temp_path("missing.gguf")}, UserError);
}

TEST(GgufWriter, UnfinishedWriterLeavesNoFile) {
  fs::path dir = fixtures::temp_path("unfinished");
  fs::create_directories(dir);
  fs::path p = dir / "out.gguf";
  fs::path tmp;
  {
    GgufWriter w(p);
    tmp = w.temporary();
    EXPECT_EQ(tmp.parent_path(), fs::absolute(p).parent_path());
    w.set("general.architecture", GgufValue::string("llama"));
    w.add_tensor("a", {4}, GgmlType::F32);
    w.add_tensor("b", {4}, GgmlType::F32);
    const float d[4] = {};
    w.write_tensor("a", d, 16);
    EXPECT_TRUE(fs::exists(tmp));
    EXPECT_FALSE(fs::exists(p));
    EXPECT_THROW(w.finish(), std::logic_error);  // 'b' never written
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_THROW(GgufWriter(dir / "no-such-folder" / "x.gguf"), UserError);
  EXPECT_THROW(GgufWriter{dir}, UserError);  // a folder, not a file path
}

TEST(GgufWriter, FinishReplacesAnExistingFile) {
  fs::path p = fixtures::temp_path("replace.gguf");
  write_text_file(p, "old");
  GgufWriter w(p);
  w.set("k", GgufValue::u8(1));
  w.finish();
  EXPECT_EQ(GgufFile(p).get("k").as_u8(), 1);
}

TEST(GgufWriter, RejectsMisuse) {
  fs::path p = fixtures::temp_path("misuse.gguf");
  GgufWriter w(p);
  w.set("k", GgufValue::u32(1));
  EXPECT_THROW(w.set("k", GgufValue::u32(2)), std::logic_error);
  EXPECT_THROW(w.set("", GgufValue::u32(2)), std::logic_error);
  EXPECT_THROW(w.set("general.alignment", GgufValue::u32(48)), std::logic_error);
  EXPECT_THROW(w.set("general.alignment", GgufValue::u64(64)), std::logic_error);
  w.add_tensor("a", {32, 2}, GgmlType::Q8_0);
  w.add_tensor("b", {3}, GgmlType::F32);
  EXPECT_THROW(w.add_tensor("a", {3}, GgmlType::F32), std::logic_error);
  EXPECT_THROW(w.add_tensor("", {3}, GgmlType::F32), std::logic_error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'x'), {3}, GgmlType::F32), std::logic_error);
  EXPECT_THROW(w.add_tensor("q", {100}, GgmlType::Q4_K), std::logic_error);  // not a multiple of 256
  EXPECT_THROW(w.add_tensor("n", {-1}, GgmlType::F32), std::logic_error);
  EXPECT_THROW(w.add_tensor("five", {1, 2, 3, 4, 5}, GgmlType::F32), std::logic_error);
  EXPECT_THROW(w.add_tensor("none", {}, GgmlType::F32), std::logic_error);
  EXPECT_THROW(w.add_tensor("bad", {4}, GgmlType(4)), std::logic_error);
  std::vector<uint8_t> a(68), b(12);
  EXPECT_THROW(w.write_tensor("b", b.data(), 12), std::logic_error);      // out of order
  EXPECT_THROW(w.write_tensor("a", a.data(), 67), std::logic_error);      // wrong size
  w.write_tensor("a", a.data(), 68);
  EXPECT_THROW(w.set("late", GgufValue::u8(1)), std::logic_error);        // metadata is written
  EXPECT_THROW(w.add_tensor("late", {3}, GgmlType::F32), std::logic_error);
  w.write_tensor("b", b.data(), 12);
  EXPECT_THROW(w.write_tensor("b", b.data(), 12), std::logic_error);      // no more tensors
  w.finish();
  EXPECT_THROW(w.finish(), std::logic_error);
  GgufFile f(p);
  EXPECT_EQ(f.tensors().size(), 2u);
}
