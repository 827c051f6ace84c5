#include "engine/decoder_layer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/kernels.h"

namespace lowbit::engine {

void DecoderLayer::Proj::run(const float* x, int64_t tokens, float* y, LinearObserver* obs) const {
  if (obs) obs->on_input(*module, x, tokens);
  linear->forward(x, tokens, y);
  if (obs) obs->on_output(*module, y, tokens);
}

DecoderLayer::DecoderLayer(const model::Architecture& arch, int index, const WeightSource& w)
    : arch_(arch), index_(index), rope_(arch) {
  const std::string L = "model.layers." + std::to_string(index);
  auto proj = [&](const char* name) {
    const model::Module& m = arch.module(L + name);
    return Proj{&m, w.linear(m)};
  };
  q_ = proj(".self_attn.q_proj");
  k_ = proj(".self_attn.k_proj");
  v_ = proj(".self_attn.v_proj");
  o_ = proj(".self_attn.o_proj");
  gate_ = proj(".mlp.gate_proj");
  up_ = proj(".mlp.up_proj");
  down_ = proj(".mlp.down_proj");
  input_norm_ = w.dense_weight(arch.module(L + ".input_layernorm"));
  post_norm_ = w.dense_weight(arch.module(L + ".post_attention_layernorm"));
  if (arch.qk_norm) {
    q_norm_ = w.dense_weight(arch.module(L + ".self_attn.q_norm"));
    k_norm_ = w.dense_weight(arch.module(L + ".self_attn.k_norm"));
  }
}

void DecoderLayer::use_bf16_products() {
  for (Proj* p : {&q_, &k_, &v_, &o_, &gate_, &up_, &down_}) p->linear->set_bf16_products(true);
}

void DecoderLayer::project_qkv(const float* x, const RopeTable& tab, LinearObserver* obs, std::vector<float>& q,
                               std::vector<float>& k, std::vector<float>& v) const {
  const int64_t T = tab.tokens, H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim;
  q.resize(size_t(T * H * d)), k.resize(size_t(T * KV * d)), v.resize(size_t(T * KV * d));
  q_.run(x, T, q.data(), obs);
  k_.run(x, T, k.data(), obs);
  v_.run(x, T, v.data(), obs);
  if (arch_.qk_norm) {
    rms_norm(q.data(), q_norm_.data, q_norm_.dtype, T * H, d, arch_.rms_norm_eps, q.data());
    rms_norm(k.data(), k_norm_.data, k_norm_.dtype, T * KV, d, arch_.rms_norm_eps, k.data());
  }
  rope_.apply(q.data(), H, tab);
  rope_.apply(k.data(), KV, tab);
}

void DecoderLayer::attention(const float* x, const RopeTable& tab, LayerKV* kv, LinearObserver* obs, float* out) const {
  const int64_t T = tab.tokens, H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim;
  std::vector<float> q, k, v;
  project_qkv(x, tab, obs, q, k, v);
  // Keys and values of positions [0, p0 + T): this call's, after those already in `kv`.
  const int64_t p0 = kv ? tab.p0 : 0;
  const float* keys = k.data();
  const float* values = v.data();
  if (kv) {
    if (int64_t(kv->k.size()) != p0 * KV * d) throw std::logic_error("attention: KV cache holds other positions");
    kv->k.insert(kv->k.end(), k.begin(), k.end());
    kv->v.insert(kv->v.end(), v.begin(), v.end());
    keys = kv->k.data(), values = kv->v.data();
  }
  std::vector<float> ctx(size_t(T * H * d));
  causal_attention(q.data(), T, p0, keys, values, ctx.data());
  o_.run(ctx.data(), T, out, obs);
}

void DecoderLayer::causal_attention(const float* q, int64_t T, int64_t p0, const float* keys, const float* values,
                                    float* ctx) const {
  const int64_t H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim, group = H / KV;
  const int64_t S = p0 + T;
  // Per head and block of query rows [t0, t1): S = Q K[0:t1]^T / sqrt(d) (BLAS, rows strided
  // in place), causal softmax, O = P V[0:t1]. Blocks skip the keys above the diagonal, so
  // the work is about half of a full T x T product. The (head, block) tasks run in parallel,
  // largest first, each with single-threaded BLAS (OpenBLAS runs serially inside a parallel region).
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (T + kBlock - 1) / kBlock;
  const float scale = 1.0f / std::sqrt(float(d));
#pragma omp parallel
  {
    std::vector<float> scores(size_t(std::min(T, kBlock) * S));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < H * blocks; ++task) {
      const int64_t b = blocks - 1 - task / H, h = task % H, kh = h / group;
      const int64_t t0 = b * kBlock, t1 = std::min(T, t0 + kBlock), m = t1 - t0, keys_seen = p0 + t1;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(keys_seen), int(d), scale,
                  q + t0 * H * d + h * d, int(H * d), keys + kh * d, int(KV * d), 0.0f, scores.data(),
                  int(keys_seen));
      for (int64_t i = 0; i < m; ++i) softmax_masked(scores.data() + i * keys_seen, p0 + t0 + i + 1, keys_seen);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), int(d), int(keys_seen), 1.0f, scores.data(),
                  int(keys_seen), values + kh * d, int(KV * d), 0.0f, ctx + t0 * H * d + h * d, int(H * d));
    }
  }
}

void DecoderLayer::forward_branches(float* x, const RopeTable& tab, const std::vector<int64_t>& lengths,
                                    const LayerKV& kv) const {
  const int64_t T = tab.tokens, D = arch_.hidden, H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim;
  const int64_t p0 = int64_t(kv.k.size()) / (KV * d);
  std::vector<float> h(size_t(T * D)), tmp(size_t(T * D)), q, k, v;
  input_norm(x, T, h.data());
  project_qkv(h.data(), tab, nullptr, q, k, v);
  std::vector<float> ctx(size_t(T * H * d)), keys, values;
  int64_t row = 0;
  for (int64_t n : lengths) {
    // This branch's keys and values after the cached ones: the layout causal_attention reads.
    keys.assign(kv.k.begin(), kv.k.end());
    keys.insert(keys.end(), k.begin() + row * KV * d, k.begin() + (row + n) * KV * d);
    values.assign(kv.v.begin(), kv.v.end());
    values.insert(values.end(), v.begin() + row * KV * d, v.begin() + (row + n) * KV * d);
    causal_attention(q.data() + row * H * d, n, p0, keys.data(), values.data(), ctx.data() + row * H * d);
    row += n;
  }
  if (row != T) throw std::logic_error("forward_branches: branch lengths do not add up to the rows");
  o_.run(ctx.data(), T, tmp.data(), nullptr);
  add_into(x, tmp.data(), T * D);
  post_attention_norm(x, T, h.data());
  mlp_block(h.data(), T, tmp.data(), nullptr);
  add_into(x, tmp.data(), T * D);
}

void DecoderLayer::forward_step(float* x, const RopeTable& tab, const std::vector<LayerKV*>& kvs) const {
  const int64_t B = tab.tokens, D = arch_.hidden, H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim,
                group = H / KV, S = tab.p0 + 1;
  if (int64_t(kvs.size()) != B) throw std::logic_error("forward_step: one cache per sequence");
  std::vector<float> h(size_t(B * D)), tmp(size_t(B * D)), q, k, v;
  input_norm(x, B, h.data());
  project_qkv(h.data(), tab, nullptr, q, k, v);
  for (int64_t b = 0; b < B; ++b) {
    LayerKV& kv = *kvs[size_t(b)];
    if (int64_t(kv.k.size()) != tab.p0 * KV * d) throw std::logic_error("forward_step: KV cache holds other positions");
    kv.k.insert(kv.k.end(), k.begin() + b * KV * d, k.begin() + (b + 1) * KV * d);
    kv.v.insert(kv.v.end(), v.begin() + b * KV * d, v.begin() + (b + 1) * KV * d);
  }
  // One query per sequence and head against its own S keys: dot products, softmax, weighted sum.
  std::vector<float> ctx(size_t(B * H * d));
  const float scale = 1.0f / std::sqrt(float(d));
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(S));
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < B * H; ++task) {
      const int64_t b = task / H, hh = task % H, kh = hh / group;
      const LayerKV& kv = *kvs[size_t(b)];
      cblas_sgemv(CblasRowMajor, CblasNoTrans, int(S), int(d), scale, kv.k.data() + kh * d, int(KV * d),
                  q.data() + (b * H + hh) * d, 1, 0.0f, scores.data(), 1);
      softmax_masked(scores.data(), S, S);
      cblas_sgemv(CblasRowMajor, CblasTrans, int(S), int(d), 1.0f, kv.v.data() + kh * d, int(KV * d), scores.data(),
                  1, 0.0f, ctx.data() + (b * H + hh) * d, 1);
    }
  }
  o_.run(ctx.data(), B, tmp.data(), nullptr);
  add_into(x, tmp.data(), B * D);
  post_attention_norm(x, B, h.data());
  mlp_block(h.data(), B, tmp.data(), nullptr);
  add_into(x, tmp.data(), B * D);
}

void DecoderLayer::input_norm(const float* x, int64_t T, float* out) const {
  rms_norm(x, input_norm_.data, input_norm_.dtype, T, arch_.hidden, arch_.rms_norm_eps, out);
}

void DecoderLayer::post_attention_norm(const float* x, int64_t T, float* out) const {
  rms_norm(x, post_norm_.data, post_norm_.dtype, T, arch_.hidden, arch_.rms_norm_eps, out);
}

void DecoderLayer::mlp_block(const float* h, int64_t T, float* out, LinearObserver* obs) const {
  if (!out) throw std::logic_error("mlp_block: no output");
  mlp(h, T, out, obs);
}

void DecoderLayer::mlp(const float* h, int64_t T, float* out, LinearObserver* obs) const {
  const int64_t F = arch_.intermediate;
  std::vector<float> g(size_t(T * F)), u(size_t(T * F));
  gate_.run(h, T, g.data(), obs);
  up_.run(h, T, u.data(), obs);
  silu_mul(g.data(), u.data(), T * F);
  if (out)
    down_.run(g.data(), T, out, obs);
  else if (obs)
    obs->on_input(*down_.module, g.data(), T);
}

void DecoderLayer::forward(float* x, const RopeTable& tab, LayerKV* kv, LinearObserver* obs) const {
  const int64_t T = tab.tokens, D = arch_.hidden;
  std::vector<float> h(size_t(T * D)), tmp(size_t(T * D));
  input_norm(x, T, h.data());
  attention(h.data(), tab, kv, obs, tmp.data());
  add_into(x, tmp.data(), T * D);
  post_attention_norm(x, T, h.data());
  mlp_block(h.data(), T, tmp.data(), obs);
  add_into(x, tmp.data(), T * D);
}

void DecoderLayer::observe(float* x, const RopeTable& tab, LinearObserver& obs) const {
  const int64_t T = tab.tokens, D = arch_.hidden;
  std::vector<float> h(size_t(T * D)), tmp(size_t(T * D));
  input_norm(x, T, h.data());
  attention(h.data(), tab, nullptr, &obs, tmp.data());
  add_into(x, tmp.data(), T * D);
  post_attention_norm(x, T, h.data());
  mlp(h.data(), T, nullptr, &obs);
}

}  // namespace lowbit::engine
