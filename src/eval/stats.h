// Paired statistics of a model against its base on the same samples: the change in perplexity
// with the standard error llama.cpp's `llama-perplexity --kl-divergence` prints (per-token NLLs of
// both models, their covariance included), the change in a benchmark's accuracy with McNemar's
// exact test and Newcombe's paired interval, and the one-word verdict each difference gets.
#pragma once
#include <cstdint>
#include <string>

namespace lowbit::eval {

// Running means, variances and the co-moment of pairs (x, y) (Welford's update: no cancellation
// when the values are all alike, and x == y everywhere gives exactly equal moments).
struct PairedMoments {
  int64_t n = 0;
  double mean_x = 0, mean_y = 0, m2_x = 0, m2_y = 0, c_xy = 0;
  double mean_d = 0, m2_d = 0;  // of the differences x - y
  void add(double x, double y);
  // Variances, standard errors and the covariance of the two means (sample moments / n).
  double var_mean_x() const;
  double var_mean_y() const;
  double se_x() const;
  double se_y() const;
  double cov_of_means() const;
  double se_of_mean_difference() const;  // of mean(x - y), from the differences themselves
};

enum class Verdict { Same, Worse, Better };
std::string to_string(Verdict v);  // "same" | "worse" | "better"

// 1.959964: the two-sided 95 % normal quantile.
inline constexpr double kZ95 = 1.959963984540054;

// A difference (model - base), its standard error, a 95 % interval and the verdict.
struct Difference {
  double value = 0, se = 0, lo = 0, hi = 0;
  Verdict verdict = Verdict::Same;
};

// `higher_is_worse`: the direction of a regression (perplexity up, accuracy down).
// same when [lo, hi] contains 0, else worse / better by the side it lies on.
Verdict verdict_of_interval(double lo, double hi, bool higher_is_worse);
// value ± kZ95·se, with its verdict.
Difference normal_difference(double value, double se, bool higher_is_worse);

// Perplexity against the base from per-token NLLs (x = model, y = base), as llama.cpp prints it:
//   ln(PPL(Q)/PPL(base)) = mean(x) - mean(y), SE = sqrt(se_x² + se_y² - 2·cov)
//   PPL(Q)/PPL(base)     = exp of that, SE = ratio · SE(ln ratio)
//   PPL(Q) - PPL(base),  SE = sqrt(ppl² se_x² + ppl_base² se_y² - 2·ppl·ppl_base·cov)
struct PplComparison {
  Difference ln_ratio, dppl;
  double ratio = 1, ratio_se = 0, correlation = 0;
};
PplComparison compare_ppl(const PairedMoments& nll);

// Accuracy of a model against its base on the same tasks, from the 2x2 table of correctness.
struct PairedCounts {
  int64_t both = 0, model_only = 0, base_only = 0, neither = 0;  // right in both / model only / ...
  int64_t total() const { return both + model_only + base_only + neither; }
};
// Two-sided exact McNemar test: 2·P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1;
// 1 when no pair is discordant.
double mcnemar_exact_p(int64_t model_only, int64_t base_only);
// Newcombe's hybrid score interval (1998, method 10) for the paired difference of proportions at
// 95 %: Wilson intervals of both accuracies combined through the phi correlation of the pairs.
void newcombe_paired_interval(const PairedCounts& c, double& lo, double& hi);

struct AccuracyComparison {
  double delta = 0;  // acc(model) - acc(base)
  double se = 0;     // SE of the mean paired difference (sample variance of d_i ∈ {-1, 0, 1} / n)
  double lo = 0, hi = 0;  // Newcombe's 95 % interval of delta
  double p_value = 1;     // McNemar's exact test
  Verdict verdict = Verdict::Same;  // same when p >= 0.05, else by the sign of delta
};
AccuracyComparison compare_accuracy(const PairedCounts& c);

}  // namespace lowbit::eval
