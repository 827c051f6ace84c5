// One decoder layer of a Llama-family model (Llama, Mistral, Qwen2, Qwen3): RMSNorm,
// grouped-query causal attention with RoPE (and Qwen3's q/k norms), RMSNorm, SwiGLU MLP,
// each with a residual add. Built from a WeightSource on its own, so a caller can hold one
// layer at a time (calibration: memory = one layer); float32 activations.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/linear.h"
#include "engine/observer.h"
#include "engine/rope.h"
#include "engine/weight_source.h"
#include "model/architecture.h"

namespace lowbit::engine {

// Keys (after RoPE) and values of every position run so far through one layer.
struct LayerKV {
  std::vector<float> k, v;  // [positions, kv_heads * head_dim]
};

class DecoderLayer {
 public:
  // `arch` must outlive the layer (it holds its modules); the weights are read now.
  DecoderLayer(const model::Architecture& arch, int index, const WeightSource& weights);
  // hidden [T, hidden_size] at positions [rope.p0, rope.p0 + T), in place:
  // h += attention(norm(h)); h += mlp(norm(h)). With `kv`, attention also sees the rope.p0
  // positions it holds, and this call's keys and values are appended. `observer` (optional)
  // sees each Linear's input and output.
  void forward(float* hidden, const RopeTable& rope, LayerKV* kv = nullptr, LinearObserver* observer = nullptr) const;
  // Calibration's pass: `observer` sees every Linear's input, and `hidden` is only scratch. The
  // layer's output is not made: down_proj's input is observed but not multiplied (on Llama-like
  // shapes a quarter of the layer's multiply-adds), and down_proj's on_output is not called.
  void observe(float* hidden, const RopeTable& rope, LinearObserver& observer) const;
  // One decoding step of B = rope.tokens sequences at once, one token each, all at position
  // rope.p0 (the rows of `rope` hold that position's angles), each with its own cache in kvs[b]:
  // hidden [B, hidden_size] in place. The projections run as [B, in] GEMMs (the weights are
  // decoded once per step for all B), attention per sequence over its own keys.
  void forward_step(float* hidden, const RopeTable& rope, const std::vector<LayerKV*>& kvs) const;
  // Several continuations of the positions held in `kv` in one pass: hidden [sum(lengths),
  // hidden_size] in place, branch b's rows after branch b-1's, `rope` holding each row's own
  // position. Each branch attends to the cached positions and to its own earlier rows, never to
  // another branch; `kv` is left as it was. (Multiple-choice scoring: the choices of a task
  // continue its shared context, and their projections run as one GEMM.)
  void forward_branches(float* hidden, const RopeTable& rope, const std::vector<int64_t>& lengths,
                        const LayerKV& kv) const;
  int index() const { return index_; }
  // Every Linear's many-token products in BF16 (Linear::set_bf16_products).
  void use_bf16_products();

  // The parts forward() is made of, for methods that run them on their own (AWQ's search):
  // the two RMSNorms ([T, hidden] -> [T, hidden]), the attention block on normalised input
  // (q/k/v projections, RoPE, causal attention, o_proj: [T, hidden] -> [T, hidden]), and the
  // MLP block on normalised input (gate/up, SiLU, down: [T, hidden] -> [T, hidden]).
  void input_norm(const float* hidden, int64_t tokens, float* out) const;
  void post_attention_norm(const float* hidden, int64_t tokens, float* out) const;
  void attention_block(const float* normed, const RopeTable& rope, float* out, LinearObserver* observer = nullptr) const {
    attention(normed, rope, nullptr, observer, out);
  }
  void mlp_block(const float* normed, int64_t tokens, float* out, LinearObserver* observer = nullptr) const;

 private:
  struct Proj {
    const model::Module* module;
    std::unique_ptr<Linear> linear;
    void run(const float* x, int64_t tokens, float* y, LinearObserver* obs) const;
  };
  void project_qkv(const float* x, const RopeTable& rope, LinearObserver* obs, std::vector<float>& q,
                   std::vector<float>& k, std::vector<float>& v) const;
  void attention(const float* x, const RopeTable& rope, LayerKV* kv, LinearObserver* obs, float* out) const;
  // ctx [T, heads * head_dim] = causal softmax(q K^T / sqrt(d)) V for T query rows at positions
  // [p0, p0 + T) over keys/values [p0 + T, kv_heads * head_dim].
  void causal_attention(const float* q, int64_t T, int64_t p0, const float* keys, const float* values,
                        float* ctx) const;
  // gate/up, SiLU and, when `out` is not null, down; with a null `out` down_proj's input is observed only.
  void mlp(const float* normed, int64_t tokens, float* out, LinearObserver* obs) const;

  const model::Architecture& arch_;
  int index_;
  Rope rope_;
  Proj q_, k_, v_, o_, gate_, up_, down_;
  TensorView input_norm_, post_norm_, q_norm_, k_norm_;
};

}  // namespace lowbit::engine
