#include "engine/transformer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "engine/kernels.h"
#include "numerics/convert.h"

namespace lowbit::engine {

Transformer::Transformer(const model::Architecture& arch, const WeightSource& w, Residency residency)
    : arch_(arch), weights_(w), rope_(arch) {
  embed_ = w.dense_weight(arch_.module("model.embed_tokens"));
  final_norm_ = w.dense_weight(arch_.module("model.norm"));
  if (residency == Residency::AllLayers)
    for (int i = 0; i < arch_.num_layers; ++i) layers_.push_back(std::make_shared<const DecoderLayer>(arch_, i, w));
  head_ = w.linear(arch_.module("lm_head"));
}

void KVCache::truncate(int64_t n) {
  if (n < 0 || n > positions) throw std::logic_error("KVCache::truncate: " + std::to_string(n) + " of " +
                                                     std::to_string(positions) + " positions");
  for (LayerKV& l : layers) {
    // Every layer holds `positions` rows of the same width.
    const size_t row = positions ? l.k.size() / size_t(positions) : 0;
    l.k.resize(size_t(n) * row);
    l.v.resize(size_t(n) * row);
  }
  positions = n;
}

std::shared_ptr<const DecoderLayer> Transformer::layer(int i) const {
  if (i < 0 || i >= arch_.num_layers) throw std::logic_error("no decoder layer " + std::to_string(i));
  if (!layers_.empty()) return layers_[size_t(i)];
  return std::make_shared<const DecoderLayer>(arch_, i, weights_);
}

std::vector<float> Transformer::embed(const std::vector<int32_t>& tokens) const {
  const int64_t T = int64_t(tokens.size()), D = arch_.hidden;
  std::vector<float> x(size_t(T * D));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[size_t(t)];
    if (id < 0 || id >= arch_.vocab) throw UserError("token id " + std::to_string(id) + " is outside the vocabulary");
    to_f32(embed_.data, embed_.dtype, size_t(id * D), size_t(D), x.data() + t * D);
  }
  return x;
}

std::vector<float> Transformer::final_norm(const float* hidden, int64_t rows) const {
  const int64_t D = arch_.hidden;
  std::vector<float> h(size_t(rows * D));
  rms_norm(hidden, final_norm_.data, final_norm_.dtype, rows, D, arch_.rms_norm_eps, h.data());
  return h;
}

std::vector<float> Transformer::head(const float* hidden, int64_t rows) const {
  const std::vector<float> h = final_norm(hidden, rows);
  std::vector<float> logits(size_t(rows * arch_.vocab));
  head_->forward(h.data(), rows, logits.data());
  return logits;
}

std::vector<float> Transformer::forward(const std::vector<int32_t>& tokens, int64_t first_row,
                                        LinearObserver* observer) const {
  return run(tokens, first_row, nullptr, observer);
}

std::vector<float> Transformer::forward(const std::vector<int32_t>& tokens, int64_t first_row, KVCache& cache) const {
  if (cache.layers.empty()) cache.layers.resize(size_t(arch_.num_layers));
  if (cache.layers.size() != size_t(arch_.num_layers)) throw std::logic_error("KVCache of another model");
  auto logits = run(tokens, first_row, &cache, nullptr);
  cache.positions += int64_t(tokens.size());
  return logits;
}

std::vector<float> Transformer::forward_step(const std::vector<int32_t>& tokens, std::vector<KVCache>& caches) const {
  const int64_t B = int64_t(tokens.size());
  if (B == 0 || caches.size() != tokens.size()) throw std::logic_error("forward_step: one cache per token");
  const int64_t p = caches[0].positions;
  for (auto& c : caches) {
    if (c.layers.empty()) c.layers.resize(size_t(arch_.num_layers));
    if (c.positions != p || c.layers.size() != size_t(arch_.num_layers))
      throw std::logic_error("forward_step: caches at different positions");
  }
  std::vector<float> x = embed(tokens);
  RopeTable tab = rope(p, 1);  // every row at position p
  tab.tokens = B;
  const std::vector<float> c = tab.cos, s = tab.sin;
  for (int64_t b = 1; b < B; ++b) tab.cos.insert(tab.cos.end(), c.begin(), c.end()), tab.sin.insert(tab.sin.end(), s.begin(), s.end());
  std::vector<LayerKV*> kvs(static_cast<size_t>(B));
  for (int i = 0; i < arch_.num_layers; ++i) {
    for (int64_t b = 0; b < B; ++b) kvs[size_t(b)] = &caches[size_t(b)].layers[size_t(i)];
    layer(i)->forward_step(x.data(), tab, kvs);
  }
  for (auto& cache : caches) ++cache.positions;
  return head(x.data(), B);
}

std::vector<float> Transformer::forward_branches(const std::vector<std::vector<int32_t>>& branches,
                                                 const KVCache& cache) const {
  const std::vector<float> x = branches_hidden(branches, cache);
  return head(x.data(), int64_t(x.size()) / arch_.hidden);
}

std::vector<float> Transformer::forward_branches(const std::vector<std::vector<int32_t>>& branches,
                                                 const KVCache& cache, const std::vector<int64_t>& rows) const {
  int64_t T = 0;
  for (const auto& b : branches) T += int64_t(b.size());
  for (int64_t r : rows)
    if (r < 0 || r >= T) throw std::logic_error("forward_branches: row " + std::to_string(r) + " of " + std::to_string(T));
  if (rows.empty()) return {};  // nothing would come of the pass
  const std::vector<float> x = branches_hidden(branches, cache);
  const int64_t D = arch_.hidden;
  // The wanted hidden rows side by side: one final norm and one lm_head product for all of them.
  std::vector<float> picked(rows.size() * size_t(D));
  for (size_t k = 0; k < rows.size(); ++k)
    std::copy(x.begin() + rows[k] * D, x.begin() + (rows[k] + 1) * D, picked.begin() + int64_t(k) * D);
  return head(picked.data(), int64_t(rows.size()));
}

std::vector<float> Transformer::branches_hidden(const std::vector<std::vector<int32_t>>& branches,
                                                const KVCache& cache) const {
  if (!cache.layers.empty() && cache.layers.size() != size_t(arch_.num_layers))
    throw std::logic_error("KVCache of another model");
  std::vector<int32_t> tokens;
  std::vector<int64_t> lengths;
  RopeTable tab;
  for (const auto& b : branches) {
    if (b.empty()) throw std::logic_error("forward_branches: an empty branch");
    tokens.insert(tokens.end(), b.begin(), b.end());
    lengths.push_back(int64_t(b.size()));
    // Every branch starts at the cache's next position: the table's rows are per token.
    const RopeTable t = rope(cache.positions, int64_t(b.size()));
    tab.cos.insert(tab.cos.end(), t.cos.begin(), t.cos.end());
    tab.sin.insert(tab.sin.end(), t.sin.begin(), t.sin.end());
  }
  tab.p0 = cache.positions;
  tab.tokens = int64_t(tokens.size());
  std::vector<float> x = embed(tokens);
  const LayerKV empty;
  for (int i = 0; i < arch_.num_layers; ++i) {
    const LayerKV& kv = cache.layers.empty() ? empty : cache.layers[size_t(i)];
    layer(i)->forward_branches(x.data(), tab, lengths, kv);
    if (layers_.empty())
      for (const auto& m : arch_.modules)
        if (m.layer == i) weights_.release(m);
  }
  return x;
}

std::vector<float> Transformer::run(const std::vector<int32_t>& tokens, int64_t first_row, KVCache* cache,
                                    LinearObserver* observer) const {
  const int64_t T = int64_t(tokens.size());
  if (first_row < 0 || first_row > T) throw std::logic_error("forward: first_row outside the sequence");
  std::vector<float> x = embed(tokens);
  const RopeTable tab = rope(cache ? cache->positions : 0, T);
  for (int i = 0; i < arch_.num_layers; ++i) {
    layer(i)->forward(x.data(), tab, cache ? &cache->layers[size_t(i)] : nullptr, observer);
    if (layers_.empty())  // Residency::OneLayer: the layer is gone; so should its pages be
      for (const auto& m : arch_.modules)
        if (m.layer == i) weights_.release(m);
  }
  return head(x.data() + first_row * arch_.hidden, T - first_row);
}

}  // namespace lowbit::engine
