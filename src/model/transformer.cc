#include "model/transformer.h"

#include <cblas.h>

#include <cmath>

#include "core/error.h"
#include "numerics/half.h"

namespace lowbit::model {

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

void Transformer::rope(float* v, int64_t T, int64_t heads) const {
  const int64_t d = arch_.head_dim, half = d / 2;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const float angle = float(t) * inv_freq_[size_t(i)];
      const float c = std::cos(angle), s = std::sin(angle);
      for (int64_t h = 0; h < heads; ++h) {
        float* p = v + (t * heads + h) * d;
        const float a = p[i], b = p[i + half];
        p[i] = a * c - b * s;  // rotate_half: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)
        p[i + half] = b * c + a * s;
      }
    }
  }
}

void Transformer::attention(const Layer& l, const float* x, int64_t T, float* out) const {
  const int64_t H = arch_.heads, KV = arch_.kv_heads, d = arch_.head_dim, group = H / KV;
  std::vector<float> q(size_t(T * H * d)), k(size_t(T * KV * d)), v(size_t(T * KV * d));
  l.q->forward(x, T, q.data());
  l.k->forward(x, T, k.data());
  l.v->forward(x, T, v.data());
  if (arch_.qk_norm) {
    rms_norm(q.data(), l.q_norm, T * H, d, arch_.rms_norm_eps, q.data());
    rms_norm(k.data(), l.k_norm, T * KV, d, arch_.rms_norm_eps, k.data());
  }
  rope(q.data(), T, H);
  rope(k.data(), T, KV);
  // Per head: S = Q_h K_h^T / sqrt(d) (BLAS, rows strided in place), causal softmax, O_h = P V_h.
  std::vector<float> ctx(size_t(T * H * d));
  std::vector<float> scores(size_t(T * T));
  const float scale = 1.0f / std::sqrt(float(d));
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kh = h / group;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(T), int(T), int(d), scale, q.data() + h * d, int(H * d),
                k.data() + kh * d, int(KV * d), 0.0f, scores.data(), int(T));
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      float* row = scores.data() + t * T;
      float mx = -INFINITY;
      for (int64_t s = 0; s <= t; ++s) mx = std::max(mx, row[s]);
      float sum = 0;
      for (int64_t s = 0; s <= t; ++s) sum += (row[s] = std::exp(row[s] - mx));
      const float inv = 1.0f / sum;
      for (int64_t s = 0; s <= t; ++s) row[s] *= inv;
      for (int64_t s = t + 1; s < T; ++s) row[s] = 0.0f;  // causal mask
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(T), int(d), int(T), 1.0f, scores.data(), int(T),
                v.data() + kh * d, int(KV * d), 0.0f, ctx.data() + h * d, int(H * d));
  }
  l.o->forward(ctx.data(), T, out);
}

std::vector<float> Transformer::forward(const std::vector<int32_t>& tokens) const {
  const int64_t T = int64_t(tokens.size()), D = arch_.hidden, F = arch_.intermediate;
  std::vector<float> x(size_t(T * D)), h(size_t(T * D)), tmp(size_t(T * D));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = tokens[size_t(t)];
    if (id < 0 || id >= arch_.vocab) throw UserError("token id " + std::to_string(id) + " is outside the vocabulary");
    for (int64_t i = 0; i < D; ++i) x[size_t(t * D + i)] = load_as_f32(embed_.data, size_t(id * D + i), embed_.dtype);
  }
  std::vector<float> g(size_t(T * F)), u(size_t(T * F));
  for (const auto& l : layers_) {
    rms_norm(x.data(), l.input_norm, T, D, arch_.rms_norm_eps, h.data());
    attention(l, h.data(), T, tmp.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
    rms_norm(x.data(), l.post_norm, T, D, arch_.rms_norm_eps, h.data());
    l.gate->forward(h.data(), T, g.data());
    l.up->forward(h.data(), T, u.data());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < T * F; ++i) g[size_t(i)] = g[size_t(i)] / (1.0f + std::exp(-g[size_t(i)])) * u[size_t(i)];
    l.down->forward(g.data(), T, tmp.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += tmp[i];
  }
  rms_norm(x.data(), final_norm_, T, D, arch_.rms_norm_eps, h.data());
  std::vector<float> logits(size_t(T * arch_.vocab));
  head_->forward(h.data(), T, logits.data());
  return logits;
}

}  // namespace lowbit::model
