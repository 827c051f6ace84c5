// Reading GGUF: `lowbit convert` of our own GGUF files of tiny models back to Hugging Face
// folders (the same tensors, tokenizer and special tokens), the engine on a .gguf file
// (`forward`, `eval`, `generate` equal to the same commands on the converted folder), and
// every bad GGUF as one error line, exit 2, nothing left behind.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/file_util.h"
#include "io/gguf.h"
#include "io/model_dir.h"
#include "numerics/half.h"
#include "run_cli.h"
#include "tiny_model.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using namespace lowbit;
using nlohmann::json;

namespace {

using e2e::Result;
using e2e::run;

class GgufReadCli : public e2e::RootTest {
 protected:
  // A tiny model with a byte-level BPE tokenizer that has merges, special and user tokens, and a
  // chat template: everything the GGUF tokenizer metadata carries.
  fs::path model(const std::string& name, fixtures::TinyModelSpec s) {
    s.tokenizer = true;
    const fs::path dir = root / name;
    fixtures::write_tiny_model(dir, s);
    json tok = json::parse(io::read_text_file(dir / "tokenizer.json"));
    json& vocab = tok["model"]["vocab"];
    vocab["th"] = 256, vocab["the"] = 257, vocab["\xC4\xA0" "the"] = 258;  // Ġthe
    tok["model"]["merges"] = {"t h", "th e", "\xC4\xA0 the"};
    tok["added_tokens"] = {{{"id", 259}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
                            {"rstrip", false}, {"normalized", false}, {"special", true}},
                           {{"id", 260}, {"content", "<think>"}, {"single_word", false}, {"lstrip", false},
                            {"rstrip", false}, {"normalized", false}, {"special", false}}};
    vocab["<|endoftext|>"] = 259, vocab["<think>"] = 260;
    io::write_text_file(dir / "tokenizer.json", tok.dump());
    io::write_text_file(dir / "tokenizer_config.json",
                        json{{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"add_bos_token", false},
                             {"chat_template", "{% for m in messages %}<|endoftext|>{{ m['content'] }}{% endfor %}"}}
                            .dump());
    json cfg = json::parse(io::read_text_file(dir / "config.json"));
    cfg["bos_token_id"] = 259, cfg["eos_token_id"] = 259;
    io::write_text_file(dir / "config.json", cfg.dump(2));
    return dir;
  }
  fs::path to_gguf(const fs::path& m, const std::string& type) {
    const fs::path out = root / (m.filename().string() + "-" + type + ".gguf");
    const Result r = run("quantize " + m.string() + " -o " + out.string() + " --gguf-type " + type +
                         " --gguf-pre gpt-2 --progress off");
    EXPECT_EQ(r.rc, 0) << r.out;
    return out;
  }
  // One "error:" line naming `words`, exit 2, and neither the output nor a temporary left.
  void expect_error(const std::string& args, const std::string& words, const fs::path& out) {
    e2e::expect_error(args, words);
    e2e::expect_no_output(out, root, "lowbit-tmp");
  }
};

// Every tensor of `back` holds the original's values (as float), in the original's names.
void expect_same_tensors(const fs::path& orig, const fs::path& back, DType back_dtype) {
  io::ModelDir a(orig), b(back);
  auto names = [](const io::ModelDir& d) {
    std::vector<std::string> n = d.tensor_names();
    std::sort(n.begin(), n.end());
    return n;
  };
  ASSERT_EQ(names(a), names(b));
  for (const std::string& n : a.tensor_names()) {
    const io::TensorRef &x = a.at(n), &y = b.at(n);
    ASSERT_EQ(x.info->shape, y.info->shape) << n;
    ASSERT_EQ(y.info->dtype, back_dtype) << n;
    const size_t count = x.info->numel();
    size_t differ = 0;
    for (size_t i = 0; i < count; ++i)
      differ += load_as_f32(x.data(), i, x.info->dtype) != load_as_f32(y.data(), i, y.info->dtype);
    EXPECT_EQ(differ, 0u) << n;
  }
}

TEST_F(GgufReadCli, OurGgufConvertsBackToTheSameFolder) {
  struct Case {
    std::string name;
    fixtures::TinyModelSpec spec;
  };
  fixtures::TinyModelSpec llama, qwen2, qwen3;
  llama.vocab = qwen2.vocab = qwen3.vocab = 320;
  qwen2.arch = "qwen2", qwen2.tied = true;  // q/k/v biases, a tied head
  qwen3.arch = "qwen3", qwen3.head_dim = 32;  // q/k norms, head_dim != hidden / heads
  for (const Case& c : {Case{"llama", llama}, Case{"qwen2", qwen2}, Case{"qwen3", qwen3}, Case{"llama3", llama}}) {
    SCOPED_TRACE(c.name);
    const fs::path m = model(c.name, c.spec);
    const json rope = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
    if (c.name == "llama3") {  // the converter's rope_freqs.weight, and back to these numbers
      json cfg = json::parse(io::read_text_file(m / "config.json"));
      cfg["rope_scaling"] = rope;
      cfg["max_position_embeddings"] = 131072;
      io::write_text_file(m / "config.json", cfg.dump(2));
    }
    for (const std::string type : {"BF16", "F32"}) {
      const fs::path g = to_gguf(m, type), back = root / (c.name + "-" + type + "-back");
      const std::string dtype = type == "BF16" ? "bfloat16" : "float32";
      const Result r = run("convert " + g.string() + " -o " + back.string() + " --dtype " + dtype + " --progress off");
      ASSERT_EQ(r.rc, 0) << r.out;
      EXPECT_NE(r.out.find("converted " + g.string() + " (" + c.spec.arch), std::string::npos) << r.out;
      expect_same_tensors(m, back, type == "BF16" ? DType::BF16 : DType::F32);

      const json a = json::parse(io::read_text_file(m / "config.json"));
      const json b = json::parse(io::read_text_file(back / "config.json"));
      for (const char* k : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "num_key_value_heads", "vocab_size", "max_position_embeddings", "bos_token_id", "eos_token_id"})
        EXPECT_EQ(a[k], b[k]) << k;
      EXPECT_EQ(b["tie_word_embeddings"], c.spec.tied);
      EXPECT_EQ(b["architectures"], a["architectures"]);
      if (c.name == "llama3") EXPECT_EQ(b["rope_scaling"], rope);
      else EXPECT_FALSE(b.contains("rope_scaling"));
      EXPECT_FLOAT_EQ(b["rms_norm_eps"].get<float>(), a["rms_norm_eps"].get<float>());
      EXPECT_EQ(b["rope_theta"].get<double>(), a["rope_theta"].get<double>());

      // The rebuilt tokenizer splits as the original: merges, special and user tokens.
      const auto t0 = tokenizer::Tokenizer::from_file(m / "tokenizer.json");
      const auto t1 = tokenizer::Tokenizer::from_file(back / "tokenizer.json");
      for (const std::string text : {"the theme of the <think> is<|endoftext|> 123 the\n\n  the", "théâtre 🦙"})
        EXPECT_EQ(t0.encode(text), t1.encode(text)) << text;
      EXPECT_EQ(t1.token_id("<|endoftext|>"), 259);
      const json tc = json::parse(io::read_text_file(back / "tokenizer_config.json"));
      EXPECT_EQ(tc["chat_template"], "{% for m in messages %}<|endoftext|>{{ m['content'] }}{% endfor %}");
      EXPECT_EQ(tc["eos_token"], "<|endoftext|>");
      const json gc = json::parse(io::read_text_file(back / "generation_config.json"));
      EXPECT_EQ(gc["eos_token_id"], 259);
    }
  }
}

TEST_F(GgufReadCli, EngineRunsAGgufFileAsItsConvertedFolder) {
  fixtures::TinyModelSpec s;
  s.vocab = 320;
  const fs::path m = model("llama", s), g = to_gguf(m, "Q8_0"), back = root / "back";
  ASSERT_EQ(run("convert " + g.string() + " -o " + back.string() + " --dtype float32 --progress off").rc, 0);
  // Logits: the GGUF's dequantized weights are the converted folder's float32 weights.
  const std::string tokens = " --tokens 1,7,42,300,5,99,12,256,3";
  ASSERT_EQ(run("forward " + g.string() + tokens + " -o " + (root / "g.f32").string()).rc, 0);
  ASSERT_EQ(run("forward " + back.string() + tokens + " -o " + (root / "b.f32").string()).rc, 0);
  const std::string lg = io::read_text_file(root / "g.f32"), lb = io::read_text_file(root / "b.f32");
  EXPECT_EQ(lg.size(), size_t(9 * 320 * 4));
  EXPECT_TRUE(lg == lb);
  // eval and generate print the same numbers and text for both.
  std::string text;
  for (int i = 0; text.size() < 3000; ++i) text += "the theme of the day " + std::to_string(i) + ". ";
  io::write_text_file(root / "t.txt", text);
  const Result eg = run("eval " + g.string() + " --text " + (root / "t.txt").string() + " --ctx 64 --chunks 3");
  const Result eb = run("eval " + back.string() + " --text " + (root / "t.txt").string() + " --ctx 64 --chunks 3");
  ASSERT_EQ(eg.rc, 0) << eg.out;
  ASSERT_EQ(eb.rc, 0) << eb.out;
  const size_t pg = eg.out.find("PPL"), pb = eb.out.find("PPL");
  ASSERT_NE(pg, std::string::npos) << eg.out;
  EXPECT_EQ(eg.out.substr(pg, 40), eb.out.substr(pb, 40));
  const Result gg = run("generate " + g.string() + " --prompt 'the theme' -n 8 --ids");
  const Result gb = run("generate " + back.string() + " --prompt 'the theme' -n 8 --ids");
  ASSERT_EQ(gg.rc, 0) << gg.out;
  EXPECT_EQ(gg.out, gb.out);
  // --base takes a GGUF too: the model against itself.
  const Result kl = run("eval " + g.string() + " --base " + back.string() + " --text " + (root / "t.txt").string() +
                        " --ctx 64 --chunks 2");
  ASSERT_EQ(kl.rc, 0) << kl.out;
  // Custom evals with chat messages: the GGUF's own template (tokenizer.chat_template) renders them
  // as the converted folder's tokenizer_config.json does, so the answers are the same.
  const fs::path prompts = root / "p.jsonl";
  io::write_text_file(prompts,
                      "{\"id\": \"chat\", \"messages\": [{\"role\": \"user\", \"content\": \"the theme\"}], "
                      "\"max_tokens\": 6}\n"
                      "{\"id\": \"plain\", \"prompt\": \"the day\", \"max_tokens\": 6}\n");
  auto custom = [&](const fs::path& m) {
    const fs::path out = root / "c.json";
    const Result r = run("eval " + m.string() + " --prompts " + prompts.string() + " --json " + out.string());
    EXPECT_EQ(r.rc, 0) << r.out;
    return fs::exists(out) ? json::parse(io::read_text_file(out)).at("custom") : json();
  };
  const json cg = custom(g), cb = custom(back);
  ASSERT_EQ(cg.at("items").size(), 2u) << cg.dump();
  // The rendered chat: the template puts <|endoftext|> before each message's content.
  EXPECT_EQ(cg["items"][0]["prompt"], "<|endoftext|>the theme");
  EXPECT_EQ(cg.at("items"), cb.at("items"));
  // With a GGUF model and a folder base, the GGUF's own template renders (and the run works).
  const Result both = run("eval " + g.string() + " --base " + back.string() + " --prompts " + prompts.string());
  EXPECT_EQ(both.rc, 0) << both.out;
}

TEST_F(GgufReadCli, BadGgufInputsAreClearErrors) {
  fixtures::TinyModelSpec s;
  s.vocab = 320;
  const fs::path m = model("llama", s), good = to_gguf(m, "BF16"), out = root / "out";
  const io::GgufFile f(good);
  // A copy of the good file with its metadata changed by `edit`.
  auto variant = [&](const std::string& name, auto edit) {
    const fs::path p = root / name;
    io::GgufWriter w(p);
    for (auto [k, v] : f.header().metadata)
      if (edit(k, v)) w.set(k, v);
    for (const auto& t : f.tensors()) w.add_tensor(t.name, t.ne, t.type);
    for (const auto& t : f.tensors()) w.write_tensor(t.name, f.data(t), t.nbytes);
    w.finish();
    return p;
  };
  const fs::path gemma = variant("gemma.gguf", [](const std::string& k, io::GgufValue& v) {
    if (k == "general.architecture") v = io::GgufValue::string("gemma");
    return true;
  });
  expect_error("convert " + gemma.string() + " -o " + out.string(), "general.architecture 'gemma' is not supported", out);
  const fs::path no_layers = variant("no-layers.gguf", [](const std::string& k, io::GgufValue&) {
    return k != "llama.block_count";
  });
  expect_error("convert " + no_layers.string() + " -o " + out.string(), "key 'llama.block_count' is missing", out);
  const fs::path spm = variant("spm.gguf", [](const std::string& k, io::GgufValue& v) {
    if (k == "tokenizer.ggml.model") v = io::GgufValue::string("llama");
    return true;
  });
  expect_error("convert " + spm.string() + " -o " + out.string(), "SentencePiece", out);
  const fs::path pre = variant("pre.gguf", [](const std::string& k, io::GgufValue& v) {
    if (k == "tokenizer.ggml.pre") v = io::GgufValue::string("chatglm-bpe");
    return true;
  });
  expect_error("convert " + pre.string() + " -o " + out.string(), "tokenizer.ggml.pre 'chatglm-bpe'", out);
  const fs::path heads = variant("heads.gguf", [](const std::string& k, io::GgufValue& v) {
    if (k == "llama.feed_forward_length") v = io::GgufValue::u32(100);
    return true;
  });
  expect_error("convert " + heads.string() + " -o " + out.string(), "has shape", out);
  const fs::path many = variant("many-layers.gguf", [](const std::string& k, io::GgufValue& v) {
    if (k == "llama.block_count") v = io::GgufValue::u32(4000000000u);  // refused before any layer is built
    return true;
  });
  expect_error("convert " + many.string() + " -o " + out.string(), "llama.block_count 4000000000 is more than", out);
  // A weight past float16's range: refused with --dtype float16 (it would become inf), kept by bfloat16.
  const fs::path big = root / "big.gguf";
  {
    io::GgufWriter w(big);
    for (const auto& [k, v] : f.header().metadata) w.set(k, v);
    for (const auto& t : f.tensors()) w.add_tensor(t.name, t.ne, t.type);
    for (const auto& t : f.tensors()) {
      std::string b(reinterpret_cast<const char*>(f.data(t)), t.nbytes);
      if (t.name == "output_norm.weight") {  // F32
        ASSERT_EQ(t.type, GgmlType::F32);
        const float x = 1e6f;
        std::memcpy(b.data(), &x, 4);
      }
      w.write_tensor(t.name, b.data(), b.size());
    }
    w.finish();
  }
  expect_error("convert " + big.string() + " -o " + out.string() + " --dtype float16",
               "model.norm.weight holds 1000000.000000, past float16's range", out);
  EXPECT_EQ(run("convert " + big.string() + " -o " + out.string() + " --progress off").rc, 0);
  fs::remove_all(out);
  // Truncated: the last tensor's bytes are cut.
  std::string bytes = io::read_text_file(good, 1u << 30);
  const fs::path cut = root / "cut.gguf";
  io::write_text_file(cut, bytes.substr(0, bytes.size() - 1000));
  expect_error("convert " + cut.string() + " -o " + out.string(), cut.string(), out);
  expect_error("eval " + cut.string() + " --text " + cut.string(), cut.string(), out);
  // Not a model: an imatrix GGUF.
  const fs::path imat = variant("imatrix.gguf", [](const std::string& k, io::GgufValue& v) {
    if (k == "general.type") v = io::GgufValue::string("imatrix");
    return true;
  });
  expect_error("generate " + imat.string() + " --prompt hi", "not a model", out);
  // An existing output folder is kept.
  fs::create_directories(out);
  const Result r = run("convert " + good.string() + " -o " + out.string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_TRUE(fs::exists(out));
}

}  // namespace

TEST_F(GgufReadCli, GptqOntoGgufTypesWritesAFileTheEngineRuns) {
  // GPTQ onto Q4_K_M's types (q4_K, q6_K and the output's q6_K: rows of 256 and 512). Scales
  // searched before the sweep, and inside it in column order (with act order most blocks are
  // searched at the first sweep block, before any feedback); the files run in lowbit's engine,
  // closer to the original on the calibration text than the imatrix search alone.
  const fs::path m = model("m", {}), calib = e2e::write_fox_text(root / "calib.txt", 2000);
  const fs::path g = root / "g.gguf", b = root / "b.gguf", i = root / "i.gguf";
  const std::string common =
      " --gguf-type Q4_K_M --gguf-pre gpt-2 --calib " + calib.string() + " --samples 4 --seq-len 64 --progress off";
  Result r = run("quantize " + m.string() + " -o " + g.string() + common + " --method gptq --actorder none");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("15 Linear(s) quantized by GPTQ onto their GGUF type"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensor types:"), std::string::npos) << r.out;
  r = run("quantize " + m.string() + " -o " + b.string() + common + " --method gptq --gptq-scales before");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run("quantize " + m.string() + " -o " + i.string() + common);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(fs::file_size(g), fs::file_size(b));  // the same types
  EXPECT_TRUE(io::read_text_file(g) != io::read_text_file(b));  // other scales and levels
  auto kld = [&](const fs::path& f) {
    const fs::path j = root / (f.stem().string() + ".json");
    const Result e = run("eval " + f.string() + " --base " + m.string() + " --text " + calib.string() +
                         " --ctx 64 --chunks 4 --json " + j.string());
    EXPECT_EQ(e.rc, 0) << e.out;
    return json::parse(io::read_text_file(j))["mean_kld"].get<double>();
  };
  const double kg = kld(g), kb = kld(b), ki = kld(i);
  EXPECT_LT(kg, ki) << "gptq " << kg << " imatrix " << ki;
  EXPECT_LT(kb, ki) << "gptq (scales before) " << kb << " imatrix " << ki;
  std::printf("mean KLD on the calibration text: gptq %.6f, gptq scales before %.6f, imatrix %.6f\n", kg, kb, ki);
}
