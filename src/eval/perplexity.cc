#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "eval/chunks.h"

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

// Running mean and variance (Welford: no cancellation when the values are all alike).
struct Mean {
  double m = 0, m2 = 0;
  int64_t n = 0;
  void add(double v) {
    ++n;
    const double d = v - m;
    m += d / double(n);
    m2 += d * (v - m);
  }
  double mean() const { return m; }
  double stderr_of_mean() const { return n < 2 ? 0 : std::sqrt(m2 / double(n - 1) / double(n)); }
};
struct PositionStats {
  double nll = 0, base_nll = 0, kld = 0, dp = 0;
  bool same_top = false;
};
}  // namespace

const std::vector<double>& kld_bin_edges() {
  static const std::vector<double> edges = [] {
    std::vector<double> e;
    for (int i = 0; i <= 32; ++i) e.push_back(std::pow(10.0, -6.0 + i / 4.0));
    return e;
  }();
  return edges;
}

size_t kld_bin(double kld) {
  const auto& e = kld_bin_edges();
  // Compared with the stored edges, not through log10, so a value on an edge lands where the
  // edges say; NaN (never expected) goes to the last bin rather than vanishing.
  if (std::isnan(kld)) return e.size();
  return size_t(std::upper_bound(e.begin(), e.end(), kld) - e.begin());
}

Chunks chunks_for(const std::vector<int32_t>& tokens, const EvalOptions& o) {
  int64_t limit = o.max_chunks;
  if (o.base_logits) {
    const int64_t saved = int64_t(o.base_logits->header().chunks);
    limit = limit > 0 ? std::min(limit, saved) : saved;
  }
  return make_chunks(tokens, o.ctx, o.protocol, o.bos_id, limit);
}

EvalResult evaluate(const std::vector<int32_t>& tokens, int64_t vocab, const LogitsFn& logits, const LogitsFn& base,
                    const EvalOptions& o, const ProgressFn& progress) {
  return evaluate(chunks_for(tokens, o), vocab, logits, base, o, progress);
}

EvalResult evaluate(const Chunks& ch, int64_t vocab, const LogitsFn& logits, const LogitsFn& base, const EvalOptions& o,
                    const ProgressFn& progress) {
  const int64_t chunks = ch.count(), first = ch.first;
  const LogProbReader* bf = o.base_logits;
  if (bf) {
    const LogProbHeader& h = bf->header();
    if (int64_t(h.ctx) != ch.ctx || int64_t(h.first) != first)
      throw UserError("--base-logits was saved with --ctx " + std::to_string(h.ctx) + " and " +
                      (h.first ? "the llama.cpp" : "the paper") + " protocol; evaluate with the same");
    if (int64_t(h.vocab) != vocab)
      throw UserError("--base-logits has a vocabulary of " + std::to_string(h.vocab) + ", the model " +
                      std::to_string(vocab));
    if (chunks > int64_t(h.chunks)) throw UserError("--base-logits holds fewer chunks than asked for");
  }
  const bool has_base = bool(base) || bf;
  std::unique_ptr<LogProbWriter> save;
  const size_t row_bytes = LogProbWriter::row_bytes(uint32_t(vocab));
  std::vector<uint8_t> encoded;
  if (!o.save_logits.empty()) {
    std::vector<int32_t> evaluated;  // every chunk as run, stored to catch a mismatched reuse
    for (const auto& chunk : ch.tokens) evaluated.insert(evaluated.end(), chunk.begin(), chunk.end());
    save = std::make_unique<LogProbWriter>(
        o.save_logits, LogProbHeader{uint32_t(ch.ctx), uint32_t(vocab), uint32_t(chunks), uint32_t(first)}, evaluated);
    encoded.resize(size_t(ch.rows()) * row_bytes);
  }
  Mean nll, base_nll, kld, same_top, dp;
  PairedMoments nll_pairs;
  std::vector<double> kld_all, kld_per_chunk;
  std::vector<int64_t> kld_histogram(kld_bin_edges().size() + 1, 0);
  for (int64_t c = 0; c < chunks; ++c) {
    const std::vector<int32_t>& chunk = ch.tokens[size_t(c)];
    if (bf && !std::equal(chunk.begin(), chunk.end(), bf->chunk_tokens(uint32_t(c))))
      throw UserError("--base-logits was computed on different tokens in chunk " + std::to_string(c + 1) +
                      " (another text, tokenizer or BOS setting)");
    const std::vector<float> lg = logits(chunk, first);
    std::vector<float> bl;
    if (base) bl = base(chunk, first);
    // Rows are independent: computed in parallel, summed in order (same result for any thread count).
    const int64_t rows = ch.rows();
    std::vector<PositionStats> st(static_cast<size_t>(rows));
#pragma omp parallel
    {
      std::vector<double> lp, blp;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < rows; ++i) {
        const int32_t next = chunk[size_t(first + i + 1)];
        PositionStats& p = st[size_t(i)];
        log_softmax(lg.data() + i * vocab, vocab, lp);
        p.nll = -lp[size_t(next)];
        if (save) LogProbWriter::encode_row(lp.data(), uint32_t(vocab), next, encoded.data() + size_t(i) * row_bytes);
        if (!has_base) continue;
        int64_t top = 0, btop = 0;
        if (bf) {
          uint32_t am = 0;
          p.base_nll = -bf->row(uint32_t(c), uint32_t(i), blp, am);
          btop = am;
        } else {
          log_softmax(bl.data() + i * vocab, vocab, blp);
          p.base_nll = -blp[size_t(next)];
          for (int64_t v = 1; v < vocab; ++v)
            if (blp[size_t(v)] > blp[size_t(btop)]) btop = v;
        }
        double k = 0;
        for (int64_t v = 0; v < vocab; ++v) {
          k += std::exp(blp[size_t(v)]) * (blp[size_t(v)] - lp[size_t(v)]);
          if (lp[size_t(v)] > lp[size_t(top)]) top = v;
        }
        p.kld = k;
        p.same_top = top == btop;
        p.dp = std::exp(lp[size_t(next)]) - std::exp(-p.base_nll);
      }
    }
    if (save) save->write_rows(encoded.data(), size_t(rows));
    double chunk_kld = 0;
    for (const PositionStats& p : st) {
      nll.add(p.nll);
      if (!has_base) continue;
      base_nll.add(p.base_nll);
      nll_pairs.add(p.nll, p.base_nll);
      kld.add(p.kld);
      kld_all.push_back(p.kld);
      chunk_kld += p.kld;
      ++kld_histogram[kld_bin(p.kld)];
      same_top.add(p.same_top ? 1.0 : 0.0);
      dp.add(p.dp * p.dp);
    }
    if (has_base) kld_per_chunk.push_back(rows > 0 ? chunk_kld / double(rows) : 0.0);
    if (progress) progress(c + 1, chunks);
  }
  EvalResult r;
  r.chunks = chunks;
  r.tokens_scored = nll.n;
  r.ppl = std::exp(nll.mean());
  r.ppl_stderr = r.ppl * nll.stderr_of_mean();
  if (save) save->commit();
  if (has_base) {
    r.has_base = true;
    r.base_ppl = std::exp(base_nll.mean());
    r.base_ppl_stderr = r.base_ppl * base_nll.stderr_of_mean();
    r.mean_kld = kld.mean();
    std::sort(kld_all.begin(), kld_all.end());
    r.kld_p99 = kld_all.empty() ? 0 : kld_all[std::min(kld_all.size() - 1, size_t(0.99 * double(kld_all.size())))];
    r.top1_agreement = same_top.mean();
    r.kld_stderr = kld.stderr_of_mean();
    r.top1_stderr = same_top.stderr_of_mean();
    r.nll_pairs = nll_pairs;
    r.rms_dp = std::sqrt(dp.mean());
    r.kld_histogram = std::move(kld_histogram);
    r.kld_per_chunk = std::move(kld_per_chunk);
  }
  return r;
}

}  // namespace lowbit::eval
