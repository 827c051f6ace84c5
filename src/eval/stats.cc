#include "eval/stats.h"

#include <algorithm>
#include <cmath>

namespace lowbit::eval {

void PairedMoments::add(double x, double y) {
  ++n;
  const double dx = x - mean_x, dy = y - mean_y;
  mean_x += dx / double(n);
  mean_y += dy / double(n);
  m2_x += dx * (x - mean_x);
  m2_y += dy * (y - mean_y);
  c_xy += dx * (y - mean_y);
  // The differences' own running moments: ln(PPL ratio)'s SE without cancelling two large terms.
  const double d = x - y, dd = d - mean_d;
  mean_d += dd / double(n);
  m2_d += dd * (d - mean_d);
}

namespace {
double moment_over_n(double m2, int64_t n) { return n < 2 ? 0 : m2 / double(n - 1) / double(n); }
}  // namespace

double PairedMoments::var_mean_x() const { return moment_over_n(m2_x, n); }
double PairedMoments::var_mean_y() const { return moment_over_n(m2_y, n); }
double PairedMoments::se_x() const { return std::sqrt(var_mean_x()); }
double PairedMoments::se_y() const { return std::sqrt(var_mean_y()); }
double PairedMoments::cov_of_means() const { return moment_over_n(c_xy, n); }
double PairedMoments::se_of_mean_difference() const { return std::sqrt(std::max(0.0, moment_over_n(m2_d, n))); }

std::string to_string(Verdict v) {
  switch (v) {
    case Verdict::Same: return "same";
    case Verdict::Worse: return "worse";
    case Verdict::Better: return "better";
  }
  return "";
}

Verdict verdict_of_interval(double lo, double hi, bool higher_is_worse) {
  if (lo <= 0 && hi >= 0) return Verdict::Same;
  const bool above = lo > 0;
  return above == higher_is_worse ? Verdict::Worse : Verdict::Better;
}

Difference normal_difference(double value, double se, bool higher_is_worse) {
  Difference d{value, se, value - kZ95 * se, value + kZ95 * se};
  d.verdict = verdict_of_interval(d.lo, d.hi, higher_is_worse);
  return d;
}

PplComparison compare_ppl(const PairedMoments& m) {
  PplComparison r;
  const double ln_ratio = m.mean_x - m.mean_y;
  r.ln_ratio = normal_difference(ln_ratio, m.se_of_mean_difference(), true);
  r.ratio = std::exp(ln_ratio);
  r.ratio_se = r.ratio * r.ln_ratio.se;
  const double ppl = std::exp(m.mean_x), base = std::exp(m.mean_y);
  const double sx = m.se_x(), sy = m.se_y(), cov = m.cov_of_means();
  // The variances themselves (not squared SEs) and one evaluation order for the three terms, so
  // equal models give exactly 0.
  const double var = ppl * ppl * m.var_mean_x() + base * base * m.var_mean_y() - 2 * ppl * base * cov;
  r.dppl = normal_difference(ppl - base, std::sqrt(std::max(0.0, var)), true);
  r.correlation = sx > 0 && sy > 0 ? cov / (sx * sy) : 0;
  return r;
}

double mcnemar_exact_p(int64_t model_only, int64_t base_only) {
  const int64_t n = model_only + base_only, k = std::min(model_only, base_only);
  if (n == 0) return 1;
  // P(X <= k), X ~ Binomial(n, 1/2), term by term in log space (n may be thousands).
  const double ln_half_n = -double(n) * std::log(2.0);
  double tail = 0;
  for (int64_t i = 0; i <= k; ++i)
    tail += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) +
                     ln_half_n);
  return std::min(1.0, 2 * tail);
}

namespace {
// Wilson's score interval of a proportion x/n at 95 %.
void wilson(int64_t x, int64_t n, double& lo, double& hi) {
  const double p = double(x) / double(n), z2 = kZ95 * kZ95, nn = double(n);
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = kZ95 / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  lo = std::max(0.0, centre - half);
  hi = std::min(1.0, centre + half);
}
}  // namespace

void newcombe_paired_interval(const PairedCounts& c, double& lo, double& hi) {
  const int64_t n = c.total();
  if (n == 0) {
    lo = hi = 0;
    return;
  }
  const int64_t model_right = c.both + c.model_only, base_right = c.both + c.base_only;
  const double p1 = double(model_right) / double(n), p2 = double(base_right) / double(n), d = p1 - p2;
  double l1, u1, l2, u2;
  wilson(model_right, n, l1, u1);
  wilson(base_right, n, l2, u2);
  // phi: the correlation of the two correctness indicators (0 when a margin is empty).
  const double margins = double(model_right) * double(n - model_right) * double(base_right) * double(n - base_right);
  const double phi =
      margins > 0 ? (double(c.both) * double(c.neither) - double(c.model_only) * double(c.base_only)) / std::sqrt(margins)
                  : 0;
  const double a = p1 - l1, b = u2 - p2, e = u1 - p1, f = p2 - l2;
  lo = d - std::sqrt(std::max(0.0, a * a - 2 * phi * a * b + b * b));
  hi = d + std::sqrt(std::max(0.0, e * e - 2 * phi * e * f + f * f));
}

AccuracyComparison compare_accuracy(const PairedCounts& c) {
  AccuracyComparison r;
  const int64_t n = c.total();
  if (n == 0) return r;
  const double b = double(c.model_only), cc = double(c.base_only), nn = double(n);
  r.delta = (b - cc) / nn;
  // d_i = +1 (b times), -1 (c times), 0 otherwise: sample variance (b + c - n·delta²)/(n - 1).
  if (n > 1) r.se = std::sqrt(std::max(0.0, (b + cc - nn * r.delta * r.delta) / (nn - 1)) / nn);
  newcombe_paired_interval(c, r.lo, r.hi);
  r.p_value = mcnemar_exact_p(c.model_only, c.base_only);
  if (r.p_value < 0.05) r.verdict = r.delta < 0 ? Verdict::Worse : Verdict::Better;
  return r;
}

}  // namespace lowbit::eval
