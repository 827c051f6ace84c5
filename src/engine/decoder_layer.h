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
  int index() const { return index_; }

 private:
  struct Proj {
    const model::Module* module;
    std::unique_ptr<Linear> linear;
    void run(const float* x, int64_t tokens, float* y, LinearObserver* obs) const;
  };
  void attention(const float* x, const RopeTable& rope, LayerKV* kv, LinearObserver* obs, float* out) const;

  const model::Architecture& arch_;
  int index_;
  Rope rope_;
  Proj q_, k_, v_, o_, gate_, up_, down_;
  TensorView input_norm_, post_norm_, q_norm_, k_norm_;
};

}  // namespace lowbit::engine
