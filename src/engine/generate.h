// Greedy decoding with the KV cache: the prompt runs once (only its last row through the
// head), then one token per step, stopping at a stop token as transformers' generate does.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/transformer.h"

namespace lowbit::engine {

// Up to `max_new` tokens after `prompt` (the stop token that ended it included). Checks for
// Ctrl-C between steps.
std::vector<int32_t> greedy_generate(const Transformer& net, const std::vector<int32_t>& prompt, int max_new,
                                     const std::vector<int32_t>& stop_ids);

}  // namespace lowbit::engine
