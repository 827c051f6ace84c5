#include "io/safetensors.h"

#include <gtest/gtest.h>

#include "temp_path.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/file_util.h"

using namespace lowbit;
using namespace lowbit::io;
namespace fs = std::filesystem;

static std::string make_file(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  uint64_t n = header.size();
  std::memcpy(s.data(), &n, 8);
  return s + header + std::string(data_bytes, '\x01');
}

static std::string error_of(const std::string& bytes) {
  try {
    parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.safetensors");
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, WriteThenRead) {
  fs::path p = fixtures::temp_path("st.safetensors");
  std::vector<float> a{1, 2, 3, 4, 5, 6};
  std::vector<int32_t> b{7, 8, 9};
  {
    SafetensorsWriter w(p, {{"a", DType::F32, {2, 3}}, {"b", DType::I32, {3}}});
    w.write_tensor("a", a.data(), 24);
    w.write_tensor("b", b.data(), 12);
    w.close();
  }
  SafetensorsFile f(p);
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorInfo* ta = f.find("a");
  ASSERT_TRUE(ta);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(f.data(*ta), a.data(), 24), 0);
  EXPECT_EQ(std::memcmp(f.data(*f.find("b")), b.data(), 12), 0);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  // Header is padded so that data starts 8-byte aligned.
  EXPECT_EQ((f.data(*ta) - f.data(*ta) + 0) % 8, 0);
  fs::remove(p);
}

TEST(Safetensors, RejectsCorruptHeaders) {
  EXPECT_NE(error_of("abc").find("truncated"), std::string::npos);
  EXPECT_NE(error_of(make_file("not json", 0)).find("not valid JSON"), std::string::npos);
  std::string huge(8, '\0');
  huge[0] = '\x40';  // header length 64 > file size
  EXPECT_NE(error_of(huge).find("exceeds file size"), std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4))
                .find("tensor w: offsets [0,8) exceed data size 4"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8))
                .find("need 12 bytes but data_offsets span 8"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8)).find("reversed"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)).find("gap"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", 4)).find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)).find("shape"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 9)).find("trailing"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4))
                .find("impossible"),
            std::string::npos);
  EXPECT_EQ(error_of(make_file(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", 4)),
            "");
}

TEST(Safetensors, FuzzedBytesNeverCrash) {
  // Cheap in-test fuzz: random mutations of a valid file must parse or throw UserError.
  std::string good = make_file(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                               R"("b":{"dtype":"I8","shape":[4],"data_offsets":[16,20]}})", 20);
  uint64_t s = 1;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string m = good;
    int flips = 1 + iter % 4;
    for (int k = 0; k < flips; ++k) {
      s = s * 6364136223846793005ull + 1;
      size_t pos = (s >> 33) % m.size();
      m[pos] = char((s >> 17) & 0xff);
    }
    if (iter % 7 == 0) m.resize((s >> 40) % m.size());
    try {
      auto h = parse_safetensors_header(reinterpret_cast<const uint8_t*>(m.data()), m.size(), "f");
      for (const auto& t : h.tensors) ASSERT_LE(h.data_start + t.end, m.size());
    } catch (const UserError&) {
    }
  }
}
