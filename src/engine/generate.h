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

// A sample of the model's own distribution (softmax of logits / temperature), `length` tokens
// beginning with `start`. A stop token is kept and followed by `start` again, so the sample is
// a packed run of documents as in pretraining, always `length` long. The draws come from
// `seed` alone (the same machine gives the same tokens). Checks for Ctrl-C between steps;
// `on_token` (may be empty) is called after each token.
std::vector<int32_t> sample_sequence(const Transformer& net, int32_t start, int64_t length,
                                     const std::vector<int32_t>& stop_ids, double temperature, uint64_t seed,
                                     const std::function<void()>& on_token = {});

// The index drawn from weights exp((logits[i] - max) / temperature) with u in [0, 1).
int32_t draw_token(const float* logits, int64_t vocab, double temperature, double u);

}  // namespace lowbit::engine
