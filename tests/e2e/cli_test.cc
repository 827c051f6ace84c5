// The CLI on generated tiny models: what a user sees, exit codes, and that failed
// runs leave no output folder behind.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>

#include <csignal>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "export/checkpoint_info.h"
#include "export/compressed_tensors.h"
#include "io/file_util.h"
#include "io/gguf.h"
#include "io/model_dir.h"
#include "numerics/half.h"
#include "run_cli.h"
#include "tiny_model.h"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

using e2e::Result;
using e2e::run;
using e2e::run_shell;

class Cli : public e2e::RootTest {
 protected:
  fs::path model(fixtures::TinyModelSpec s = {}) {
    fs::path d = root / ("m-" + s.arch + std::to_string(s.shards) + (s.tied ? "t" : ""));
    fixtures::write_tiny_model(d, s);
    return d;
  }
  // A failed run must leave neither the output nor a temporary folder.
  void expect_no_output(const fs::path& out) { e2e::expect_no_output(out, out.parent_path()); }
};

}  // namespace

TEST_F(Cli, HelpShowsExamples) {
  auto r = run("quantize --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("Examples:"), std::string::npos);
  EXPECT_NE(run("inspect --help").out.find("Example:"), std::string::npos);
  EXPECT_EQ(run("").rc, 2);
}

TEST_F(Cli, QuantizeShardedQwen2AndInspect) {
  fixtures::TinyModelSpec s;
  s.arch = "qwen2";
  s.shards = 3;
  fs::path m = model(s), out = root / "q";
  auto r = run("quantize " + m.string() + " -o " + out.string() +
          " --scheme W4A16_ASYM --ignore lm_head --max-shard-size 400KB --progress lines");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("14 modules quantized"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out / "model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(out / "recipe.yaml"));
  EXPECT_TRUE(fs::exists(out / "generation_config.json"));
  io::ModelDir q(out);
  EXPECT_GT(q.shards().size(), 1u);
  // Biases survive; asymmetric zero points are packed along the output dimension.
  EXPECT_TRUE(q.find("model.layers.0.self_attn.q_proj.bias"));
  const auto* zp = q.find("model.layers.0.mlp.down_proj.weight_zero_point");
  ASSERT_TRUE(zp);
  EXPECT_EQ(zp->info->shape, (std::vector<int64_t>{256 / 8, 512 / 128}));
  EXPECT_EQ(q.config()["quantization_config"]["ignore"], nlohmann::json({"lm_head"}));
  auto j = run("inspect --json " + out.string());
  ASSERT_EQ(j.rc, 0) << j.out;
  auto info = nlohmann::json::parse(j.out);
  EXPECT_EQ(info["architecture"], "Qwen2ForCausalLM");
  EXPECT_EQ(info["format"], "pack-quantized");
  // int4 + one bf16 scale and one packed 4-bit zero point per 128 weights: 4 + 16/128 + 4/128 bits.
  EXPECT_NEAR(info["linears"][0]["bytes"].get<double>() * 8 / info["linears"][0]["weights"].get<double>(),
              4.0 + 20.0 / 128 + 128.0 / (256 * 256), 1e-9);  // + the 16-byte weight_shape
}

TEST_F(Cli, OurDecompressorInvertsTheQuantizer) {
  fixtures::TinyModelSpec s;
  s.dtype = DType::F16;
  s.tied = true;
  fs::path m = model(s), out = root / "q";
  ASSERT_EQ(run("quantize " + m.string() + " -o " + out.string() + " --bits 8 --strategy channel --ignore lm_head").rc, 0);
  io::ModelDir in(m), q(out);
  auto scheme = exporter::recipe_from_quantization_config(q.config()["quantization_config"], "c").config_groups[0].second;
  auto qw = exporter::read_quantized(q, "model.layers.1.mlp.up_proj", scheme);
  EXPECT_EQ(qw.dense_dtype, DType::F16);
  std::vector<uint8_t> dense(size_t(qw.rows * qw.cols) * 2);
  dequantize(qw, dense.data());
  const auto& orig = in.at("model.layers.1.mlp.up_proj.weight");
  double err = 0, norm = 0;
  for (uint64_t i = 0; i < orig.info->numel(); ++i) {
    double a = load_as_f32(orig.data(), i, DType::F16), b = load_as_f32(dense.data(), i, DType::F16);
    err += (a - b) * (a - b);
    norm += a * a;
  }
  EXPECT_LT(std::sqrt(err / norm), 0.02);  // int8 per-channel: ~1% relative error with 8x outliers
  EXPECT_GT(err, 0.0);
  EXPECT_FALSE(q.find("lm_head.weight"));  // still tied
}

TEST_F(Cli, RefusesExistingOutputUnlessOverwrite) {
  fs::path m = model(), out = root / "q";
  fs::create_directories(out);
  auto r = run("quantize " + m.string() + " -o " + out.string() + " --scheme W4A16 --ignore lm_head");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("already exists"), std::string::npos);
  r = run("quantize " + m.string() + " -o " + out.string() + " --scheme W4A16 --ignore lm_head --overwrite");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(fs::exists(out / "config.json"));
}

TEST_F(Cli, BadInputsFailCleanly) {
  fs::path m = model(), out = root / "q";
  const std::string q = " -o " + out.string() + " --scheme W4A16 --ignore lm_head";
  auto expect_fail = [&](const fs::path& dir, const std::string& needle) {
    auto r = run("quantize " + dir.string() + q);
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << r.out;
    // One error line, the last thing printed (progress lines may come before it).
    auto last = r.out.rfind("error: ");
    EXPECT_NE(last, std::string::npos);
    EXPECT_EQ(r.out.find("error: "), last) << r.out;
    EXPECT_EQ(r.out.find('\n', last), r.out.size() - 1) << r.out;
    expect_no_output(out);
  };
  auto copy = [&](const std::string& name) {
    fs::path d = root / name;
    fs::copy(m, d, fs::copy_options::recursive);
    return d;
  };
  expect_fail(root / "nope", "not a directory");
  {
    fs::path d = copy("nocfg");
    fs::remove(d / "config.json");
    expect_fail(d, "config.json: missing");
  }
  {
    fs::path d = copy("badcfg");
    std::ofstream(d / "config.json") << "{ \"architectures\": [";
    expect_fail(d, "config.json: not valid JSON");
  }
  {
    fs::path d = copy("arch");
    std::ofstream(d / "config.json") << R"({"architectures": ["BertModel"]})";
    expect_fail(d, "unsupported architecture 'BertModel'");
  }
  {
    fs::path d = copy("trunc");
    fs::resize_file(d / "model.safetensors", fs::file_size(d / "model.safetensors") - 100);
    expect_fail(d, "model.safetensors: tensor lm_head.weight: offsets");
  }
  {
    fs::path d = copy("header");
    std::fstream f(d / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("#", 1);
    f.close();
    expect_fail(d, "model.safetensors: header is not valid JSON");
  }
  {
    fixtures::TinyModelSpec s;
    s.shards = 2;
    fs::path d = model(s);
    fs::remove(d / "model-00002-of-00002.safetensors");
    expect_fail(d, "names shard model-00002-of-00002.safetensors, which is missing");
  }
  {
    fs::path d = copy("nan");
    io::ModelDir md(d);
    const auto& t = md.at("model.layers.1.mlp.gate_proj.weight");
    // Locate the tensor's bytes in the file and poison one element with a bf16 NaN.
    std::ifstream in(d / "model.safetensors", std::ios::binary);
    uint64_t hlen = 0;
    in.read(reinterpret_cast<char*>(&hlen), 8);
    in.close();
    std::fstream f(d / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(8 + hlen + t.info->begin + 2 * (3 * 256 + 5)));
    uint16_t nan = 0x7fc0;
    f.write(reinterpret_cast<const char*>(&nan), 2);
    f.close();
    expect_fail(d, "tensor model.layers.1.mlp.gate_proj.weight: NaN at [3, 5]");
  }
}

TEST_F(Cli, ImpossibleRecipesAreRefusedBeforeWriting) {
  fs::path m = model(), out = root / "q";
  auto r = run("quantize " + m.string() + " -o " + out.string() + " --bits 4 --group-size 96 --ignore lm_head");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("model.layers.0.self_attn.q_proj (in_features 256)"), std::string::npos) << r.out;
  expect_no_output(out);
  r = run("quantize " + m.string() + " -o " + out.string() + " --scheme NVFP4");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("calibration"), std::string::npos) << r.out;
  r = run("quantize " + m.string() + " -o " + out.string() + " --scheme W4AFP8");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("not supported yet"), std::string::npos) << r.out;
  r = run("quantize " + m.string() + " -o " + out.string() + " --format fp4 --group-size 16 --asymmetric");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("asymmetric float quantization is not supported"), std::string::npos) << r.out;

  fs::path recipe = root / "gptq.yaml";
  std::ofstream(recipe) << "quant_stage:\n  quant_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n"
                           "      ignore: [lm_head]\n";
  r = run("quantize " + m.string() + " -o " + out.string() + " --recipe " + recipe.string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("GPTQModifier"), std::string::npos);
  // actorder group (weight_g_idx) was removed upstream: refused with the reason, not dropped.
  std::ofstream(recipe) << "quant_stage:\n  quant_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n"
                           "      actorder: group\n      ignore: [lm_head]\n";
  r = run("quantize " + m.string() + " -o " + out.string() + " --recipe " + recipe.string() + " --calib self:2");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("actorder group (groups in activation order, weight_g_idx) was removed from compressed-tensors"),
            std::string::npos) << r.out;
  r = run("quantize " + m.string() + " -o " + out.string() + " --scheme W4A16 --ignore 're:nothing.*' "
          "--ignore lm_head --dry-run");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("warning: ignore entry 're:nothing.*' matches no module"), std::string::npos) << r.out;
  expect_no_output(out);
}

TEST_F(Cli, FullDiskLeavesNothing) {
  // A file-size limit makes writes fail mid-shard (EFBIG), as a full disk does (ENOSPC).
  fixtures::TinyModelSpec s;
  s.layers = 4;
  fs::path m = model(s), out = root / "q";
  std::string cmd = "bash -c 'ulimit -f 200; exec " + std::string(LOWBIT_BINARY) + " quantize " + m.string() +
                    " -o " + out.string() + " --scheme W8A16 --ignore lm_head' 2>&1";
  auto r = run_shell(cmd);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("write failed: file too large"), std::string::npos) << r.out;
  expect_no_output(out);
}

TEST_F(Cli, InterruptLeavesNothing) {
  // Ctrl-C mid-run: the command stops between modules, removes its temporary folder, exits 2.
  fixtures::TinyModelSpec s;
  s.hidden = 1024;
  s.intermediate = 4096;
  s.layers = 6;
  s.heads = 8;
  s.kv_heads = 8;
  fs::path m = model(s), out = root / "q";
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(LOWBIT_BINARY, LOWBIT_BINARY, "quantize", m.c_str(), "-o", out.c_str(), "--scheme", "W8A16",
          "--ignore", "lm_head", "--threads", "1", (char*)nullptr);
    _exit(127);
  }
  // Wait until the temporary output folder exists, then interrupt.
  bool started = false;
  for (int i = 0; i < 2000 && !started; ++i) {
    for (const auto& e : fs::directory_iterator(root))
      if (e.path().filename().string().find(".q.lowbit-tmp") == 0) started = true;
    if (!started) usleep(1000);
  }
  ASSERT_TRUE(started);
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  if (WEXITSTATUS(st) == 0) GTEST_SKIP() << "finished before the signal arrived";
  EXPECT_EQ(WEXITSTATUS(st), 2);
  expect_no_output(out);
}

TEST_F(Cli, BlockAndGroupShapesAreCheckedPerLayer) {
  // hidden 320: q/k/v/o/gate/up take 320 inputs (not a multiple of 128 or 32... 320 = 10 x 32),
  // down_proj takes 512. FP8_BLOCK (128 wide) must list the six 320-input layers of each layer.
  fixtures::TinyModelSpec s;
  s.hidden = 320;
  s.heads = 5;
  s.kv_heads = 5;
  fs::path m = model(s), out = root / "q";
  auto r = run("quantize " + m.string() + " -o " + out.string() + " --scheme FP8_BLOCK --ignore lm_head");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("12 targeted layer(s) have an input size not divisible by block width 128"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("model.layers.1.mlp.up_proj (in_features 320)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("down_proj"), std::string::npos) << r.out;
  expect_no_output(out);
  // MXFP4's 32-wide groups divide 320 and 512: fine.
  r = run("quantize " + m.string() + " -o " + out.string() + " --scheme MXFP4A16 --ignore lm_head");
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST_F(Cli, FormatsTableAndSeedExample) {
  auto t = run("formats");
  ASSERT_EQ(t.rc, 0) << t.out;
  EXPECT_NE(t.out.find("fp8_e4m3     8 E4M3             448"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("fp4_e2m1     4 E2M1               6"), std::string::npos);
  // The seed's example: symmetric int4 in [-7, 7] with scale amax / 7.
  auto r = run("formats --quantize 0.12,-0.41,0.93,-0.05,0.55,-0.88,0.27,0.02 --restricted-range");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("scale[0] = 0.132857144"), std::string::npos) << r.out;  // 0.93 / 7
  std::vector<int> codes;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    int i, code;
    float value;
    if (std::sscanf(line.c_str(), "%d %f %d", &i, &value, &code) == 3) codes.push_back(code);
  }
  EXPECT_EQ(codes, (std::vector<int>{1, -3, 7, 0, 4, -7, 2, 0}));
  auto bad = run("formats --quantize 0.1,0.2,0.3 --scheme MXFP4A16");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.out.find("not divisible by group size 32"), std::string::npos) << bad.out;
  EXPECT_EQ(run("formats --quantize 0.1,abc").rc, 2);
}

TEST_F(Cli, ReadmeSchemeTableIsTheOneThePresetTablePrints) {
  // The README's scheme table is generated (`lowbit formats --markdown`); this keeps it current.
  auto t = run("formats --markdown");
  ASSERT_EQ(t.rc, 0) << t.out;
  std::ifstream in(std::string(LOWBIT_SOURCE_DIR) + "/README.md");
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(readme.find(t.out), std::string::npos) << "README.md lacks the current table:\n" << t.out;
  EXPECT_NE(t.out.find("| `NVFP4A16` |"), std::string::npos);
}

namespace {
// Deterministic English-like text for calibration.
std::string calibration_text(size_t bytes) {
  static const char* words[] = {"the", "model", "quantized", "weights", "of", "a", "layer", "keep", "their",
                                "meaning", "when", "errors", "are", "fed", "forward", "through", "columns", "and"};
  std::string t;
  uint64_t s = 7;
  while (t.size() < bytes) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t += words[(s >> 33) % (sizeof words / sizeof *words)];
    t += (s >> 20) % 11 == 0 ? ".\n" : " ";
  }
  return t;
}
}  // namespace

TEST_F(Cli, GptqFromTextCalibrationWritesALoadableCheckpoint) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), out = root / "g", rtn = root / "r", calib = root / "calib.txt";
  std::ofstream(calib) << calibration_text(40000);
  const std::string common = " --scheme W4A16 --group-size 64 --ignore lm_head --progress off --no-report";
  auto r = run("quantize " + m.string() + " -o " + out.string() + common + " --method gptq --calib " + calib.string() +
               " --samples 16 --seq-len 128");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("calibration: plain text, 16 samples, 2048 tokens"), std::string::npos) << r.out;
  ASSERT_EQ(run("quantize " + m.string() + " -o " + rtn.string() + common).rc, 0);
  io::ModelDir g(out), q(rtn);
  const auto qc = g.config()["quantization_config"];
  EXPECT_EQ(qc["config_groups"]["group_0"]["weights"]["actorder"], "static");  // GPTQModifier's default
  EXPECT_EQ(qc["format"], "pack-quantized");
  const std::string recipe = io::read_text_file(out / "recipe.yaml");
  EXPECT_NE(recipe.find("GPTQModifier"), std::string::npos) << recipe;
  EXPECT_NE(recipe.find("# calibration sha256: " + io::file_sha256(calib)), std::string::npos) << recipe;
  const auto report = nlohmann::json::parse(io::read_text_file(out / "quantization_report.json"));
  EXPECT_EQ(report["method"], "gptq");
  EXPECT_EQ(report["calibration"]["samples"], 16);
  // Same scales as round-to-nearest (fixed before the sweep), other codes (error feedback).
  const auto scheme = exporter::recipe_from_quantization_config(qc, "c").config_groups[0].second;
  const auto a = exporter::read_quantized(g, "model.layers.1.mlp.down_proj", scheme);
  const auto b = exporter::read_quantized(q, "model.layers.1.mlp.down_proj", scheme);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_NE(a.codes, b.codes);
  // It runs, and decompresses.
  EXPECT_EQ(run("dequantize " + out.string() + " -o " + (root / "d").string()).rc, 0);
  EXPECT_EQ(run("forward " + out.string() + " --tokens 1,2,3").rc, 0);
  // Reproducible: the same seed gives the same bytes.
  ASSERT_EQ(run("quantize " + m.string() + " -o " + (root / "g2").string() + common + " --method gptq --calib " +
                calib.string() + " --samples 16 --seq-len 128").rc, 0);
  EXPECT_EQ(io::file_sha256(out / "model.safetensors"), io::file_sha256(root / "g2" / "model.safetensors"));
}

TEST_F(Cli, SelfCalibrationNeedsNoDataset) {
  // --calib self:N: the model writes its own samples; reproducible, recorded in the report.
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), out = root / "s", out2 = root / "s2";
  const std::string q = "quantize " + m.string() + " --scheme W4A16 --group-size 64 --ignore lm_head --progress off "
                        "--no-report --method gptq --seq-len 32 --calib self:3 -o ";
  auto r = run(q + out.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("calibration: generated by the model (temperature 1, from token 1), 3 samples, 96 tokens"),
            std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(io::read_text_file(out / "quantization_report.json"));
  EXPECT_EQ(report["calibration"]["generated"], "self");
  EXPECT_EQ(report["calibration"]["samples"], 3);
  EXPECT_EQ(report["calibration"]["tokens"], 96);
  ASSERT_EQ(run(q + out2.string()).rc, 0);
  EXPECT_EQ(io::file_sha256(out / "model.safetensors"), io::file_sha256(out2 / "model.safetensors"));
  r = run(q + (root / "s3").string() + " --seed 7 --samples 5");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("--samples 5 is ignored"), std::string::npos) << r.out;
  EXPECT_NE(io::file_sha256(out / "model.safetensors"), io::file_sha256(root / "s3" / "model.safetensors"));
  r = run("quantize " + m.string() + " -o " + (root / "bad").string() + " --scheme W4A16 --group-size 64 --method gptq "
          "--calib self:0");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("expected self:N"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root / "bad"));
}

// Every file of folder `a` has the same bytes in folder `b`, and `b` has no others.
void expect_same_files(const fs::path& a, const fs::path& b) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(a)) {
    ++n;
    ASSERT_TRUE(fs::exists(b / e.path().filename())) << e.path().filename();
    EXPECT_EQ(io::file_sha256(e.path()), io::file_sha256(b / e.path().filename())) << e.path().filename();
  }
  EXPECT_EQ(n, size_t(std::distance(fs::directory_iterator(b), fs::directory_iterator())));
}

TEST_F(Cli, InterruptedCalibrationResumesToTheSameBytes) {
  // Killed after layer k, then --resume: the same checkpoint as one uninterrupted run.
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  s.layers = 4;
  fs::path m = model(s), calib = root / "calib.txt";
  std::ofstream(calib) << calibration_text(40000);
  const std::string text = " --calib " + calib.string() + " --samples 6 --seq-len 64";
  for (const std::string& how : {"--method gptq" + text, "--method awq --observer imatrix_mse" + text,
                                std::string("--method gptq --calib self:3 --seq-len 32")}) {
    SCOPED_TRACE(how);
    const std::string q = "quantize " + m.string() + " --scheme W4A16 --group-size 64 --ignore lm_head --progress off "
                          "--no-report " + how + " -o ";
    const fs::path whole = root / "whole", part = root / "part", state = root / "part.lowbit-resume";
    fs::remove_all(whole), fs::remove_all(part), fs::remove_all(state);
    auto r = run(q + whole.string());
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_FALSE(fs::exists(root / "whole.lowbit-resume"));  // a finished run leaves no state
    r = run_shell("LOWBIT_TEST_INTERRUPT_AFTER_LAYER=1 " + std::string(LOWBIT_BINARY) + " " + q + part.string() + " 2>&1");
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find("interrupted"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("run the same command with --resume"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(part));
    EXPECT_TRUE(fs::exists(state / "layer-1.safetensors"));
    EXPECT_FALSE(fs::exists(state / "layer-2.safetensors"));
    // Without --resume the unfinished run is never silently thrown away.
    r = run(q + part.string());
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find("holds an unfinished run (2 layer(s) done): add --resume"), std::string::npos) << r.out;
    // Another job cannot continue it.
    if (how.find("gptq") != std::string::npos) {
      r = run(q + part.string() + " --resume --dampening-frac 0.02");
      EXPECT_EQ(r.rc, 2) << r.out;
      EXPECT_NE(r.out.find("is another job (recipe differs)"), std::string::npos) << r.out;
    }
    r = run(q + part.string() + " --resume");
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_NE(r.out.find("resuming: layers 0-1 of 4 were finished"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(from the resume state)"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(state));
    expect_same_files(whole, part);
  }
  // --resume with nothing to resume starts afresh; without calibration it means nothing.
  auto r = run("quantize " + m.string() + " --scheme W4A16 --progress off --no-report --method gptq --seq-len 64 "
               "--samples 4 --resume --calib " + calib.string() + " -o " + (root / "fresh").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("nothing to resume"), std::string::npos) << r.out;
  r = run("quantize " + m.string() + " --scheme W4A16 --resume -o " + (root / "rtn").string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--resume continues a calibrated run: it needs --calib"), std::string::npos) << r.out;
}

TEST_F(Cli, MethodListWritesOneCheckpointPerMethodAndOneTable) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), calib = root / "calib.txt", out = root / "cmp";
  std::ofstream(calib) << calibration_text(40000);
  const std::string q = "quantize " + m.string() + " --scheme W4A16 --group-size 64 --ignore lm_head --progress off "
                        "--no-report --calib " + calib.string() + " --samples 4 --seq-len 64 --threads 1 -o " +
                        out.string();
  auto r = run(q + " --method rtn,gptq --eval " + calib.string() + " --eval-chunks 2");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("=== --method gptq ==="), std::string::npos) << r.out;
  const auto c = nlohmann::json::parse(io::read_text_file(out / "comparison.json"));
  ASSERT_EQ(c["methods"].size(), 2u);
  EXPECT_EQ(c["original"]["bits_per_weight"], 16.0);
  for (const auto& row : c["methods"]) {
    SCOPED_TRACE(row.dump());
    EXPECT_DOUBLE_EQ(row["bits_per_weight"].get<double>(), 4.25);  // 4-bit codes + a BF16 scale per 64
    EXPECT_GT(row["mean_kld"].get<double>(), 0);
    EXPECT_GT(row["seconds"].get<double>(), 0);
    EXPECT_GT(row["peak_rss_bytes"].get<double>(), 1e6);
    EXPECT_NEAR(row["delta_ppl"].get<double>(), row["ppl"].get<double>() - c["original"]["ppl"].get<double>(), 1e-9);
    const std::string method = row["method"];
    EXPECT_EQ(nlohmann::json::parse(io::read_text_file(out / method / "quantization_report.json"))["method"], method);
  }
  EXPECT_NE(io::read_text_file(out / "comparison.txt").find("gptq"), std::string::npos);
  EXPECT_NE(r.out.find("mean KLD"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out / "rtn.eval.json"));
  // The rows are the same checkpoints a single-method run writes (with as many threads: BLAS
  // sums in another order with another thread count).
  ASSERT_EQ(run("quantize " + m.string() + " --scheme W4A16 --group-size 64 --ignore lm_head --progress off --no-report "
                "--calib " + calib.string() + " --samples 4 --seq-len 64 --threads 1 --method gptq -o " + (root / "one").string())
                .rc,
            0);
  EXPECT_EQ(io::file_sha256(out / "gptq" / "model.safetensors"), io::file_sha256(root / "one" / "model.safetensors"));
  // AWQ's options go to the AWQ rows only (round-to-nearest would refuse them); the search
  // scores its block candidates on one of the 4 samples of 64 tokens.
  r = run(q + "-awq --method rtn,awq --n-grid 6 --awq-search-tokens 64");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto rep = nlohmann::json::parse(io::read_text_file(root / "cmp-awq" / "awq" / "quantization_report.json"));
  ASSERT_TRUE(rep.contains("awq")) << rep.dump();
  EXPECT_EQ(rep["awq"]["search_tokens"], 64);
  EXPECT_EQ(rep["awq"]["n_grid"], 6);
  std::set<int64_t> scored;
  for (const auto& mp : rep["awq"]["mappings"]) scored.insert(mp["scored_tokens"].get<int64_t>());
  EXPECT_EQ(scored, (std::set<int64_t>{64, 256})) << rep["awq"].dump();  // blocks: 1 sample; up -> down: all
  // A failing method leaves nothing; unknown methods are refused up front.
  r = run("quantize " + m.string() + " --scheme W8A16 --strategy tensor --progress off --calib " + calib.string() +
          " --samples 4 --seq-len 64 -o " + (root / "cmp2").string() + " --method rtn,awq");  // AWQ refuses this scheme
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_FALSE(fs::exists(root / "cmp2"));
  r = run(q + "3 --method rtn,foo");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("unknown method 'foo'"), std::string::npos) << r.out;
}

TEST_F(Cli, GptqNeedsUsableCalibrationData) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), out = root / "g", calib = root / "c.txt", jsonl = root / "c.jsonl";
  const std::string q = "quantize " + m.string() + " -o " + out.string() + " --scheme W4A16 --ignore lm_head ";
  auto r = run(q + "--method gptq");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--calib"), std::string::npos) << r.out;
  std::ofstream(calib) << "too short";
  r = run(q + "--method gptq --calib " + calib.string() + " --seq-len 64");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("fewer tokens than --seq-len 64"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root / "g.lowbit-resume"));  // a run that never calibrated leaves no state
  r = run(q + "--calib " + calib.string());
  EXPECT_EQ(r.rc, 0) << r.out;  // --calib without a method that uses it: said, then ignored
  EXPECT_NE(r.out.find("--calib is not used: plain round-to-nearest needs no data"), std::string::npos) << r.out;
  fs::remove_all(out);
  std::ofstream(jsonl) << "{\"text\": \"fine\"}\n{\"text\": 3}\n";
  r = run(q + "--method gptq --calib " + jsonl.string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("c.jsonl:2: no \"text\" string field"), std::string::npos) << r.out;
  expect_no_output(out);
}

TEST_F(Cli, ObserversMseAndImatrixMse) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), calib = root / "calib.txt";
  std::ofstream(calib) << calibration_text(40000);
  const std::string q = "quantize " + m.string() + " --scheme W4A16 --group-size 64 --ignore lm_head --progress off "
                        "--no-report -o ";
  auto r = run(q + (root / "mse").string() + " --observer mse");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run(q + (root / "imx").string() + " --observer imatrix_mse --calib " + calib.string() + " --samples 8 --seq-len 128");
  ASSERT_EQ(r.rc, 0) << r.out;
  io::ModelDir mse(root / "mse"), imx(root / "imx");
  EXPECT_EQ(imx.config()["quantization_config"]["config_groups"]["group_0"]["weights"]["observer"], "imatrix_mse");
  const auto report = nlohmann::json::parse(io::read_text_file(root / "imx" / "quantization_report.json"));
  EXPECT_EQ(report["method"], "rtn");
  EXPECT_EQ(report["calibration"]["samples"], 8);
  // The searches move scales away from min-max.
  ASSERT_EQ(run(q + (root / "mm").string()).rc, 0);
  io::ModelDir mm(root / "mm");
  const auto scheme = exporter::recipe_from_quantization_config(mm.config()["quantization_config"], "c").config_groups[0].second;
  const auto a = exporter::read_quantized(mm, "model.layers.0.mlp.up_proj", scheme);
  const auto b = exporter::read_quantized(imx, "model.layers.0.mlp.up_proj", scheme);
  EXPECT_NE(a.scales, b.scales);
  // Imatrix without data falls back to the unweighted search, and says so; floats are refused.
  r = run(q + (root / "imx2").string() + " --observer imatrix_mse");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("imatrix_mse without --calib"), std::string::npos) << r.out;
  r = run("quantize " + m.string() + " -o " + (root / "f").string() + " --scheme FP8_DYNAMIC --observer mse");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("int weights"), std::string::npos) << r.out;
}

TEST_F(Cli, AwqFromTheCommandLineAndFromRecipes) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  s.heads = 4, s.kv_heads = 4;  // v -> o folds too
  fs::path m = model(s), calib = root / "calib.txt";
  std::ofstream(calib) << calibration_text(40000);
  const std::string data = " --calib " + calib.string() + " --samples 8 --seq-len 128";
  const std::string q = "quantize " + m.string() + " --progress off --no-report -o ";
  auto r = run(q + (root / "a").string() + " --scheme W4A16 --group-size 64 --ignore lm_head --method awq" + data);
  ASSERT_EQ(r.rc, 0) << r.out;
  io::ModelDir src(m), a(root / "a");
  const auto report = nlohmann::json::parse(io::read_text_file(root / "a" / "quantization_report.json"));
  EXPECT_EQ(report["method"], "awq");
  const std::string recipe = io::read_text_file(root / "a" / "recipe.yaml");
  EXPECT_NE(recipe.find("AWQModifier"), std::string::npos) << recipe;
  EXPECT_NE(recipe.find("QuantizationModifier"), std::string::npos) << recipe;
  // The scales went into the norms (written dense) and into the v_proj rows before o_proj.
  for (const char* t : {"model.layers.0.input_layernorm.weight", "model.layers.1.post_attention_layernorm.weight"}) {
    const io::TensorRef& x = src.at(t);
    const io::TensorRef& y = a.at(t);
    ASSERT_EQ(x.info->nbytes(), y.info->nbytes());
    EXPECT_NE(std::memcmp(x.data(), y.data(), x.info->nbytes()), 0) << t;
  }
  EXPECT_EQ(run("dequantize " + (root / "a").string() + " -o " + (root / "d").string()).rc, 0);
  EXPECT_EQ(run("forward " + (root / "a").string() + " --tokens 1,2,3").rc, 0);
  // The recipe it wrote runs unchanged and gives the same bytes.
  r = run(q + (root / "a2").string() + " --recipe " + (root / "a" / "recipe.yaml").string() + data);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(io::file_sha256(root / "a" / "model.safetensors"), io::file_sha256(root / "a2" / "model.safetensors"));
  // AWQModifier then GPTQModifier: AWQ's scales, then GPTQ on the folded weights.
  const fs::path gy = root / "awq_gptq.yaml";
  std::ofstream(gy) << "quant_stage:\n  quant_modifiers:\n    AWQModifier:\n      duo_scaling: both\n      n_grid: 10\n"
                       "    GPTQModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n      scheme: W4A16\n";
  r = run(q + (root / "ag").string() + " --recipe " + gy.string() + data);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(io::read_text_file(root / "ag" / "quantization_report.json"))["method"], "awq+gptq");
  // The deprecated single AWQModifier that carries the scheme is split as llm-compressor splits it.
  const fs::path ly = root / "legacy.yaml";
  std::ofstream(ly) << "s_stage:\n  s_modifiers:\n    AWQModifier:\n      ignore: [lm_head]\n      scheme: W4A16_ASYM\n"
                       "      targets: [Linear]\n";
  r = run(q + (root / "al").string() + " --recipe " + ly.string() + data);
  ASSERT_EQ(r.rc, 0) << r.out;
  // Mistakes are clear errors that write nothing.
  const fs::path bad = root / "bad";
  std::ofstream(root / "alone.yaml") << "s_stage:\n  s_modifiers:\n    AWQModifier:\n      n_grid: 10\n";
  r = run(q + bad.string() + " --recipe " + (root / "alone.yaml").string() + data);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("needs a quantization modifier after it"), std::string::npos) << r.out;
  r = run(q + bad.string() + " --scheme W4A16 --method awq");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("needs calibration data"), std::string::npos) << r.out;
  r = run(q + bad.string() + " --scheme W4A16 --n-grid 10");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--method awq"), std::string::npos) << r.out;
  r = run(q + bad.string() + " --scheme W4A16 --awq-search-tokens 100");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--method awq"), std::string::npos) << r.out;
  r = run(q + bad.string() + " --scheme W8A16 --strategy tensor --method awq" + data);  // duo scaling needs per-channel scales
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("duo_scaling"), std::string::npos) << r.out;
  expect_no_output(bad);
}

namespace {
// A chat template in the style of SmolLM2's: BOS-free, a default system turn.
const char* kChatConfig = R"({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "chat_template":
  "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}<|im_start|>system\nBe brief.<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}{% if messages[-1].role == 'system' %}{{ raise_exception('a conversation cannot end with a system turn') }}{% endif %}"})";
}  // namespace

TEST_F(Cli, TokenizeRendersChatConversations) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), chat = root / "chat.jsonl";
  io::write_text_file(m / "tokenizer_config.json", kChatConfig);
  std::ofstream(chat) << "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n\n"
                      << "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Q\"}]\n";
  auto r = run("tokenize " + m.string() + " --chat " + chat.string() + " --print-text --add-generation-prompt");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n\n"
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n\n");
  // Ids: one line per conversation; the byte-level tiny tokenizer gives one id per byte.
  r = run("tokenize " + m.string() + " --chat " + chat.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  std::string first = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n", ids;
  for (unsigned char c : first) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(int(c));
  }
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), ids);
  EXPECT_NE(run("tokenize --help").out.find("--chat chat.jsonl"), std::string::npos);
}

TEST_F(Cli, ChatErrorsNameTheFileAndLine) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), chat = root / "chat.jsonl", out = root / "q";
  std::ofstream(chat) << "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n";
  // No template in the folder.
  auto r = run("tokenize " + m.string() + " --chat " + chat.string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("error: " + m.string() + ": the model has no chat template"), std::string::npos) << r.out;
  const std::string q = "quantize " + m.string() + " -o " + out.string() +
                        " --scheme W4A16 --ignore lm_head --progress off --method gptq --calib " + chat.string();
  r = run(q);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("chat.jsonl:1: chat \"messages\" need the model's chat template, and " + m.string() + " has none"),
            std::string::npos)
      << r.out;
  expect_no_output(out);
  // The template itself refuses a conversation: the error names the JSONL line and the template's message.
  io::write_text_file(m / "tokenizer_config.json", kChatConfig);
  std::ofstream(chat, std::ios::app) << "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}]}\n";
  r = run("tokenize " + m.string() + " --chat " + chat.string() + " --print-text");
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.out.find("<|im_start|>"), std::string::npos) << "printed before failing: " << r.out;
  EXPECT_NE(r.out.find("chat.jsonl:2: " + (m / "tokenizer_config.json").string() +
                       " (chat_template) line 6: the template raised an error: a conversation cannot end with a "
                       "system turn"),
            std::string::npos)
      << r.out;
  r = run(q);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("chat.jsonl:2: "), std::string::npos) << r.out;
  expect_no_output(out);
  // A template Jinja cannot parse.
  io::write_text_file(m / "chat_template.jinja", "{% for m in messages %}\n{{ m.content | no_such_filter }}{% endfor %}");
  r = run("tokenize " + m.string() + " --chat " + chat.string() + " --print-text");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("chat_template.jinja line 2: no filter named 'no_such_filter'"), std::string::npos) << r.out;
}

TEST_F(Cli, GptqCalibratesOnChatConversations) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fs::path m = model(s), chat = root / "chat.jsonl", out = root / "g";
  io::write_text_file(m / "tokenizer_config.json", kChatConfig);
  {
    std::ofstream f(chat);
    for (int i = 0; i < 12; ++i)
      f << nlohmann::json{{"messages",
                           {{{"role", "user"}, {"content", "question " + std::to_string(i)}},
                            {{"role", "assistant"}, {"content", calibration_text(200 + 10 * size_t(i))}}}}}.dump()
        << "\n";
    f << nlohmann::json{{"text", calibration_text(300)}}.dump() << "\n";
  }
  auto r = run("quantize " + m.string() + " -o " + out.string() +
               " --scheme W4A16 --group-size 64 --ignore lm_head --progress off --method gptq --calib " +
               chat.string() + " --samples 8 --seq-len 128");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("calibration: JSONL documents (12 chat conversations through " +
                       (m / "tokenizer_config.json").string() + " (chat_template)), 8 samples, 1024 tokens, drawn from "
                       "13 documents"),
            std::string::npos)
      << r.out;
}

TEST_F(Cli, InspectGgufFile) {
  fs::path g = root / "tiny.gguf";
  {
    io::GgufWriter w(g);
    w.set("general.architecture", io::GgufValue::string("llama"));
    w.set("general.name", io::GgufValue::string("Tiny"));
    w.set("llama.block_count", io::GgufValue::u32(2));
    std::vector<std::string> tokens;
    for (int i = 0; i < 40; ++i) tokens.push_back("t" + std::to_string(i));
    w.set("tokenizer.ggml.tokens", io::GgufValue::strings(tokens));
    w.set("tokenizer.ggml.token_type", io::GgufValue::i32s({1, 3}));
    w.add_tensor("output_norm.weight", {64}, GgmlType::F32);
    w.add_tensor("blk.0.attn_q.weight", {256, 2}, GgmlType::Q4_K);
    w.add_tensor("blk.1.attn_q.weight", {256, 2}, GgmlType::Q4_K);
    std::vector<uint8_t> norm(256), q(288);
    w.write_tensor("output_norm.weight", norm.data(), norm.size());
    w.write_tensor("blk.0.attn_q.weight", q.data(), q.size());
    w.write_tensor("blk.1.attn_q.weight", q.data(), q.size());
    w.finish();
  }
  auto r = run("inspect " + g.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("format         GGUF version 3 (alignment 32)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("architecture   llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("name           Tiny"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keys           5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensors        3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  f32             1 tensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  q4_K            2 tensors"), std::string::npos) << r.out;

  auto j = run("inspect --json " + g.string());
  ASSERT_EQ(j.rc, 0) << j.out;
  auto info = nlohmann::json::parse(j.out);
  EXPECT_EQ(info["format"], "gguf");
  EXPECT_EQ(info["version"], 3);
  EXPECT_EQ(info["architecture"], "llama");
  EXPECT_EQ(info["key_count"], 5);
  EXPECT_EQ(info["tensor_count"], 3);
  EXPECT_EQ(info["file_bytes"], fs::file_size(g));
  EXPECT_EQ(info["types"], nlohmann::json::parse(R"([{"type": "f32", "tensors": 1, "bytes": 256},
                                                     {"type": "q4_K", "tensors": 2, "bytes": 576}])"));
  EXPECT_EQ(info["metadata"][2], nlohmann::json::parse(R"({"key": "llama.block_count", "type": "u32", "value": 2})"));
  // a long array by its length only, a short one in full
  EXPECT_EQ(info["metadata"][3]["type"], "arr[str]");
  EXPECT_EQ(info["metadata"][3]["value"], nlohmann::json::parse(R"({"length": 40})"));
  EXPECT_EQ(info["metadata"][4]["value"], nlohmann::json::parse("[1, 3]"));
  EXPECT_EQ(info["tensors"][1], nlohmann::json::parse(R"({"name": "blk.0.attn_q.weight", "ne": [256, 2],
                                                         "type": "q4_K", "offset": 256, "bytes": 288})"));

  // A corrupt file: one error line naming the file and what is wrong, exit 2.
  std::string bytes = io::read_text_file(g);
  bytes[4] = 9;  // version 9
  fs::path bad = root / "bad.gguf";
  io::write_text_file(bad, bytes);
  r = run("inspect " + bad.string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("error: " + bad.string() + ": GGUF version 9 is newer than 3"), std::string::npos) << r.out;
}

TEST_F(Cli, EvalTasksScoresBenchmarksAndRefusesBadTaskInput) {
  fixtures::TinyModelSpec s;
  s.vocab = 300;
  s.tokenizer = true;
  const fs::path m = model(s), data = root / "bench";
  fs::create_directories(data / "winogrande");
  std::ofstream(data / "hellaswag_val_full.txt")
      << "Cooking: A man cracks eggs. he\n2\nfries them.\nsings.\neats a shell.\nthrows the pan.\n"
         "Sports: A lady lifts a barbell. she\n0\ndrops it.\nflies.\nsings a song.\nswims.\n"
         "Music: A boy plays a guitar. he\n1\nstops.\nsmiles.\nruns.\nsleeps.\n";
  std::ofstream(data / "winogrande" / "winogrande-debiased-eval.csv")
      << "0,Sarah was a better surgeon than Maria so _ got the easier cases.,Sarah,Maria,2\n"
         "1,\"The wine would ruin the bed, but the _ was fine.\",blanket,bed,1\n\n";
  const fs::path json = root / "mc.json";
  auto r = run("eval " + m.string() + " --task hellaswag,winogrande --limit 2 --data " + data.string() +
               " --json " + json.string() + " --base " + m.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("hellaswag        2 of 3 tasks (first 2 of llama.cpp's order"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("winogrande       2 of 2 tasks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("acc_norm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chose differently on 0"), std::string::npos) << r.out;  // a model against itself
  const auto j = nlohmann::json::parse(io::read_text_file(json));
  EXPECT_EQ(j["benchmarks"]["hellaswag"]["per_task"].size(), 2u);
  EXPECT_EQ(j["benchmarks"]["winogrande"]["metrics"]["llama.cpp"]["tasks"], 2);
  EXPECT_TRUE(j["benchmarks"]["winogrande"]["metrics"].contains("acc"));
  EXPECT_TRUE(run("eval --help").out.find("--task hellaswag,winogrande") != std::string::npos);

  auto expect_fail = [&](const std::string& args, const std::string& needle) {
    auto f = run("eval " + m.string() + " " + args);
    EXPECT_EQ(f.rc, 2) << args << ": " << f.out;
    EXPECT_NE(f.out.find("error: "), std::string::npos) << f.out;
    EXPECT_NE(f.out.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << f.out;
  };
  expect_fail("--task mmlux --data " + data.string(), "unknown task 'mmlux' (known: hellaswag, winogrande, arc-easy, arc-challenge, mmlu, mmlu:5shot)");
  expect_fail("--task hellaswag", "--task needs --data");
  expect_fail("", "eval needs --text FILE, --task NAMES or --prompts FILE.jsonl");
  expect_fail("--task winogrande --data " + (root / "nowhere").string(), "not a folder");
  std::ofstream(root / "bad.txt") << "ctx\n7\na\nb\nc\nd\n";
  expect_fail("--task hellaswag --data hellaswag=" + (root / "bad.txt").string(), "bad.txt:2: gold label '7'");
  std::ofstream(root / "bad.csv") << "0,no blank here.,a,b,1\n";
  expect_fail("--task winogrande --data winogrande=" + (root / "bad.csv").string(), "has no '_'");
}
