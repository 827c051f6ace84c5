#include "eval/multiple_choice.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tiny_model_fixture.h"

using namespace lowbit;
using namespace lowbit::eval;

namespace {

const fixtures::LoadedTiny& tiny() {
  static const fixtures::LoadedTiny t = fixtures::load_tiny_model("multiple-choice-model", 300);
  return t;
}

// log p(seq[p] | seq[0..p)) from one forward pass over the whole sequence, no cache.
std::vector<double> from_scratch(const engine::Transformer& net, const std::vector<int32_t>& seq) {
  const int64_t V = net.arch().vocab;
  const std::vector<float> logits = net.forward(seq);
  std::vector<double> lp(seq.size(), 0.0);
  for (size_t p = 1; p < seq.size(); ++p) {
    const float* row = logits.data() + (p - 1) * size_t(V);
    double mx = row[0], sum = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
    for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
    lp[p] = double(row[seq[p]]) - mx - std::log(sum);
  }
  return lp;
}

std::vector<int32_t> ids(const std::string& s) { return tiny().tok->encode(s); }

}  // namespace

TEST(MultipleChoice, SharedPrefixLogProbsEqualEachSequenceFromScratch) {
  const auto& net = *tiny().m->net;
  const std::vector<std::vector<int32_t>> seqs = {ids("The cat sat on the mat."), ids("The cat sat on a hat!"),
                                                  ids("The cat sat on the matter of it all"), ids("The dog")};
  for (int64_t from : {1, 5, 12}) {
    std::vector<float> last;
    const auto lp = shared_prefix_logprobs(net, seqs, from, &last);
    ASSERT_EQ(lp.size(), seqs.size());
    for (size_t s = 0; s < seqs.size(); ++s) {
      const auto ref = from_scratch(net, seqs[s]);
      ASSERT_EQ(lp[s].size(), ref.size());
      for (size_t p = 0; p < ref.size(); ++p) {
        if (int64_t(p) < from) EXPECT_EQ(lp[s][p], 0.0);
        else EXPECT_NEAR(lp[s][p], ref[p], 1e-4) << "sequence " << s << " position " << p << " from " << from;
      }
    }
    // The last row of sequence 0 is its final token's prediction, log-softmaxed.
    double total = 0;
    for (float x : last) total += std::exp(double(x));
    EXPECT_NEAR(total, 1.0, 1e-4);
  }
  // One sequence the prefix of another: each keeps its last token to score.
  const auto lp = shared_prefix_logprobs(net, {ids("abc"), ids("abcdef")}, 1);
  EXPECT_NEAR(lp[0][2], from_scratch(net, ids("abc"))[2], 1e-4);
  EXPECT_NEAR(lp[1][5], from_scratch(net, ids("abcdef"))[5], 1e-4);
}

TEST(MultipleChoice, HellaSwagScoresAsLlamaCppAndLmEval) {
  const auto& t = tiny();
  McTask task;
  task.index = 7;
  task.context = "Cooking: A man cracks two eggs. he";
  task.choices = {"fries them in a pan.", "fries the toast.", "throws the pan away.", "eats a shell"};
  task.gold = 1;
  const TaskScore got = ChoiceScorer(*t.m->net, *t.tok, -1).score(Benchmark::HellaSwag, task);
  EXPECT_EQ(got.index, 7u);
  EXPECT_EQ(got.gold, 1);
  ASSERT_EQ(got.choices.size(), 4u);
  // Reference: each full sequence from scratch. llama.cpp averages over the tokens after the
  // four sequences' common prefix (" fries" is shared by two endings only, so it counts);
  // lm-eval sums over the tokens after the context's.
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& e : task.choices) seqs.push_back(ids(task.context + " " + e));
  size_t cp = 0;
  while (seqs[0][cp] == seqs[1][cp] && seqs[0][cp] == seqs[2][cp] && seqs[0][cp] == seqs[3][cp]) ++cp;
  const size_t ctx_len = ids(task.context).size();
  EXPECT_EQ(cp, ctx_len + 1);  // the space after the context is its own byte token
  int best = 0, best_sum = 0, best_norm = 0;
  std::vector<double> mean(4), sum(4), norm(4);
  for (size_t s = 0; s < 4; ++s) {
    const auto lp = from_scratch(*t.m->net, seqs[s]);
    for (size_t p = cp; p < seqs[s].size(); ++p) mean[s] += lp[p];
    mean[s] /= double(seqs[s].size() - cp);
    for (size_t p = ctx_len; p < seqs[s].size(); ++p) sum[s] += lp[p];
    norm[s] = sum[s] / double(task.choices[s].size());
    EXPECT_NEAR(got.choices[s].llama, mean[s], 1e-4);
    EXPECT_NEAR(got.choices[s].logprob, sum[s], 1e-3);
    EXPECT_EQ(got.choices[s].chars, int64_t(task.choices[s].size()));
    if (mean[s] > mean[size_t(best)]) best = int(s);
    if (sum[s] > sum[size_t(best_sum)]) best_sum = int(s);
    if (norm[s] > norm[size_t(best_norm)]) best_norm = int(s);
  }
  EXPECT_EQ(got.llama, best);
  EXPECT_EQ(got.acc, best_sum);
  EXPECT_EQ(got.acc_norm, best_norm);
}

TEST(MultipleChoice, WinograndeScoresThePartAfterTheBlank) {
  const auto& t = tiny();
  McTask task;
  task.context = "Sarah was a better surgeon than Maria so ";
  task.choices = {"Sarah", "Maria"};
  task.after = " always got the easier cases.";
  task.gold = 1;
  const TaskScore got = ChoiceScorer(*t.m->net, *t.tok, -1).score(Benchmark::Winogrande, task);
  ASSERT_EQ(got.choices.size(), 2u);
  float mean[2];
  double sum[2];
  for (int s = 0; s < 2; ++s) {
    const auto seq = ids(task.context + task.choices[size_t(s)] + task.after);
    const size_t base = ids(task.context + task.choices[size_t(s)]).size();
    const auto lp = from_scratch(*t.m->net, seq);
    // llama.cpp: after the choice (both run on for more than 3 tokens), the final "." left out.
    float m = 0;
    for (size_t p = base; p + 1 < seq.size(); ++p) m += float(lp[p]);
    mean[s] = m / float(seq.size() - 1 - base);
    // lm-eval: context + option, continuation " " + the rest stripped (the same bytes here).
    sum[s] = 0;
    for (size_t p = base; p < seq.size(); ++p) sum[s] += lp[p];
    EXPECT_NEAR(got.choices[size_t(s)].llama, mean[s], 1e-4);
    EXPECT_NEAR(got.choices[size_t(s)].logprob, sum[s], 1e-3);
  }
  EXPECT_EQ(got.llama, mean[0] > mean[1] ? 0 : 1);
  EXPECT_EQ(got.acc, sum[1] > sum[0] ? 1 : 0);
}

TEST(MultipleChoice, WinograndeShortTailKeepsLlamaCppsFirstTokenQuirk) {
  // Blank at the end: fewer than 4 tokens after the common prefix, so llama.cpp scores from the
  // prefix on, and its second choice's first token reads the first sequence's last logits.
  const auto& t = tiny();
  McTask task;
  task.context = "It was ";
  task.choices = {"ab", "cd"};
  task.after = ".";
  const auto s0 = ids("It was ab."), s1 = ids("It was cd.");
  const size_t cp = ids("It was ").size();
  ASSERT_EQ(s0[cp - 1], s1[cp - 1]);
  ASSERT_NE(s0[cp], s1[cp]);
  const auto lp0 = from_scratch(*t.m->net, s0), lp1 = from_scratch(*t.m->net, s1);
  // The first sequence's last row (what "." predicts), at the second sequence's token cp.
  const std::vector<float> logits = t.m->net->forward(s0);
  const int64_t V = t.m->arch.vocab;
  const float* row = logits.data() + (s0.size() - 1) * size_t(V);
  double mx = row[0], z = 0;
  for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
  for (int64_t i = 0; i < V; ++i) z += std::exp(double(row[i]) - mx);
  const float quirk = float(double(row[s1[cp]]) - mx - std::log(z));
  // tokens cp, cp+1 scored ("." left out).
  const float m0 = (float(lp0[cp]) + float(lp0[cp + 1])) / 2, m1 = (quirk + float(lp1[cp + 1])) / 2;
  const TaskScore got = ChoiceScorer(*t.m->net, *t.tok, -1).score(Benchmark::Winogrande, task);
  EXPECT_NEAR(got.choices[0].llama, m0, 1e-4);
  EXPECT_NEAR(got.choices[1].llama, m1, 1e-4);
}

TEST(MultipleChoice, IndependentSequencesInOnePassEqualEachFromScratch) {
  const auto& net = *tiny().m->net;
  const std::vector<std::vector<int32_t>> seqs = {ids("The cat sat on the mat."), ids("A dog"), ids("The cat ran")};
  std::vector<std::vector<float>> last;
  const auto lp = independent_logprobs(net, seqs, {1, 1, 4}, {true, false, true}, last);
  ASSERT_EQ(lp.size(), 3u);
  for (size_t s = 0; s < seqs.size(); ++s) {
    const auto ref = from_scratch(net, seqs[s]);
    for (size_t p = 0; p < ref.size(); ++p) {
      if (s == 2 && p < 4) {
        EXPECT_EQ(lp[s][p], 0.0);
      } else if (p > 0) {
        EXPECT_NEAR(lp[s][p], ref[p], 1e-4) << "sequence " << s << " position " << p;
      }
    }
  }
  EXPECT_TRUE(last[1].empty());
  ASSERT_EQ(last[2].size(), size_t(net.arch().vocab));
  double total = 0;
  for (float x : last[2]) total += std::exp(double(x));
  EXPECT_NEAR(total, 1.0, 1e-4);
}

TEST(MultipleChoice, WinograndeTasksInOnePassScoreAsOneAtATime) {
  // Both llama.cpp cases (skipping the choice, and the short-tail quirk) and lm-eval's own
  // sequence ("_'s": a space inserted), packed into one pass.
  const auto& t = tiny();
  std::vector<McTask> tasks(4);
  tasks[0].context = "Sarah was a better surgeon than Maria so ";
  tasks[0].choices = {"Sarah", "Maria"};
  tasks[0].after = " always got the easier cases.";
  tasks[1].context = "It was ";
  tasks[1].choices = {"ab", "cd"};
  tasks[1].after = ".";
  tasks[2].context = "The trophy did not fit in the suitcase because ";
  tasks[2].choices = {"the trophy", "the suitcase"};
  tasks[2].after = "'s size was wrong.";
  tasks[3] = tasks[0];
  tasks[3].choices = {"Maria", "Sarah"};
  for (size_t i = 0; i < tasks.size(); ++i) tasks[i].index = i, tasks[i].gold = int(i % 2);
  const ChoiceScorer scorer(*t.m->net, *t.tok, -1);
  std::vector<const McTask*> ptrs;
  for (const McTask& task : tasks) ptrs.push_back(&task);
  const std::vector<TaskScore> batch = scorer.score_batch(Benchmark::Winogrande, ptrs);
  ASSERT_EQ(batch.size(), tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const TaskScore one = scorer.score(Benchmark::Winogrande, tasks[i]);
    EXPECT_EQ(batch[i].index, i);
    EXPECT_EQ(batch[i].llama, one.llama) << i;
    EXPECT_EQ(batch[i].acc, one.acc) << i;
    ASSERT_EQ(batch[i].choices.size(), 2u);
    for (size_t c = 0; c < 2; ++c) {
      EXPECT_NEAR(batch[i].choices[c].llama, one.choices[c].llama, 1e-4) << i << " " << c;
      EXPECT_NEAR(batch[i].choices[c].logprob, one.choices[c].logprob, 1e-3) << i << " " << c;
    }
  }
}

TEST(MultipleChoice, PrefixCacheKeepsOnlyWhatTheNextCallShares) {
  const auto& net = *tiny().m->net;
  PrefixCache reuse;
  // Calls sharing a long prefix, one that shares little, one whose prefix ends inside the cached one.
  const std::vector<std::vector<std::vector<int32_t>>> calls = {
      {ids("Shared examples. Question one? A"), ids("Shared examples. Question one? B")},
      {ids("Shared examples. Question two? A"), ids("Shared examples. Question two? B")},
      {ids("Other text entirely: x"), ids("Other text entirely: y")},
      {ids("Other te!"), ids("Other tea")},
      {ids("Shared examples. Question one? A"), ids("Shared examples. Question one? C")}};
  for (size_t c = 0; c < calls.size(); ++c) {
    const int64_t from = int64_t(calls[c][0].size()) - 1;
    const auto lp = shared_prefix_logprobs(net, calls[c], from, nullptr, &reuse);
    for (size_t s = 0; s < calls[c].size(); ++s) {
      const auto ref = from_scratch(net, calls[c][s]);
      for (size_t p = size_t(from); p < ref.size(); ++p) EXPECT_NEAR(lp[s][p], ref[p], 1e-4) << "call " << c;
    }
    EXPECT_EQ(reuse.cache.positions, int64_t(reuse.tokens.size()));
    EXPECT_EQ(reuse.tokens, std::vector<int32_t>(calls[c][0].begin(), calls[c][0].begin() + from));
  }
}

TEST(MultipleChoice, LmEvalPromptSumsTheContinuationAfterASpace) {
  // ARC and MMLU: the context is the whole prompt; each choice continues it after " ".
  const auto& t = tiny();
  const ChoiceScorer scorer(*t.m->net, *t.tok, -1);
  McTask arc;
  arc.context = "Question: Which is a gas?\nAnswer:";
  arc.choices = {"ice", "steam", "a rock"};
  arc.gold = 1;
  McTask mmlu = arc;
  mmlu.choices = {"A", "B", "C", "D"};
  mmlu.subject = "physics";
  for (const McTask& task : {arc, mmlu, arc}) {  // the scorer's cached prefix in between
    const TaskScore got = scorer.score(task.subject.empty() ? Benchmark::ArcEasy : Benchmark::Mmlu, task);
    ASSERT_EQ(got.choices.size(), task.choices.size());
    EXPECT_EQ(got.subject, task.subject);
    const size_t ctx_len = ids(task.context).size();
    int best = 0, best_norm = 0;
    std::vector<double> sum(task.choices.size()), norm(task.choices.size());
    for (size_t s = 0; s < task.choices.size(); ++s) {
      const auto seq = ids(task.context + " " + task.choices[s]);
      const auto lp = from_scratch(*t.m->net, seq);
      for (size_t p = ctx_len; p < seq.size(); ++p) sum[s] += lp[p];
      norm[s] = sum[s] / double(task.choices[s].size());
      EXPECT_NEAR(got.choices[s].logprob, sum[s], 1e-3);
      EXPECT_EQ(got.choices[s].chars, int64_t(task.choices[s].size()));
      if (sum[s] > sum[size_t(best)]) best = int(s);
      if (norm[s] > norm[size_t(best_norm)]) best_norm = int(s);
    }
    EXPECT_EQ(got.acc, best);
    EXPECT_EQ(got.acc_norm, best_norm);
  }
  EXPECT_EQ(metrics_of(Benchmark::ArcChallenge), (std::vector<McMetric>{McMetric::Acc, McMetric::AccNorm}));
  EXPECT_EQ(metrics_of(Benchmark::Mmlu5Shot), (std::vector<McMetric>{McMetric::Acc}));
}

TEST(MultipleChoice, AccuracyStderrAndDifferences) {
  std::vector<TaskScore> a(4), b(4);
  for (int i = 0; i < 4; ++i) {
    a[size_t(i)].gold = b[size_t(i)].gold = 0;
    a[size_t(i)].llama = i < 3 ? 0 : 1;
    b[size_t(i)].llama = i < 1 ? 0 : 1;
  }
  const Accuracy acc = accuracy(a, McMetric::LlamaCpp);
  EXPECT_EQ(acc.correct, 3);
  EXPECT_DOUBLE_EQ(acc.acc, 0.75);
  EXPECT_DOUBLE_EQ(acc.stderr_, std::sqrt(0.75 * 0.25 / 3));
  EXPECT_EQ(differing(a, b, McMetric::LlamaCpp), 2);
  EXPECT_EQ(metrics_of(Benchmark::Winogrande).size(), 2u);
}
