// AWQ (activation-aware weight quantization) as llm-compressor 0.14's AWQModifier computes
// it, as pure functions: the grid of (ratio, duo_scaling) candidates, the per-channel
// weight magnitude w_mean, the candidate scales s = x_mean^r / w_mean^(1-r) (normalised),
// and the candidate weight Q(W s) / s that the search scores. The search itself (running
// the layer's parent block on calibration samples) lives in the pipeline.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/quant_args.h"

namespace lowbit::algorithms {

struct AwqOptions {
  enum class Duo { On, Off, Both };
  Duo duo_scaling = Duo::On;  // llm-compressor's default: true
  int n_grid = 20;
  // Score single-Linear parents (v -> o, up -> down) through X^T X instead of a pass over the
  // tokens per candidate: the same loss summed in another order (off only to test that).
  bool gram_loss = true;
  // Score the candidates of a block parent (attention, MLP) on about this many tokens, whole
  // samples spread evenly over the set (0: every token, as llm-compressor does). The search
  // costs n_grid block passes per token; the statistics (mean |x|, X^T X) still use every token.
  int64_t search_tokens = 0;
};

struct AwqCandidate {
  double ratio;
  bool duo;  // scales use the weight magnitude too
};

// llm-compressor's _get_grid_search_params: duo on -> the identity (0, off) then
// n_grid - 1 ratios i / (n_grid - 2) with duo; off -> i / (n_grid - 1); both -> n_grid / 2
// ratios, each tried without and with duo.
std::vector<AwqCandidate> awq_grid(const AwqOptions& o);

// Which samples score the candidates: every one when `budget` <= 0 or the set holds no more
// tokens than `budget`; else whole samples taken in van der Corput order over the set (each
// prefix of that order is spread evenly across it) until they hold >= `budget` tokens, sorted.
std::vector<size_t> awq_search_samples(const std::vector<int64_t>& tokens_per_sample, int64_t budget);

// One balance layer: W [rows, cols] in `dtype`, with the args it will be quantized with
// (null: not targeted, left out of the mean as llm-compressor leaves it out).
struct AwqBalance {
  const void* w = nullptr;
  DType dtype = DType::BF16;
  int64_t rows = 0, cols = 0;
  const quant::QuantArgs* args = nullptr;
};

// w_mean per input channel: |W| divided by the absolute max of its quantization chunk
// (the group, the row, the block or the tensor) + 1e-6, in the weight's dtype, summed over
// the rows of every targeted balance layer and divided by their total row count.
std::vector<double> awq_weight_mean(const std::vector<AwqBalance>& layers);

// The scales of one candidate: x^r / (w^(1-r) + 1e-4) (duo) or x^r, clamped to >= 1e-4,
// divided by sqrt(max * min); inf/nan -> 1. `w_mean` is unused without duo.
std::vector<double> awq_scales(const std::vector<double>& x_mean, const std::vector<double>& w_mean, AwqCandidate c);

// W with column j multiplied by s[j] (row j of a smooth Linear divided: see below), each
// product rounded to `dtype`; the result is stored in `dtype` (bytes).
std::vector<uint8_t> awq_scale_columns(const void* w, DType dtype, int64_t rows, int64_t cols,
                                       const std::vector<double>& s);
// Rows [rows - s.size(), rows) of W divided by s (the smooth layer's output channels; a
// norm weight or bias is one row of length 1 per channel: pass cols = 1), rounded to dtype.
std::vector<uint8_t> awq_divide_rows(const void* w, DType dtype, int64_t rows, int64_t cols,
                                     const std::vector<double>& s);

// The candidate weight Q(W s) / s in `dtype`, given Ws = awq_scale_columns(W, s): quantized
// with the args' min-max ranges (the search's memoryless observer), dequantized as
// compressed-tensors does, divided by s and rounded to dtype. `shared_amax`: NVFP4 fused
// members' common absolute max.
std::vector<uint8_t> awq_quantize_scaled(const std::vector<uint8_t>& ws, DType dtype, int64_t rows, int64_t cols,
                                         const quant::QuantArgs& args, const std::vector<double>& s,
                                         const std::string& name, std::optional<float> shared_amax = std::nullopt);

}  // namespace lowbit::algorithms
