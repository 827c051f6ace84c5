#include "engine/generate.h"

#include <algorithm>

#include "core/error.h"
#include "core/interrupt.h"

namespace lowbit::engine {

std::vector<int32_t> greedy_generate(const Transformer& net, const std::vector<int32_t>& prompt, int max_new,
                                     const std::vector<int32_t>& stop_ids) {
  if (prompt.empty()) throw UserError("the prompt encodes to no tokens");
  const int64_t vocab = net.arch().vocab;
  std::vector<int32_t> out;
  KVCache cache;
  std::vector<int32_t> step = prompt;
  for (int i = 0; i < max_new; ++i) {
    check_interrupted();
    const auto logits = net.forward(step, int64_t(step.size()) - 1, cache);
    const int32_t best = int32_t(std::max_element(logits.begin(), logits.begin() + vocab) - logits.begin());
    out.push_back(best);
    if (std::find(stop_ids.begin(), stop_ids.end(), best) != stop_ids.end()) break;
    step = {best};
  }
  return out;
}

}  // namespace lowbit::engine
