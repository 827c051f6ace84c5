// `lowbit eval --gate` on generated tiny models: the exit code a deploy pipeline acts on
// (0: every condition holds, 3: one fails, 2: a malformed gate or an unmeasured metric).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/file_util.h"
#include "run_cli.h"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

using e2e::Result;
using e2e::expect_error;
using e2e::run;

class GateCli : public e2e::RootTest {
 protected:
  void SetUp() override {
    RootTest::SetUp();
    model = e2e::write_byte_model(root / "model");
    text = e2e::write_fox_text(root / "text.txt", 1500);
  }
  std::string eval_against(const fs::path& base) const {
    return "eval " + model.string() + " --base " + base.string() + " --text " + text.string() + " --ctx 64";
  }
  fs::path model, text;
};

}  // namespace

TEST_F(GateCli, AModelAgainstItselfPassesAndTheVerdictsAreSame) {
  const fs::path json = root / "gate.json";
  const Result r = run(eval_against(model) +
                       " --gate 'kld<=0.02,ppl_ratio<=1.02,dppl<=noise,top1>=0.9,ln_ppl_ratio==noise' --json " +
                       json.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("delta PPL        +0.0000 +/- 0.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate ok   kld<=0.02"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(io::read_text_file(json));
  EXPECT_EQ(j["against_base"]["ln_ppl_ratio"]["verdict"], "same");
  EXPECT_EQ(j["against_base"]["ln_ppl_ratio"]["se"], 0.0);
  EXPECT_EQ(j["against_base"]["kld"]["verdict"], "same");
  EXPECT_EQ(j["gate"]["holds"], true);
  EXPECT_EQ(j["gate"]["conditions"].size(), 5u);
}

TEST_F(GateCli, AFailingConditionExitsThreeAndNamesTheMeasuredValue) {
  // A perplexity is never at most 1, and 4-bit weights are detectably apart from the original.
  const fs::path q = root / "q4";
  ASSERT_EQ(run("quantize " + model.string() + " -o " + q.string() + " --scheme W4A16 --ignore lm_head").rc, 0);
  const fs::path json = root / "fail.json";
  const Result r = run("eval " + q.string() + " --base " + model.string() + " --text " + text.string() +
                       " --ctx 64 --gate 'ppl_ratio<=100,ppl<=1,kld<=noise' --json " + json.string());
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("gate ok   ppl_ratio<=100"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate FAIL ppl<=1  (ppl = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate FAIL kld<=noise  (kld = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", worse)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate failed: "), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(io::read_text_file(json));  // written all the same
  EXPECT_EQ(j["gate"]["holds"], false);
  EXPECT_EQ(j["against_base"]["kld"]["verdict"], "worse");
}

TEST_F(GateCli, AMalformedGateOrAnUnmeasuredMetricExitsTwoBeforeAnyModelLoads) {
  // The model folder does not exist: the gate's error comes first.
  const std::string missing = "eval " + (root / "nowhere").string() + " --text " + text.string();
  expect_error(missing + " --gate 'kld<<0.02'", "--gate 'kld<<0.02': '<0.02' is neither a number nor 'noise'");
  expect_error(missing + " --base " + model.string() + " --gate 'kdl<=0.02'", "unknown metric 'kdl' (known: ppl,");
  expect_error(missing + " --gate 'kld<=0.02'", "compares with the base model: give --base");
  expect_error(missing + " --gate 'hellaswag.drop<=noise'", "task 'hellaswag' is not evaluated by this run");
  expect_error(missing + " --base " + model.string() + " --gate 'kld>=noise'", "'noise' goes with <=");
}

TEST_F(GateCli, BenchmarkDropWithinNoiseAgainstItself) {
  const fs::path hs = root / "hs.txt", json = root / "tasks.json";
  io::write_text_file(hs,
                      "Cooking: A man cracks eggs. he\n2\nfries them.\nsings.\neats a shell.\nthrows the pan.\n"
                      "Sports: A lady lifts a barbell. she\n0\ndrops it.\nflies.\nsings a song.\nswims.\n");
  const Result r = run("eval " + model.string() + " --base " + model.string() + " --task hellaswag --data hellaswag=" +
                       hs.string() + " --json " + json.string() +
                       " --gate 'hellaswag.drop<=noise,hellaswag.acc_norm.drop==noise,hellaswag.acc>=0'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("gate ok   hellaswag.drop<=noise  (hellaswag.llama.cpp.drop = 0, same)"), std::string::npos)
      << r.out;
  const auto j = nlohmann::json::parse(io::read_text_file(json));
  EXPECT_EQ(j["benchmarks"]["hellaswag"]["against_base"]["acc_norm"]["verdict"], "same");
  EXPECT_EQ(j["benchmarks"]["hellaswag"]["against_base"]["acc_norm"]["p_value"], 1.0);
  EXPECT_EQ(run("eval " + model.string() + " --base " + model.string() + " --task hellaswag --data hellaswag=" +
                hs.string() + " --gate 'hellaswag.acc>1'")
                .rc,
            3);
}
