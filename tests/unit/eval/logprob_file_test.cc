#include "eval/logprob_file.h"

#include <gtest/gtest.h>

#include "temp_path.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/perplexity.h"

using namespace lowbit;
using namespace lowbit::eval;
namespace fs = std::filesystem;

namespace {
fs::path temp(const std::string& name) { return fixtures::temp_path("lp-" + name); }

// Deterministic logits: row t of a sequence prefers token (t * 7 + next) % vocab.
LogitsFn toy_model(int64_t vocab, float sharpness) {
  return [=](const std::vector<int32_t>& chunk, int64_t first) {
    std::vector<float> out;
    for (size_t t = size_t(first); t < chunk.size(); ++t)
      for (int64_t v = 0; v < vocab; ++v)
        out.push_back(sharpness * std::cos(float(v * 3 + chunk[t] * 5 + int64_t(t))));
    return out;
  };
}
}  // namespace

TEST(LogProbFile, SavedBaseGivesTheSameStatisticsAsTheLiveBase) {
  const int64_t vocab = 50;
  std::vector<int32_t> tokens;
  for (int i = 0; i < 400; ++i) tokens.push_back((i * 13 + i / 7) % 50);
  EvalOptions o;
  o.ctx = 64;
  o.bos_id = 1;
  const fs::path f = temp("base.lp");
  o.save_logits = f;
  const EvalResult base = evaluate(tokens, vocab, toy_model(vocab, 3.0f), {}, o);
  ASSERT_TRUE(fs::exists(f));
  EXPECT_FALSE(fs::exists(f.string() + ".tmp"));
  EXPECT_EQ(base.chunks, 6);

  EvalOptions live = o;
  live.save_logits.clear();
  const EvalResult want = evaluate(tokens, vocab, toy_model(vocab, 2.5f), toy_model(vocab, 3.0f), live);
  LogProbReader reader(f);
  EXPECT_EQ(reader.header().chunks, 6u);
  EXPECT_EQ(reader.header().first, 32u);
  EvalOptions from_file = live;
  from_file.base_logits = &reader;
  const EvalResult got = evaluate(tokens, vocab, toy_model(vocab, 2.5f), {}, from_file);
  EXPECT_DOUBLE_EQ(got.ppl, want.ppl);
  EXPECT_NEAR(got.base_ppl, want.base_ppl, 1e-5 * want.base_ppl);
  EXPECT_NEAR(got.mean_kld, want.mean_kld, 1e-4);
  EXPECT_GT(want.mean_kld, 1e-3);
  EXPECT_DOUBLE_EQ(got.top1_agreement, want.top1_agreement);
  EXPECT_NEAR(got.rms_dp, want.rms_dp, 1e-4);
  fs::remove(f);
}

TEST(LogProbFile, RejectsOtherTokensContextAndDamagedFiles) {
  const int64_t vocab = 20;
  std::vector<int32_t> tokens(200);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t(i % 20);
  EvalOptions o;
  o.ctx = 32;
  const fs::path f = temp("reject.lp");
  o.save_logits = f;
  evaluate(tokens, vocab, toy_model(vocab, 1.0f), {}, o);
  o.save_logits.clear();
  LogProbReader reader(f);
  o.base_logits = &reader;
  std::vector<int32_t> other = tokens;
  other[40] = 3;  // chunk 2 differs
  EXPECT_THROW(evaluate(other, vocab, toy_model(vocab, 1.0f), {}, o), UserError);
  EvalOptions ctx = o;
  ctx.ctx = 16;
  EXPECT_THROW(evaluate(tokens, vocab, toy_model(vocab, 1.0f), {}, ctx), UserError);
  EvalOptions paper = o;
  paper.protocol = Protocol::Paper;
  EXPECT_THROW(evaluate(tokens, vocab, toy_model(vocab, 1.0f), {}, paper), UserError);

  const auto size = fs::file_size(f);
  fs::resize_file(f, size - 1);
  EXPECT_THROW(LogProbReader{f}, UserError);  // truncated
  std::ofstream(f, std::ios::binary) << "not a log-prob file at all";
  EXPECT_THROW(LogProbReader{f}, UserError);
  fs::remove(f);
}

TEST(LogProbFile, NoFileLeftWhenTheRunFails) {
  const int64_t vocab = 10;
  std::vector<int32_t> tokens(100, 1);
  EvalOptions o;
  o.ctx = 20;
  const fs::path f = temp("fail.lp");
  o.save_logits = f;
  int calls = 0;
  LogitsFn failing = [&](const std::vector<int32_t>& c, int64_t first) -> std::vector<float> {
    if (++calls == 3) throw UserError("interrupted");
    return std::vector<float>(size_t(int64_t(c.size()) - first) * size_t(vocab), 0.0f);
  };
  EXPECT_THROW(evaluate(tokens, vocab, failing, {}, o), UserError);
  EXPECT_FALSE(fs::exists(f));
  EXPECT_FALSE(fs::exists(f.string() + ".tmp"));
}

TEST(Perplexity, UniformModelHasPerplexityEqualToTheVocabulary) {
  // Equal logits: every next token has probability 1/V, so PPL = V exactly, stderr 0.
  const int64_t vocab = 37;
  std::vector<int32_t> tokens(300);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t(i * 11 % vocab);
  LogitsFn flat = [&](const std::vector<int32_t>& c, int64_t first) {
    return std::vector<float>(size_t(int64_t(c.size()) - first) * size_t(vocab), 0.25f);
  };
  EvalOptions o;
  o.ctx = 50;
  EvalResult r = evaluate(tokens, vocab, flat, flat, o);
  EXPECT_EQ(r.chunks, 6);
  EXPECT_EQ(r.tokens_scored, 6 * 24);  // positions [25, 49) of each chunk
  EXPECT_NEAR(r.ppl, 37.0, 1e-9);
  EXPECT_NEAR(r.ppl_stderr, 0.0, 1e-9);
  EXPECT_NEAR(r.mean_kld, 0.0, 1e-12);
  EXPECT_EQ(r.top1_agreement, 1.0);
  o.protocol = Protocol::Paper;
  EXPECT_EQ(evaluate(tokens, vocab, flat, {}, o).tokens_scored, 6 * 49);
}
