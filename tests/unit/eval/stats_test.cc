#include "eval/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "eval/perplexity.h"
#include "eval/verdicts.h"

using namespace lowbit::eval;

namespace {
PairedMoments moments(const std::vector<double>& x, const std::vector<double>& y) {
  PairedMoments m;
  for (size_t i = 0; i < x.size(); ++i) m.add(x[i], y[i]);
  return m;
}
}  // namespace

TEST(PairedStats, AModelAgainstItselfIsTheSameWithZeroDifferenceAndError) {
  const std::vector<double> nll{2.1, 0.3, 5.7, 1.25, 3.3, 0.01, 7.5, 2.2, 1.9, 4.4, 0.8, 3.1};
  const PplComparison c = compare_ppl(moments(nll, nll));
  EXPECT_EQ(c.ln_ratio.value, 0.0);
  EXPECT_EQ(c.ln_ratio.se, 0.0);
  EXPECT_EQ(c.dppl.value, 0.0);
  EXPECT_EQ(c.dppl.se, 0.0);
  EXPECT_EQ(c.ratio, 1.0);
  EXPECT_EQ(c.ln_ratio.verdict, Verdict::Same);
  EXPECT_EQ(c.dppl.verdict, Verdict::Same);
  EXPECT_NEAR(c.correlation, 1.0, 1e-12);
}

// llama.cpp's formulas (perplexity.cpp, kl_divergence): from plain sums over the tokens,
//   mean_and_uncertainty(sum, sum2, n) = (sum/n, sqrt((sum2/n - (sum/n)²)/(n-1)))
//   covariance(sa, sb, sab, n)         = (sab/n - sa/n·sb/n)/(n-1)
//   SE(ln ratio) = sqrt(se_q² + se_base² - 2·cov)
//   SE(ΔPPL)     = sqrt((ppl·se_q)² + (ppl_base·se_base)² - 2·ppl·ppl_base·cov)
TEST(PairedStats, LnPplRatioAndDeltaPplErrorsEqualLlamaCppFormulas) {
  const std::vector<double> q{2.3, 0.4, 5.1, 1.7, 3.9, 0.2, 6.8, 2.6, 1.1, 4.9, 0.7, 3.0, 2.2, 1.4};
  const std::vector<double> base{2.0, 0.5, 4.6, 1.5, 3.7, 0.1, 6.9, 2.1, 1.0, 4.2, 0.9, 2.8, 2.0, 1.5};
  double sq = 0, sq2 = 0, sb = 0, sb2 = 0, sqb = 0;
  const double n = double(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    sq += q[i], sq2 += q[i] * q[i], sb += base[i], sb2 += base[i] * base[i], sqb += q[i] * base[i];
  }
  const double mq = sq / n, mb = sb / n;
  const double se_q = std::sqrt((sq2 / n - mq * mq) / (n - 1)), se_b = std::sqrt((sb2 / n - mb * mb) / (n - 1));
  const double cov = (sqb / n - mq * mb) / (n - 1);
  const double want_ln_se = std::sqrt(se_q * se_q + se_b * se_b - 2 * cov);
  const double ppl = std::exp(mq), ppl_b = std::exp(mb);
  const double want_dppl_se =
      std::sqrt(ppl * se_q * ppl * se_q + ppl_b * se_b * ppl_b * se_b - 2 * ppl * ppl_b * cov);

  const PplComparison c = compare_ppl(moments(q, base));
  EXPECT_NEAR(c.ln_ratio.value, mq - mb, 1e-12);
  EXPECT_NEAR(c.ln_ratio.se, want_ln_se, 1e-12);
  EXPECT_NEAR(c.ratio_se, std::exp(mq - mb) * want_ln_se, 1e-12);
  EXPECT_NEAR(c.dppl.value, ppl - ppl_b, 1e-12);
  EXPECT_NEAR(c.dppl.se, want_dppl_se, 1e-10);
  EXPECT_NEAR(c.correlation, cov / (se_q * se_b), 1e-12);
  // mean difference 2.5/14 = 0.18, SE about 0.07: outside 1.96 SE (the pairs move together), so worse.
  EXPECT_GT(c.ln_ratio.value - kZ95 * c.ln_ratio.se, 0);
  EXPECT_EQ(c.ln_ratio.verdict, Verdict::Worse);
  // Swapped, the base is the worse one.
  EXPECT_EQ(compare_ppl(moments(base, q)).ln_ratio.verdict, Verdict::Better);
}

TEST(PairedStats, VerdictOfAnInterval) {
  EXPECT_EQ(verdict_of_interval(-0.1, 0.2, true), Verdict::Same);
  EXPECT_EQ(verdict_of_interval(0.0, 0.0, true), Verdict::Same);
  EXPECT_EQ(verdict_of_interval(0.1, 0.2, true), Verdict::Worse);
  EXPECT_EQ(verdict_of_interval(0.1, 0.2, false), Verdict::Better);
  EXPECT_EQ(verdict_of_interval(-0.2, -0.1, false), Verdict::Worse);
  const Difference d = normal_difference(1.0, 0.5, true);  // 1 ± 0.98: [0.02, 1.98]
  EXPECT_NEAR(d.lo, 1 - 0.5 * 1.959963984540054, 1e-12);
  EXPECT_EQ(d.verdict, Verdict::Worse);
  EXPECT_EQ(normal_difference(1.0, 0.52, true).verdict, Verdict::Same);  // [-0.019, 2.02]
}

TEST(McNemar, ExactTwoSidedPValues) {
  // 10 discordant pairs split 8/2: p = 2·P(X <= 2 | n = 10, 1/2) = 2·(1 + 10 + 45)/1024 = 0.109375.
  EXPECT_NEAR(mcnemar_exact_p(8, 2), 0.109375, 1e-12);
  EXPECT_NEAR(mcnemar_exact_p(2, 8), 0.109375, 1e-12);
  // 10/0: 2·(1/1024).
  EXPECT_NEAR(mcnemar_exact_p(10, 0), 0.001953125, 1e-15);
  // 6/0: 2/64 = 0.03125 (below 0.05 with only 6 flips).
  EXPECT_NEAR(mcnemar_exact_p(0, 6), 0.03125, 1e-15);
  // 5/5: 2·638/1024 > 1, capped.
  EXPECT_EQ(mcnemar_exact_p(5, 5), 1.0);
  EXPECT_EQ(mcnemar_exact_p(0, 0), 1.0);
  // Large n stays finite and symmetric: 2000/2100 -> about 0.12 (normal approximation z = 100/sqrt(4100)).
  const double p = mcnemar_exact_p(2000, 2100);
  EXPECT_NEAR(p, std::erfc(100 / std::sqrt(4100.0) / std::sqrt(2.0)), 0.01);
}

TEST(AccuracyComparison, DeltaErrorPValueAndVerdict) {
  // 100 tasks: right in both 50, only the model 2, only the base 8, neither 40.
  PairedCounts c{50, 2, 8, 40};
  const AccuracyComparison a = compare_accuracy(c);
  EXPECT_NEAR(a.delta, -0.06, 1e-15);
  // The paired differences d_i (+1 twice, -1 eight times, 0 otherwise): SE = sd(d)/sqrt(n).
  std::vector<double> d(100, 0.0);
  for (int i = 0; i < 2; ++i) d[size_t(i)] = 1;
  for (int i = 2; i < 10; ++i) d[size_t(i)] = -1;
  double mean = 0, ss = 0;
  for (double v : d) mean += v / 100;
  for (double v : d) ss += (v - mean) * (v - mean);
  EXPECT_NEAR(a.se, std::sqrt(ss / 99 / 100), 1e-15);
  EXPECT_NEAR(a.p_value, 0.109375, 1e-12);
  EXPECT_EQ(a.verdict, Verdict::Same);  // p >= 0.05
  EXPECT_LT(a.lo, a.delta);
  EXPECT_GT(a.hi, a.delta);

  const AccuracyComparison worse = compare_accuracy({50, 0, 10, 40});
  EXPECT_EQ(worse.verdict, Verdict::Worse);
  EXPECT_EQ(compare_accuracy({50, 10, 0, 40}).verdict, Verdict::Better);
  EXPECT_LT(worse.hi, 0);  // Newcombe's interval agrees here

  const AccuracyComparison self = compare_accuracy({60, 0, 0, 40});
  EXPECT_EQ(self.delta, 0.0);
  EXPECT_EQ(self.se, 0.0);
  EXPECT_EQ(self.p_value, 1.0);
  EXPECT_EQ(self.verdict, Verdict::Same);
  EXPECT_LE(self.lo, 0.0);
  EXPECT_GE(self.hi, 0.0);
}

TEST(AccuracyComparison, NewcombeIntervalOnADegenerateTable) {
  // The model wrong on all 10 tasks, the base right on all: phi is 0 (empty margins) and the
  // Wilson intervals are [0, w] and [1 - w, 1] with w = z²/(n + z²) = 3.841459/13.841459 = 0.277533.
  // L = -1 - sqrt(0 + 0) = -1; U = -1 + sqrt(w² + w²) = -1 + 1.414214·0.277533 = -0.607509.
  double lo = 0, hi = 0;
  newcombe_paired_interval({0, 0, 10, 0}, lo, hi);
  const double w = kZ95 * kZ95 / (10 + kZ95 * kZ95);
  EXPECT_NEAR(lo, -1.0, 1e-12);
  EXPECT_NEAR(hi, -1 + std::sqrt(2.0) * w, 1e-12);
  EXPECT_NEAR(hi, -0.607509, 1e-6);
}

TEST(AccuracyComparison, PairedCountsFromPicks) {
  auto task = [](int gold, int pick) {
    TaskScore t;
    t.gold = gold;
    t.llama = t.acc = t.acc_norm = pick;
    return t;
  };
  const std::vector<TaskScore> model{task(0, 0), task(1, 1), task(2, 0), task(3, 1), task(0, 0)};
  const std::vector<TaskScore> base{task(0, 0), task(1, 0), task(2, 2), task(3, 1), task(0, 1)};
  const PairedCounts c = paired_counts(model, base, McMetric::Acc);
  EXPECT_EQ(c.both, 1);
  EXPECT_EQ(c.model_only, 2);
  EXPECT_EQ(c.base_only, 1);
  EXPECT_EQ(c.neither, 1);
}

TEST(AccuracyComparison, BenchmarkMeasurementsForTheGate) {
  // 12 HellaSwag tasks, the base right on all, the model wrong on 10 (McNemar p = 2/1024: worse).
  BenchmarkReport rep;
  BenchmarkRun run;
  run.benchmark = Benchmark::HellaSwag;
  for (int i = 0; i < 12; ++i) {
    TaskScore base, model;
    base.gold = model.gold = 0;
    model.llama = model.acc = model.acc_norm = i < 10 ? 1 : 0;
    run.tasks.push_back(model);
    run.base_tasks.push_back(base);
  }
  rep.runs.push_back(run);
  Measurements m;
  add_measurements(rep, m);
  EXPECT_NEAR(m.at("hellaswag.llama.cpp.acc").value, 2.0 / 12, 1e-15);
  EXPECT_EQ(m.at("hellaswag.llama.cpp.base_acc").value, 1.0);
  EXPECT_NEAR(m.at("hellaswag.acc_norm.drop").value, 10.0 / 12, 1e-15);
  EXPECT_EQ(m.at("hellaswag.acc.drop").verdict, Verdict::Worse);
  EXPECT_EQ(m.at("hellaswag.acc.acc").verdict, Verdict::Worse);
  EXPECT_FALSE(m.at("hellaswag.acc.base_acc").verdict.has_value());

  nlohmann::json report = to_json(rep);
  add_benchmark_comparisons(rep, report);
  const nlohmann::json& acc = report["benchmarks"]["hellaswag"]["against_base"]["acc"];
  EXPECT_NEAR(acc["delta"].get<double>(), -10.0 / 12, 1e-15);
  EXPECT_NEAR(acc["p_value"].get<double>(), 2.0 / 1024, 1e-15);
  EXPECT_EQ(acc["verdict"], "worse");
  EXPECT_EQ(acc["base_only_right"], 10);
  EXPECT_EQ(acc["ci95"].size(), 2u);
}
