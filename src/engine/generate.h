// Greedy decoding and sampling with the KV cache: the prompt runs once (only its last row through the
// head), then one token per step, stopping at a stop token as transformers' generate does.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/transformer.h"

namespace lowbit::engine {

// Up to `max_new` tokens after `prompt` (the stop token that ended it included). Checks for
// Ctrl-C between steps.
std::vector<int32_t> greedy_generate(const Transformer& net, const std::vector<int32_t>& prompt, int max_new,
                                     const std::vector<int32_t>& stop_ids);

// Samples of the model's own distribution (softmax of logits / temperature), one per seed, each
// `length` tokens beginning with `start`. After a stop token the next token is `start` again
// (not drawn), so a sample is a packed run of documents as in pretraining, always `length`
// long. The samples decode together, one batched step per position (Transformer::forward_step).
// The draws come from each sample's seed alone (the same machine and batch give the same
// tokens). Checks for Ctrl-C between steps; `on_step` (may be empty) is called after each.
std::vector<std::vector<int32_t>> sample_sequences(const Transformer& net, int32_t start, int64_t length,
                                                   const std::vector<int32_t>& stop_ids, double temperature,
                                                   const std::vector<uint64_t>& seeds,
                                                   const std::function<void()>& on_step = {});
// One sample: sample_sequences with one seed.
std::vector<int32_t> sample_sequence(const Transformer& net, int32_t start, int64_t length,
                                     const std::vector<int32_t>& stop_ids, double temperature, uint64_t seed);

// The index drawn from weights exp((logits[i] - max) / temperature) with u in [0, 1).
int32_t draw_token(const float* logits, int64_t vocab, double temperature, double u);

}  // namespace lowbit::engine
