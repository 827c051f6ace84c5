// `lowbit eval --prompts` on generated tiny models: every check kind, chat prompts through the
// model's template, a model against itself (no regression, the same outputs) and against a copy
// with a layer zeroed (regressions found, `--gate custom.regressions==0` exits 3).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/file_util.h"
#include "run_cli.h"
#include "tiny_model.h"

namespace fs = std::filesystem;
using namespace lowbit;
using nlohmann::json;

namespace {

using e2e::Result;
using e2e::expect_error;
using e2e::run;

// Zeroes one tensor of a single-file safetensors checkpoint in place.
void zero_tensor(const fs::path& file, const std::string& name) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  f.read(header.data(), std::streamsize(n));
  const json h = json::parse(header);
  const uint64_t begin = h.at(name).at("data_offsets")[0], end = h.at(name).at("data_offsets")[1];
  const std::string zeros(end - begin, '\0');
  f.seekp(std::streamoff(8 + n + begin));
  f.write(zeros.data(), std::streamsize(zeros.size()));
  ASSERT_TRUE(f.good());
}

// `s` without ASCII whitespace at its ends (what "expected" is compared with).
std::string trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t a = s.find_first_not_of(ws);
  return a == std::string::npos ? "" : s.substr(a, s.find_last_not_of(ws) - a + 1);
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  for (size_t nl; (nl = s.find('\n', a)) != std::string::npos; a = nl + 1) out.push_back(s.substr(a, nl - a));
  return out;
}

// A regex matching `s` literally.
std::string literal(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

class CustomEvalCli : public e2e::RootTest {
 protected:
  void SetUp() override {
    RootTest::SetUp();
    fixtures::TinyModelSpec s;
    s.tokenizer = true;  // byte level: one token per byte, every id decodes
    s.vocab = 256;
    model = root / "model";
    fixtures::write_tiny_model(model, s);
    // A chat template of the kind tokenizer_config.json carries.
    io::write_text_file(model / "tokenizer_config.json",
                        json{{"chat_template",
                              "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
                              "{% if add_generation_prompt %}<assistant>{% endif %}"}}
                            .dump());
    broken = root / "broken";
    fs::copy(model, broken);
    zero_tensor(broken / "model.safetensors", "model.layers.0.mlp.down_proj.weight");
    zero_tensor(broken / "model.safetensors", "model.layers.1.mlp.down_proj.weight");
  }
  json eval_json(const std::string& args, int want_rc) {
    const fs::path out = root / "r.json";
    fs::remove(out);
    const Result r = run("eval " + args + " --json " + out.string());
    last_out = r.out;
    EXPECT_EQ(r.rc, want_rc) << args << "\n" << r.out;
    if (!fs::exists(out)) return json();
    return json::parse(io::read_text_file(out));
  }
  fs::path model, broken;
  std::string last_out;
};

// Candidate prompts: the tiny model's answers are arbitrary bytes, so the checks are built from
// the answers' ASCII beginnings (one token per byte: a shorter max_tokens gives exactly that part).
std::vector<std::string> candidate_prompts() {
  std::vector<std::string> p = {"The capital of France is", "Hi there", "Once upon a time", "cat", "1, 2, 3,"};
  for (int i = 0; i < 40; ++i) p.push_back("Item " + std::to_string(i) + ":");
  return p;
}
const std::vector<std::string> kChats = {"Hi there", "Hello", "What is 2+2?", "Tell me a story", "cat", "dog",
                                         "Item 1", "Item 2", "Item 3", "Item 4", "Item 5", "Item 6"};

// The length of the ASCII (printable or space) beginning of a JSON-decoded output: what the raw
// bytes begin with too (an invalid byte comes back as U+FFFD, not ASCII).
size_t ascii_prefix(const std::string& s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= 0x20 && s[n] < 0x7f) ++n;
  return n;
}

}  // namespace

TEST_F(CustomEvalCli, EveryCheckKindAgainstTheBaseAndABrokenCopy) {
  // The base's own answers first (no checks): the checks below are built from them, so they pass on it.
  const fs::path plain = root / "plain.jsonl";
  std::string lines;
  const std::vector<std::string> pool = candidate_prompts();
  for (const std::string& p : pool) lines += json{{"prompt", p}, {"max_tokens", 12}}.dump() + "\n";
  for (const std::string& c : kChats)
    lines += json{{"messages", {{{"role", "user"}, {"content", c}}}}, {"max_tokens", 12}}.dump() + "\n";
  io::write_text_file(plain, lines);
  const json first = eval_json(model.string() + " --prompts " + plain.string(), 0);
  ASSERT_EQ(first["custom"]["prompts"], pool.size() + kChats.size());
  EXPECT_EQ(first["custom"]["checked"], 0);
  EXPECT_EQ(first["custom"]["pass_rate"], nullptr);
  EXPECT_EQ(first["custom"]["items"][pool.size()]["prompt"], "<user>Hi there\n<assistant>");  // the template's
  EXPECT_EQ(first["custom"]["items"][0]["id"], "1");  // the line number

  // Prompts (and a chat) whose answers begin with 4+ ASCII characters, cut to those.
  struct Pick {
    json prompt;  // {"prompt": ...} or {"messages": ...}
    std::string output;
  };
  std::vector<Pick> picks;
  std::optional<Pick> chat;
  for (size_t i = 0; i < pool.size() + kChats.size(); ++i) {
    const std::string o = first["custom"]["items"][i]["output"];
    const size_t n = ascii_prefix(o);
    if (n < 4) continue;
    Pick p{i < pool.size() ? json{{"prompt", pool[i]}} : json{{"messages", {{{"role", "user"}, {"content", kChats[i - pool.size()]}}}}},
           o.substr(0, n)};
    p.prompt["max_tokens"] = n;
    if (i < pool.size()) picks.push_back(p);
    else if (!chat) chat = p;
  }
  ASSERT_GE(picks.size(), 6u) << "too few of the fixture's answers begin in ASCII";
  ASSERT_TRUE(chat) << "no chat answer of the fixture begins in ASCII";
  // One check kind per prompt, each from the base's answer; two choices prompts scored by likelihood
  // (the base's greedy answer against a string it never writes).
  lines.clear();
  auto add = [&](const std::string& id, const Pick& p, json checks) {
    json j = p.prompt;
    j["id"] = id;
    for (auto& [k, v] : checks.items()) j[k] = v;
    lines += j.dump() + "\n";
  };
  const std::vector<std::string> out = {picks[0].output, picks[1].output, picks[2].output,
                                        picks[3].output, picks[4].output, picks[5].output};
  add("exact", picks[0], {{"expected", trim(out[0])}});
  add("contains", picks[1], {{"contains", json::array({out[1].substr(0, 3), out[1].substr(1, 3)})}});
  add("regex", picks[2], {{"regex", "^" + literal(out[2].substr(0, 4))}});
  add("choices", picks[3], {{"choices", json::array({"}}}}}}}}", out[3]})}, {"answer", out[3]}});
  add("choices-index", picks[4], {{"choices", json::array({out[4], "~~~~~~~~"})}, {"answer", 0}});
  add("drift-only", picks[5], json::object());
  add("chat", *chat, {{"contains", chat->output.substr(0, 4)}});
  const fs::path checks = root / "checks.jsonl";
  io::write_text_file(checks, lines);

  // The model against itself: everything passes, the same outputs, no regression.
  const json same = eval_json(model.string() + " --base " + model.string() + " --prompts " + checks.string() +
                                  " --gate 'custom.regressions==0,custom.same_output>=1,custom.pass_rate>=1'",
                              0);
  const json& c = same["custom"];
  EXPECT_EQ(c["prompts"], 7);
  EXPECT_EQ(c["checked"], 6);
  EXPECT_EQ(c["pass_rate"], 1.0);
  EXPECT_EQ(c["base_pass_rate"], 1.0);
  EXPECT_EQ(c["regressions"], json::array());
  EXPECT_EQ(c["fixes"], json::array());
  EXPECT_EQ(c["same_output"], 1.0);
  for (const json& it : c["items"]) {
    EXPECT_EQ(it["same_output"], true) << it;
    EXPECT_EQ(it["first_divergence"], nullptr) << it;
    EXPECT_EQ(it["output"], it["base_output"]) << it;
    if (it["id"] == "choices" || it["id"] == "choices-index") {
      EXPECT_EQ(it["base_continuation_logprob"], nullptr);  // scored, not generated
    } else {
      // The same weights: the same teacher-forced log-prob, below 0.
      EXPECT_EQ(it["base_continuation_logprob"]["model"], it["base_continuation_logprob"]["base"]) << it;
      EXPECT_LT(it["base_continuation_logprob"]["model"].get<double>(), 0) << it;
    }
  }
  EXPECT_EQ(c["items"][0]["checks"], json::array({"expected " + json(trim(out[0])).dump()}));
  EXPECT_EQ(c["items"][0]["output"], out[0]);  // max_tokens cut it to the ASCII part
  EXPECT_EQ(c["items"][3]["output"], out[3]);  // the picked choice
  EXPECT_EQ(c["items"][5]["pass"], nullptr);       // drift only
  EXPECT_NE(last_out.find("regressions      0   fixes 0"), std::string::npos) << last_out;
  EXPECT_NE(last_out.find("gate ok   custom.regressions==0  (custom.regressions = 0)"), std::string::npos) << last_out;
  EXPECT_EQ(same["gate"]["holds"], true);

  // The broken copy (both layers' MLP output zeroed) against the original.
  const json bad = eval_json(broken.string() + " --base " + model.string() + " --prompts " + checks.string() +
                                 " --gate 'custom.regressions==0'",
                             3);
  const json& b = bad["custom"];
  EXPECT_EQ(b["base_pass_rate"], 1.0);
  ASSERT_FALSE(b["regressions"].empty()) << last_out;
  EXPECT_EQ(b["fixes"], json::array());  // nothing fails on the base to be fixed
  size_t failed = 0, differ = 0;
  for (size_t i = 0; i < b["items"].size(); ++i) {
    const json& it = b["items"][i];
    EXPECT_EQ(it["base_pass"], it["pass"].is_null() ? json(nullptr) : json(true)) << it;
    if (it["pass"] == false) ++failed;
    if (it["same_output"] == false) {
      ++differ;
      if (it["first_divergence"].is_number()) {
        // The outputs agree up to the first diverging token (one byte per token).
        const size_t d = it["first_divergence"];
        EXPECT_EQ(it["output"].get<std::string>().substr(0, d), it["base_output"].get<std::string>().substr(0, d));
        EXPECT_NE(it["output"], it["base_output"]);
      }
    }
    if (it["base_continuation_logprob"].is_object()) {
      // Each greedy token has probability >= 1/vocab under the model that chose it: the base's sum
      // is at least -ln(256) per token (max_tokens at most); the zeroed layers change the model's.
      const double lp_base = it["base_continuation_logprob"]["base"], lp_model = it["base_continuation_logprob"]["model"];
      const int max_tokens = json::parse(split_lines(lines)[i])["max_tokens"];
      EXPECT_GE(lp_base, -std::log(256.0) * max_tokens) << it;
      EXPECT_LT(lp_base, 0) << it;
      EXPECT_NE(lp_model, lp_base) << it;
    }
  }
  EXPECT_EQ(b["regressions"].size(), failed);  // every failure is a regression here
  EXPECT_LT(b["pass_rate"].get<double>(), 1.0);
  EXPECT_GT(differ, 0u);
  EXPECT_LT(b["same_output"].get<double>(), 1.0);
  EXPECT_NE(last_out.find("gate FAIL custom.regressions==0"), std::string::npos) << last_out;
  const std::string first_regression = b["regressions"][0];
  EXPECT_NE(last_out.find("  regression " + first_regression + " (line "), std::string::npos) << last_out;
  EXPECT_NE(last_out.find("    base:   "), std::string::npos) << last_out;
  EXPECT_NE(last_out.find("gate failed: custom.regressions==0"), std::string::npos) << last_out;
}

TEST_F(CustomEvalCli, BadFilesFailBeforeAnyModelLoads) {
  const std::string missing = "eval " + (root / "nowhere").string() + " --prompts ";
  const fs::path f = root / "bad.jsonl";
  io::write_text_file(f, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"regex\": \"(x\"}\n");
  expect_error(missing + f.string(), f.string() + ":2: \"regex\" '(x' at offset");
  io::write_text_file(f, "{\"prompt\": \"a\", \"expectd\": \"b\"}\n");
  expect_error(missing + f.string(), f.string() + ":1: unknown key \"expectd\"");
  io::write_text_file(f, "\n");
  expect_error(missing + f.string(), f.string() + ": no prompts");
  io::write_text_file(f, "{\"prompt\": \"a\", \"max_tokens\": 2.5}\n");
  expect_error(missing + f.string(), f.string() + ":1: \"max_tokens\" must be an integer");
  // Chat messages need a template: the folder without one is named with the line.
  const fs::path plain_model = root / "no-template";
  fs::copy(model, plain_model);
  fs::remove(plain_model / "tokenizer_config.json");
  io::write_text_file(f, "{\"prompt\": \"a\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n");
  expect_error("eval " + plain_model.string() + " --prompts " + f.string(),
               f.string() + ":2: chat \"messages\" need the model's chat template");
  // The gate's metrics are checked against the run.
  io::write_text_file(f, "{\"prompt\": \"a\"}\n");
  expect_error(missing + f.string() + " --gate 'custom.regressions==0'", "compares with the base model: give --base");
  expect_error(missing + f.string() + " --gate 'custom.pass_rate>=0.5'", "no prompt of --prompts has a check");
  expect_error("eval " + (root / "nowhere").string() + " --text " + f.string() + " --gate 'custom.pass_rate>=0.5'",
               "custom.pass_rate is measured on --prompts, which this run has not");
  EXPECT_FALSE(fs::exists(root / "nowhere"));
}

TEST_F(CustomEvalCli, WithTextAndTasksInOneRunAndOneJson) {
  const fs::path text = e2e::write_fox_text(root / "text.txt", 800), hs = root / "hs.txt", f = root / "p.jsonl";
  io::write_text_file(hs, "Cooking: A man cracks eggs. he\n2\nfries them.\nsings.\neats a shell.\nthrows the pan.\n");
  io::write_text_file(f, "{\"prompt\": \"Hello\", \"max_tokens\": 4}\n{\"prompt\": \"abc\", \"choices\": [\"d\", \"e\"], \"answer\": 0}\n");
  const json j = eval_json(broken.string() + " --base " + model.string() + " --text " + text.string() +
                               " --ctx 64 --task hellaswag --data hellaswag=" + hs.string() + " --prompts " + f.string() +
                               " --gate 'kld>=0,hellaswag.acc>=0,custom.same_output>=0'",
                           0);
  EXPECT_TRUE(j.contains("ppl")) << j.dump();
  EXPECT_TRUE(j["benchmarks"].contains("hellaswag"));
  EXPECT_EQ(j["custom"]["prompts"], 2);
  EXPECT_EQ(j["custom"]["checked"], 1);
  EXPECT_EQ(j["custom"]["file"], f.string());
  EXPECT_EQ(j["gate"]["conditions"].size(), 3u);
  // The choices prompt is scored, not generated; the other has no check.
  EXPECT_EQ(j["custom"]["items"][0]["pass"], nullptr);
  const json& gen = j["custom"]["items"][0];
  EXPECT_EQ(gen["same_output"].get<bool>(), gen["first_divergence"].is_null()) << gen;
  EXPECT_TRUE(gen["base_continuation_logprob"].is_object()) << gen;
  EXPECT_EQ(j["custom"]["items"][1]["base_continuation_logprob"], nullptr);
  EXPECT_NE(last_out.find("custom eval      " + f.string() + " (2 prompts, 1 with checks)"), std::string::npos) << last_out;
}
