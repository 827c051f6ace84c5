// Perplexity of a model on a token stream, and, against a base model on the same
// chunks, the statistics llama.cpp's perplexity tool prints: KL divergence (mean, 99th
// percentile), top-1 agreement, RMS of the change in the correct token's probability.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "eval/chunks.h"
#include "eval/logprob_file.h"
#include "eval/stats.h"

namespace lowbit::eval {

struct EvalOptions {
  int64_t ctx = 512;
  Protocol protocol = Protocol::LlamaCpp;
  int64_t max_chunks = -1;  // -1: all
  int32_t bos_id = -1;      // >= 0: replace each chunk's first token (llama.cpp protocol)
  // The model's log-probs of the scored rows are saved here (for a later --base-logits).
  std::filesystem::path save_logits;
  // Base log-probs from a file (instead of a base model); chunks are limited to the file's.
  const LogProbReader* base_logits = nullptr;
};

struct EvalResult {
  int64_t chunks = 0, tokens_scored = 0;
  double ppl = 0, ppl_stderr = 0;  // stderr of the perplexity (delta method on mean NLL)
  // With a base model:
  bool has_base = false;
  double base_ppl = 0, base_ppl_stderr = 0;
  double mean_kld = 0, kld_p99 = 0, top1_agreement = 0, rms_dp = 0;
  double kld_stderr = 0, top1_stderr = 0;  // standard errors of the means over the scored tokens
  // Per-token NLLs of the model (x) and the base (y) on the same tokens: the paired errors of
  // delta-PPL and ln(PPL ratio) (eval::compare_ppl).
  PairedMoments nll_pairs;
  // For the report's plots: the per-token KLD counted in kld_bin_edges()'s bins, and its mean
  // over each chunk's scored tokens (in chunk order).
  std::vector<int64_t> kld_histogram;
  std::vector<double> kld_per_chunk;
};

// Fixed bins of the per-token KLD, log-spaced, 4 per decade: edges 10^(-6 + i/4), i = 0..32
// (1e-6 to 100 nats). Bin 0 counts KLD below 1e-6 (zero and rounding included), bin i in
// [edge[i-1], edge[i]), the last bin (33) KLD of 100 or more. Fixed, so runs compare bin by bin.
const std::vector<double>& kld_bin_edges();
size_t kld_bin(double kld);  // the bin of one value, 0..kld_bin_edges().size()

// `logits(chunk_tokens, first)` returns the [n - first, vocab] logits of positions
// [first, n); `base` likewise (or empty). `progress` is called after each chunk with
// (chunks done, total).
using LogitsFn = std::function<std::vector<float>(const std::vector<int32_t>&, int64_t first)>;
using ProgressFn = std::function<void(int64_t, int64_t)>;
// The chunks of `tokens` per opts (make_chunks; with base_logits, at most the file's chunks).
Chunks chunks_for(const std::vector<int32_t>& tokens, const EvalOptions& opts);
EvalResult evaluate(const Chunks& chunks, int64_t vocab, const LogitsFn& logits, const LogitsFn& base,
                    const EvalOptions& opts, const ProgressFn& progress = {});
// The same on chunks_for(tokens, opts).
EvalResult evaluate(const std::vector<int32_t>& tokens, int64_t vocab, const LogitsFn& logits, const LogitsFn& base,
                    const EvalOptions& opts, const ProgressFn& progress = {});

}  // namespace lowbit::eval
