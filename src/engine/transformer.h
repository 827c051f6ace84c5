// The whole model as a loop over its parts: embed(tokens) -> DecoderLayer::forward for each
// layer -> head(hidden). Layers are built from the WeightSource either all at once and kept
// (evaluation, generation: fastest), or one at a time on demand and freed after use
// (Residency::OneLayer: memory is one layer's weights).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/decoder_layer.h"
#include "engine/linear.h"
#include "engine/observer.h"
#include "engine/rope.h"
#include "engine/weight_source.h"
#include "model/architecture.h"

namespace lowbit::engine {

// Keys and values of every layer for the positions run so far, so that generation runs only
// the new tokens through the model.
struct KVCache {
  int64_t positions = 0;
  std::vector<LayerKV> layers;
  // Forgets positions [n, positions): the cache is as it was when it held n, so several
  // continuations of one shared prefix each run from it (multiple-choice scoring).
  void truncate(int64_t n);
};

enum class Residency { AllLayers, OneLayer };

class Transformer {
 public:
  // Keeps its own copy of `arch` (its layers point into it); `weights` must outlive it.
  Transformer(const model::Architecture& arch, const WeightSource& weights,
              Residency residency = Residency::AllLayers);
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;
  // Token embeddings [T, hidden_size] (UserError for an id outside the vocabulary).
  std::vector<float> embed(const std::vector<int32_t>& tokens) const;
  // Layer i: the resident one, or (OneLayer) built now and freed when the pointer goes.
  std::shared_ptr<const DecoderLayer> layer(int i) const;
  RopeTable rope(int64_t p0, int64_t tokens) const { return rope_.table(p0, tokens); }
  // The final RMSNorm of hidden states [rows, hidden_size]: lm_head's input.
  std::vector<float> final_norm(const float* hidden, int64_t rows) const;
  // Final norm and lm_head: logits [rows, vocab] of hidden states [rows, hidden_size].
  std::vector<float> head(const float* hidden, int64_t rows) const;

  // Logits [tokens.size() - first_row, vocab] of positions [first_row, T) for one causal
  // sequence (eval scores only the second half of a chunk, so the head skips the rest).
  std::vector<float> forward(const std::vector<int32_t>& tokens, int64_t first_row = 0,
                             LinearObserver* observer = nullptr) const;
  // The same for tokens that continue the sequence held in `cache` (positions
  // cache.positions ...); appends their keys and values to it.
  std::vector<float> forward(const std::vector<int32_t>& tokens, int64_t first_row, KVCache& cache) const;
  // Several continuations of the sequence held in `cache`, in one pass (DecoderLayer::
  // forward_branches): logits [sum of sizes, vocab], branch b's rows after branch b-1's, row i of a
  // branch predicting its token i + 1. Each branch sees the cached positions and its own tokens
  // only; the cache is left as it was.
  std::vector<float> forward_branches(const std::vector<std::vector<int32_t>>& branches, const KVCache& cache) const;
  // The same pass, the final norm and lm_head run only on the rows named in `rows` (numbered as
  // above, the branches end to end; any order, repeats allowed): logits [rows.size(), vocab], row k
  // being that of row rows[k]. Multiple-choice scoring needs a few rows of each branch, and the head
  // is a large part of a small model (SmolLM2-135M's 49k-token vocabulary: a fifth of its weights).
  // Each row's logits are those of the all-rows call up to float rounding: sgemm's sums run in an
  // order that depends on a row's place in the batch (OpenBLAS), so only that can differ.
  std::vector<float> forward_branches(const std::vector<std::vector<int32_t>>& branches, const KVCache& cache,
                                      const std::vector<int64_t>& rows) const;
  // One decoding step of several sequences: tokens[b] continues the sequence in caches[b]; all
  // caches hold the same number of positions. Logits [B, vocab]; appends to every cache.
  std::vector<float> forward_step(const std::vector<int32_t>& tokens, std::vector<KVCache>& caches) const;
  const model::Architecture& arch() const { return arch_; }

 private:
  std::vector<float> run(const std::vector<int32_t>& tokens, int64_t first_row, KVCache* cache,
                         LinearObserver* observer) const;
  // forward_branches' hidden states [sum of sizes, hidden_size] after the last layer.
  std::vector<float> branches_hidden(const std::vector<std::vector<int32_t>>& branches, const KVCache& cache) const;

  const model::Architecture arch_;
  const WeightSource& weights_;
  Rope rope_;
  TensorView embed_, final_norm_;
  std::vector<std::shared_ptr<const DecoderLayer>> layers_;  // empty with Residency::OneLayer
  std::unique_ptr<Linear> head_;
};

}  // namespace lowbit::engine
