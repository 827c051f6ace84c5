#include "engine/generate.h"

#include <algorithm>
#include <cmath>
#include <random>

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

int32_t draw_token(const float* logits, int64_t vocab, double temperature, double u) {
  if (!(temperature > 0)) throw UserError("the sampling temperature must be > 0");
  const float top = *std::max_element(logits, logits + vocab);
  std::vector<double> w(static_cast<size_t>(vocab));
  double total = 0;
  for (int64_t i = 0; i < vocab; ++i) total += w[size_t(i)] = std::exp((double(logits[i]) - top) / temperature);
  const double target = u * total;
  double run = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    run += w[size_t(i)];
    if (run > target && w[size_t(i)] > 0) return int32_t(i);
  }
  return int32_t(std::max_element(logits, logits + vocab) - logits);  // u rounded up to the total
}

std::vector<std::vector<int32_t>> sample_sequences(const Transformer& net, int32_t start, int64_t length,
                                                   const std::vector<int32_t>& stop_ids, double temperature,
                                                   const std::vector<uint64_t>& seeds,
                                                   const std::function<void()>& on_step) {
  const int64_t vocab = net.arch().vocab;
  if (start < 0 || start >= vocab) throw UserError("the start token " + std::to_string(start) + " is outside the vocabulary");
  const size_t B = seeds.size();
  std::vector<std::mt19937_64> rng;
  for (uint64_t s : seeds) rng.emplace_back(s);
  std::vector<std::vector<int32_t>> out(B, std::vector<int32_t>{start});
  std::vector<KVCache> caches(B);
  std::vector<int32_t> step(B, start);
  auto is_stop = [&](int32_t t) { return std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end(); };
  for (int64_t pos = 1; pos < length && B > 0; ++pos) {
    check_interrupted();
    const auto logits = net.forward_step(step, caches);
    for (size_t b = 0; b < B; ++b) {
      const double u = double(rng[b]() >> 11) * 0x1.0p-53;  // 53 random bits: the same on every library
      step[b] = is_stop(step[b]) ? start : draw_token(logits.data() + int64_t(b) * vocab, vocab, temperature, u);
      out[b].push_back(step[b]);
    }
    if (on_step) on_step();
  }
  return out;
}

std::vector<int32_t> sample_sequence(const Transformer& net, int32_t start, int64_t length,
                                     const std::vector<int32_t>& stop_ids, double temperature, uint64_t seed) {
  return sample_sequences(net, start, length, stop_ids, temperature, {seed})[0];
}

}  // namespace lowbit::engine
