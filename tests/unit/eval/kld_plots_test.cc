// The KLD histogram and per-chunk KLD that `lowbit eval` adds for its report's plots, against a
// per-token computation written out here (its own log-softmax, KL sum and log10 binning).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "eval/chunks.h"
#include "eval/perplexity.h"

using namespace lowbit::eval;

namespace {

// Deterministic logits with a chunk-dependent sharpness, so chunks differ in KLD.
LogitsFn toy(int64_t vocab, float sharpness, float phase) {
  return [=](const std::vector<int32_t>& chunk, int64_t first) {
    std::vector<float> out;
    for (size_t t = size_t(first); t < chunk.size(); ++t)
      for (int64_t v = 0; v < vocab; ++v)
        out.push_back(sharpness * (1 + float(chunk[0] % 3)) * std::sin(float(v * 5 + chunk[t] * 3 + int64_t(t)) + phase));
    return out;
  };
}

std::vector<double> log_softmax(const float* row, int64_t n) {
  double mx = row[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, double(row[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(row[i]) - mx);
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(row[i]) - mx - std::log(s);
  return out;
}

}  // namespace

TEST(KldPlots, BinEdgesAreFourPerDecadeAndValuesLandWhereTheEdgesSay) {
  const auto& e = kld_bin_edges();
  ASSERT_EQ(e.size(), 33u);
  EXPECT_DOUBLE_EQ(e.front(), 1e-6);
  EXPECT_DOUBLE_EQ(e[4], 1e-5);
  EXPECT_DOUBLE_EQ(e[24], 1.0);
  EXPECT_DOUBLE_EQ(e.back(), 100.0);
  EXPECT_EQ(kld_bin(0.0), 0u);
  EXPECT_EQ(kld_bin(-1e-9), 0u);  // rounding below zero
  EXPECT_EQ(kld_bin(0.9e-6), 0u);
  EXPECT_EQ(kld_bin(e[0]), 1u);  // [edge 0, edge 1) is bin 1
  EXPECT_EQ(kld_bin(1.0), 25u);
  EXPECT_EQ(kld_bin(0.999), 24u);
  EXPECT_EQ(kld_bin(99.9), 32u);
  EXPECT_EQ(kld_bin(100.0), 33u);
  EXPECT_EQ(kld_bin(1e9), 33u);
}

TEST(KldPlots, HistogramAndPerChunkMeansEqualAPerTokenComputation) {
  const int64_t vocab = 40, ctx = 48;
  std::vector<int32_t> tokens;
  for (int i = 0; i < 500; ++i) tokens.push_back((i * 17 + i / 5) % 40);
  EvalOptions o;
  o.ctx = ctx;
  const LogitsFn model = toy(vocab, 1.3f, 0.2f), base = toy(vocab, 1.5f, 0.0f);
  const EvalResult r = evaluate(tokens, vocab, model, base, o);
  ASSERT_TRUE(r.has_base);
  ASSERT_EQ(r.chunks, 10);

  const Chunks ch = make_chunks(tokens, ctx, Protocol::LlamaCpp, -1, -1);
  std::vector<int64_t> hist(34, 0);
  std::vector<double> per_chunk;
  double total = 0;
  for (const auto& chunk : ch.tokens) {
    const std::vector<float> lm = model(chunk, ch.first), lb = base(chunk, ch.first);
    double sum = 0;
    for (int64_t i = 0; i < ch.rows(); ++i) {
      const auto p = log_softmax(lm.data() + i * vocab, vocab), q = log_softmax(lb.data() + i * vocab, vocab);
      double kl = 0;
      for (int64_t v = 0; v < vocab; ++v) kl += std::exp(q[size_t(v)]) * (q[size_t(v)] - p[size_t(v)]);
      sum += kl;
      // Bin by the logarithm: 4 bins a decade from 1e-6, one below, one at 100 and above.
      const int bin = kl < 1e-6 ? 0 : kl >= 100 ? 33 : 1 + int(std::floor((std::log10(kl) + 6) * 4));
      ++hist[size_t(bin)];
    }
    per_chunk.push_back(sum / double(ch.rows()));
    total += sum;
  }
  ASSERT_EQ(r.kld_histogram.size(), 34u);
  EXPECT_EQ(r.kld_histogram, hist);
  int64_t n = 0, nonzero_bins = 0;
  for (int64_t c : r.kld_histogram) n += c, nonzero_bins += c > 0;
  EXPECT_EQ(n, r.tokens_scored);
  EXPECT_GE(nonzero_bins, 3);  // a spread, not one bar
  ASSERT_EQ(r.kld_per_chunk.size(), per_chunk.size());
  for (size_t c = 0; c < per_chunk.size(); ++c) EXPECT_NEAR(r.kld_per_chunk[c], per_chunk[c], 1e-9) << c;
  EXPECT_NEAR(total / double(r.tokens_scored), r.mean_kld, 1e-9);
  EXPECT_GT(*std::max_element(per_chunk.begin(), per_chunk.end()),
            1.5 * *std::min_element(per_chunk.begin(), per_chunk.end()));  // chunks differ: the line is not flat
}

TEST(KldPlots, NoBaseNoPlots) {
  std::vector<int32_t> tokens(200);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = int32_t(i % 20);
  EvalOptions o;
  o.ctx = 32;
  const EvalResult r = evaluate(tokens, 20, toy(20, 1.0f, 0.0f), {}, o);
  EXPECT_TRUE(r.kld_histogram.empty());
  EXPECT_TRUE(r.kld_per_chunk.empty());
}
