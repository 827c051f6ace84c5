#include "engine/transformer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "engine/kernels.h"
#include "numerics/convert.h"
#include "numerics/half.h"

namespace lowbit::engine {

namespace {

// HF RMSNorm: x / sqrt(mean(x^2) + eps) * weight, per row of n.
void rms_norm(const float* x, const TensorView& w, int64_t rows, int64_t n, double eps, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    const float inv = float(1.0 / std::sqrt(ss / double(n) + eps));
    for (int64_t i = 0; i < n; ++i) out[r * n + i] = xr[i] * inv * load_as_f32(w.data, size_t(i), w.dtype);
  }
}

const Module& module_at(const Architecture& a, const std::string& path) {
  const Module* m = a.find_module(path);
  if (!m) throw std::logic_error("no module " + path);
  return *m;
}

}  // namespace

Transformer::Transformer(const Architecture& arch, const WeightSource& w) : arch_(arch) {
  embed_ = w.tensor("model.embed_tokens.weight");
  final_norm_ = w.tensor("model.norm.weight");
  for (int i = 0; i < arch_.num_layers; ++i) {
    const std::string L = "model.layers." + std::to_string(i);
    Layer l;
    l.q = w.linear(module_at(arch_, L + ".self_attn.q_proj"));
    l.k = w.linear(module_at(arch_, L + ".self_attn.k_proj"));
    l.v = w.linear(module_at(arch_, L + ".self_attn.v_proj"));
    l.o = w.linear(module_at(arch_, L + ".self_attn.o_proj"));
    l.gate = w.linear(module_at(arch_, L + ".mlp.gate_proj"));
    l.up = w.linear(module_at(arch_, L + ".mlp.up_proj"));
    l.down = w.linear(module_at(arch_, L + ".mlp.down_proj"));
    l.input_norm = w.tensor(L + ".input_layernorm.weight");
    l.post_norm = w.tensor(L + ".post_attention_layernorm.weight");
    if (arch_.qk_norm) {
      l.q_norm = w.tensor(L + ".self_attn.q_norm.weight");
      l.k_norm = w.tensor(L + ".self_attn.k_norm.weight");
    }
    layers_.push_back(std::move(l));
  }
  if (arch_.tied_embeddings && !w.has_tensor("lm_head.weight") && !w.has_tensor("lm_head.weight_packed") &&
      !w.has_tensor("lm_head.weight_scale"))
    head_ = std::make_unique<DenseLinear>(embed_.data, embed_.dtype, arch_.hidden, arch_.vocab);
  else
    head_ = w.linear(module_at(arch_, "lm_head"));

  // RoPE inverse frequencies (HF _compute_default/linear/llama3 parameters), in float32 as HF.
  const int64_t d = arch_.head_dim;
  for (int64_t i = 0; i < d / 2; ++i) {
    double f = 1.0 / std::pow(arch_.rope_theta, double(2 * i) / double(d));
    float inv = float(f);
    if (arch_.rope_type == "linear") {
      inv = float(inv / arch_.rope_factor);
    } else if (arch_.rope_type == "llama3") {
      const double low_wavelen = double(arch_.rope_original_max_positions) / arch_.rope_low_freq_factor;
      const double high_wavelen = double(arch_.rope_original_max_positions) / arch_.rope_high_freq_factor;
      const double wavelen = 2 * M_PI / double(inv);
      if (wavelen > low_wavelen) {
        inv = float(inv / arch_.rope_factor);
      } else if (wavelen >= high_wavelen) {
        double smooth = (double(arch_.rope_original_max_positions) / wavelen - arch_.rope_low_freq_factor) /
                        (arch_.rope_high_freq_factor - arch_.rope_low_freq_factor);
        inv = float((1 - smooth) * inv / arch_.rope_factor + smooth * inv);
      }
    }
    inv_freq_.push_back(inv);
  }
}

// cos/sin of position * inv_freq for positions [p0, p0 + T), computed in float32 as HF does.
Transformer::RopeTable Transformer::rope_table(int64_t p0, int64_t T) const {
  const int64_t half = arch_.head_dim / 2;
  RopeTable tab{std::vector<float>(size_t(T * half)), std::vector<float>(size_t(T * half))};
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const float angle = float(p0 + t) * inv_freq_[size_t(i)];
      tab.cos[size_t(t * half + i)] = std::cos(angle);
      tab.sin[size_t(t * half + i)] = std::sin(angle);
    }
  return tab;
}

void Transformer::rope(float* v, int64_t T, int64_t heads, const RopeTable& tab) const {
  const int64_t d = arch_.head_dim, half = d / 2;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const float* c = tab.cos.data() + t * half;
    const float* s = tab.sin.data() + t * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* p = v + (t * heads + h) * d;
      for (int64_t i = 0; i < half; ++i) {
        const float a = p[i], b = p[i + half];
        p[i] = a * c[i] - b * s[i];  // rotate_half: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)
        p[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

void Transformer::attention(const Layer& l, const float* x, int64_t T, const RopeTable& tab, int64_t layer,
                            KVCache* cache, float* out) const {
  const int64_t H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim, group = H / KV;
  std::vector<float> q(size_t(T * H * d)), k(size_t(T * KV * d)), v(size_t(T * KV * d));
  l.q->forward(x, T, q.data());
  l.k->forward(x, T, k.data());
  l.v->forward(x, T, v.data());
  if (arch_.qk_norm) {
    rms_norm(q.data(), l.q_norm, T * H, d, arch_.rms_norm_eps, q.data());
    rms_norm(k.data(), l.k_norm, T * KV, d, arch_.rms_norm_eps, k.data());
  }
  rope(q.data(), T, H, tab);
  rope(k.data(), T, KV, tab);
  // Keys and values of positions [0, p0 + T): this call's, after those in the cache.
  int64_t p0 = 0;
  const float* keys = k.data();
  const float* values = v.data();
  if (cache) {
    p0 = cache->positions;
    auto& ck = cache->k[size_t(layer)];
    auto& cv = cache->v[size_t(layer)];
    ck.insert(ck.end(), k.begin(), k.end());
    cv.insert(cv.end(), v.begin(), v.end());
    keys = ck.data(), values = cv.data();
  }
  const int64_t S = p0 + T;
  // Per head and block of query rows [t0, t1): S = Q K[0:t1]^T / sqrt(d) (BLAS, rows strided
  // in place), causal softmax, O = P V[0:t1]. Blocks skip the keys above the diagonal, so
  // the work is about half of a full T x T product. The (head, block) tasks run in parallel,
  // largest first, each with single-threaded BLAS (OpenBLAS runs serially inside a parallel region).
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (T + kBlock - 1) / kBlock;
  std::vector<float> ctx(size_t(T * H * d));
  const float scale = 1.0f / std::sqrt(float(d));
#pragma omp parallel
  {
    std::vector<float> scores(size_t(std::min(T, kBlock) * S));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < H * blocks; ++task) {
      const int64_t b = blocks - 1 - task / H, h = task % H, kh = h / group;
      const int64_t t0 = b * kBlock, t1 = std::min(T, t0 + kBlock), m = t1 - t0, keys_seen = p0 + t1;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(keys_seen), int(d), scale,
                  q.data() + t0 * H * d + h * d, int(H * d), keys + kh * d, int(KV * d), 0.0f, scores.data(),
                  int(keys_seen));
      for (int64_t i = 0; i < m; ++i) softmax_masked(scores.data() + i * keys_seen, p0 + t0 + i + 1, keys_seen);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(d), int(keys_seen), 1.0f, scores.data(),
                  int(keys_seen), values + kh * d, int(KV * d), 0.0f, ctx.data() + t0 * H * d + h * d, int(H * d));
    }
  }
  l.o->forward(ctx.data(), T, out);
}

namespace {
void add_into(std::vector<float>& x, const std::vector<float>& y) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}
}  // namespace

std::vector<float> Transformer::forward(const std::vector<int32_t>& tokens, int64_t first_row) const {
  return run(tokens, first_row, nullptr);
}

std::vector<float> Transformer::forward(const std::vector<int32_t>& tokens, int64_t first_row, KVCache& cache) const {
  if (cache.k.empty()) cache.k.resize(layers_.size()), cache.v.resize(layers_.size());
  if (cache.k.size() != layers_.size()) throw std::logic_error("KVCache of another model");
  auto logits = run(tokens, first_row, &cache);
  cache.positions += int64_t(tokens.size());
  return logits;
}

std::vector<float> Transformer::run(const std::vector<int32_t>& tokens, int64_t first_row, KVCache* cache) const {
  const int64_t T = int64_t(tokens.size()), D = arch_.hidden, F = arch_.intermediate;
  if (first_row < 0 || first_row > T) throw std::logic_error("forward: first_row outside the sequence");
  std::vector<float> x(size_t(T * D)), h(size_t(T * D)), tmp(size_t(T * D));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[size_t(t)];
    if (id < 0 || id >= arch_.vocab) throw UserError("token id " + std::to_string(id) + " is outside the vocabulary");
    to_f32(embed_.data, embed_.dtype, size_t(id * D), size_t(D), x.data() + t * D);
  }
  const RopeTable tab = rope_table(cache ? cache->positions : 0, T);
  std::vector<float> g(size_t(T * F)), u(size_t(T * F));
  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    rms_norm(x.data(), l.input_norm, T, D, arch_.rms_norm_eps, h.data());
    attention(l, h.data(), T, tab, int64_t(li), cache, tmp.data());
    add_into(x, tmp);
    rms_norm(x.data(), l.post_norm, T, D, arch_.rms_norm_eps, h.data());
    l.gate->forward(h.data(), T, g.data());
    l.up->forward(h.data(), T, u.data());
    silu_mul(g.data(), u.data(), T * F);
    l.down->forward(g.data(), T, tmp.data());
    add_into(x, tmp);
  }
  const int64_t n = T - first_row;
  rms_norm(x.data() + first_row * D, final_norm_, n, D, arch_.rms_norm_eps, h.data());
  std::vector<float> logits(size_t(n * arch_.vocab));
  head_->forward(h.data(), n, logits.data());
  return logits;
}

}  // namespace lowbit::engine
