// `lowbit imatrix` and `lowbit quantize --imatrix` on generated tiny models: both file forms,
// inspect, and every bad input as one error line, exit 2, no output left behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <string>

#include "io/file_util.h"
#include "io/imatrix_file.h"
#include "run_cli.h"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

using e2e::Result;
using e2e::run;

class ImatrixCli : public e2e::RootTest {
 protected:
  void SetUp() override {
    RootTest::SetUp();
    model = e2e::write_byte_model(root / "model");
    calib = e2e::write_fox_text(root / "calib.txt", 2000);
  }
  // One "error:" line naming `words`, exit 2, and neither the output nor a temporary left.
  void expect_error(const std::string& args, const std::string& words, const fs::path& out) {
    e2e::expect_error(args, words);
    e2e::expect_no_output(out, root);
  }
  std::string imatrix_args(const fs::path& out) {
    return "imatrix " + model.string() + " --calib " + calib.string() + " --seq-len 64 --samples 4 --progress off -o " +
           out.string();
  }
  fs::path model, calib;
};

}  // namespace

TEST_F(ImatrixCli, WritesBothFormsThatInspectAndQuantizeRead) {
  EXPECT_NE(run("imatrix --help").out.find("Examples:"), std::string::npos);
  const fs::path g = root / "m.imatrix.gguf", d = root / "m.imatrix.dat";
  Result r = run(imatrix_args(g));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("imatrix: 14 entries, 256 tokens (4 chunks of 64)"), std::string::npos) << r.out;
  r = run(imatrix_args(d) + " --output-format dat --process-output");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("imatrix: 15 entries"), std::string::npos) << r.out;
  // The legacy form stores sum / tokens * ncall: the importance is the same from both files.
  const auto from_gguf = io::importance_vectors(io::read_imatrix(g));
  const auto from_dat = io::importance_vectors(io::read_imatrix(d));
  for (const auto& [name, v] : from_gguf) {
    ASSERT_TRUE(from_dat.count(name)) << name;
    for (size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(from_dat.at(name)[i], v[i]) << name;
  }
  r = run("inspect " + g.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("importance matrix, GGUF form"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("entries:  14 (blk.0.attn_k.weight ... blk.1.ffn_up.weight)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chunks:   4 of 64 tokens"), std::string::npos) << r.out;
  r = run("inspect " + d.string());
  EXPECT_NE(r.out.find("importance matrix, legacy (.dat) form"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output.weight: present"), std::string::npos) << r.out;
  // The mix with an importance matrix (--dry-run: the tiny tokenizer has no GGUF form).
  r = run("quantize " + model.string() + " -o " + (root / "q.gguf").string() + " --gguf-type Q4_0 --dry-run --imatrix " +
          d.string());
  EXPECT_EQ(r.rc, 0) << r.out;
  // An existing output is kept unless --overwrite.
  expect_error(imatrix_args(g), "already exists", root / "none");
  EXPECT_EQ(run(imatrix_args(g) + " --overwrite").rc, 0);
}

TEST_F(ImatrixCli, BadInputsAreOneClearError) {
  const fs::path out = root / "out.imatrix.gguf";
  expect_error("imatrix " + model.string() + " --calib " + (root / "missing.txt").string() + " -o " + out.string(),
               "missing.txt", out);
  const fs::path tiny_text = root / "short.txt";
  io::write_text_file(tiny_text, "too short");
  expect_error("imatrix " + model.string() + " --calib " + tiny_text.string() + " --seq-len 64 -o " + out.string(),
               "fewer than one chunk of 64", out);
  expect_error(imatrix_args(root / "no-such-folder" / "m.gguf"), "output's folder does not exist", out);
  expect_error("imatrix " + model.string() + " --calib " + calib.string() + " --seq-len 8 -o " + out.string(),
               "--seq-len must be at least 16", out);
  const Result bad_format = run(imatrix_args(out) + " --output-format npz");  // CLI11's own message
  EXPECT_EQ(bad_format.rc, 2);
  EXPECT_NE(bad_format.out.find("npz not in {gguf,dat}"), std::string::npos) << bad_format.out;

  const fs::path q = root / "q.gguf";
  const std::string quantize = "quantize " + model.string() + " -o " + q.string() + " --gguf-type Q4_0 --progress off ";
  expect_error(quantize + "--imatrix " + (model / "config.json").string(), "legacy imatrix (.dat)", q);
  expect_error(quantize + "--imatrix " + (root / "none.gguf").string(), "none.gguf", q);
  io::Imatrix m;
  m.chunk_size = 64;
  m.entries["blk.0.attn_q.weight"] = {std::vector<float>(7, 1.0f), {64}};
  io::write_imatrix(m, root / "wrong.gguf", io::ImatrixFormat::Gguf);
  expect_error(quantize + "--imatrix " + (root / "wrong.gguf").string(),
               "imatrix size 7 is different from tensor size 256 for blk.0.attn_q.weight", q);
  m.entries["blk.0.attn_q.weight"] = {std::vector<float>(256, 1.0f), {64}};
  m.entries["blk.0.attn_q.weight"].sums[3] = std::numeric_limits<float>::infinity();
  io::write_imatrix(m, root / "inf.gguf", io::ImatrixFormat::Gguf);
  expect_error(quantize + "--imatrix " + (root / "inf.gguf").string(), "blk.0.attn_q.weight holds a non-finite value",
               q);
  expect_error(quantize + "--imatrix " + (root / "wrong.gguf").string() + " --calib " + calib.string(), "give one of them",
               q);
  expect_error("quantize " + model.string() + " -o " + (root / "ct").string() + " --scheme W4A16 --imatrix " +
                   (root / "wrong.gguf").string(),
               "--imatrix is for GGUF output", root / "ct");
}

// GPTQ's codes into GGUF in one command: types whose grid is not a compressed-tensors one, and
// requests the GGUF export would refuse (here the tiny tokenizer, which llama.cpp cannot take),
// fail before the method runs (the run itself: tests/compat/test_gguf_from_compressed.py).
TEST_F(ImatrixCli, GptqIntoGgufRefusesBeforeCalibrating) {
  const fs::path k = root / "k.gguf";
  const std::string gptq = "quantize " + model.string() + " -o " + k.string() + " --method gptq --progress off ";
  const std::string awq = "quantize " + model.string() + " -o " + k.string() + " --method awq --progress off ";
  expect_error(awq + "--calib " + calib.string() + " --gguf-type Q4_K_M",
               "Q4_0 (int4 symmetric, group 32), Q4_1 (asymmetric) or Q8_0", k);
  expect_error(gptq + "--calib " + calib.string() + " --gguf-type Q4_K_M --imatrix " + calib.string(),
               "GPTQ computes its own", k);
  expect_error(gptq + "--gguf-type Q4_0", "needs calibration data", k);
  const Result r = run(gptq + "--calib " + calib.string() + " --gguf-type Q4_0 --gguf-pre gpt-2");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("tokenizer.json"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("calibration:"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(k));
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_EQ(e.path().filename().string().find(".lowbit"), std::string::npos) << e.path();
}
