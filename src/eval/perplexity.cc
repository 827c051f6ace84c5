#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lowbit::eval {

namespace {
// log-softmax of one row, in double for the normaliser.
void log_softmax(const float* row, int64_t n, std::vector<double>& out) {
  out.resize(size_t(n));
  float mx = row[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, row[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(row[i]) - mx);
  const double lse = double(mx) + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(row[i]) - lse;
}

struct Mean {
  double sum = 0, sum_sq = 0;
  int64_t n = 0;
  void add(double v) { sum += v, sum_sq += v * v, ++n; }
  double mean() const { return n ? sum / double(n) : 0; }
  double stderr_of_mean() const {
    if (n < 2) return 0;
    double m = mean(), var = (sum_sq / double(n) - m * m) * double(n) / double(n - 1);
    return std::sqrt(std::max(var, 0.0) / double(n));
  }
};
}  // namespace

EvalResult evaluate(const std::vector<int32_t>& tokens, int64_t vocab, const LogitsFn& logits, const LogitsFn& base,
                    const EvalOptions& o, const std::function<void(int64_t, int64_t)>& progress) {
  if (o.ctx < 16) throw UserError("--ctx must be at least 16");
  int64_t chunks = int64_t(tokens.size()) / o.ctx;
  if (chunks == 0)
    throw UserError("the text has " + std::to_string(tokens.size()) + " tokens, fewer than one context of " +
                    std::to_string(o.ctx));
  if (o.max_chunks > 0) chunks = std::min(chunks, o.max_chunks);
  // llama.cpp scores positions [ctx/2, ctx-1) of each chunk; the paper protocol all of [0, ctx-1).
  const int64_t first = o.protocol == Protocol::LlamaCpp ? o.ctx / 2 : 0;
  Mean nll, base_nll, kld, same_top, dp;
  std::vector<double> kld_all;
  std::vector<double> lp, blp;
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * o.ctx, tokens.begin() + (c + 1) * o.ctx);
    if (o.protocol == Protocol::LlamaCpp && o.bos_id >= 0) chunk[0] = o.bos_id;
    const std::vector<float> lg = logits(chunk);
    std::vector<float> bl;
    if (base) bl = base(chunk);
    for (int64_t j = first; j < o.ctx - 1; ++j) {
      const int32_t next = tokens[size_t(c * o.ctx + j + 1)];
      log_softmax(lg.data() + j * vocab, vocab, lp);
      nll.add(-lp[size_t(next)]);
      if (base) {
        log_softmax(bl.data() + j * vocab, vocab, blp);
        base_nll.add(-blp[size_t(next)]);
        double k = 0;
        int64_t top = 0, btop = 0;
        for (int64_t v = 0; v < vocab; ++v) {
          const double pb = std::exp(blp[size_t(v)]);
          k += pb * (blp[size_t(v)] - lp[size_t(v)]);
          if (lp[size_t(v)] > lp[size_t(top)]) top = v;
          if (blp[size_t(v)] > blp[size_t(btop)]) btop = v;
        }
        kld.add(k);
        kld_all.push_back(k);
        same_top.add(top == btop ? 1.0 : 0.0);
        const double d = std::exp(lp[size_t(next)]) - std::exp(blp[size_t(next)]);
        dp.add(d * d);
      }
    }
    if (progress) progress(c + 1, chunks);
  }
  EvalResult r;
  r.chunks = chunks;
  r.tokens_scored = nll.n;
  r.ppl = std::exp(nll.mean());
  r.ppl_stderr = r.ppl * nll.stderr_of_mean();
  if (base) {
    r.has_base = true;
    r.base_ppl = std::exp(base_nll.mean());
    r.base_ppl_stderr = r.base_ppl * base_nll.stderr_of_mean();
    r.mean_kld = kld.mean();
    std::sort(kld_all.begin(), kld_all.end());
    r.kld_p99 = kld_all.empty() ? 0 : kld_all[std::min(kld_all.size() - 1, size_t(0.99 * double(kld_all.size())))];
    r.top1_agreement = same_top.mean();
    r.rms_dp = std::sqrt(dp.mean());
  }
  return r;
}

}  // namespace lowbit::eval
