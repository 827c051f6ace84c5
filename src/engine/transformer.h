// The forward pass of Llama-family decoders (Llama, Mistral, Qwen2, Qwen3): embeddings,
// RMSNorm, RoPE (default, linear, llama3), grouped-query causal attention, SwiGLU MLP,
// tied or untied head. Activations and accumulation in float32; weights as stored.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/architecture.h"
#include "engine/linear.h"

namespace lowbit::engine {

using model::Architecture;
using model::Module;

struct TensorView {
  const void* data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

// Where the forward pass gets its weights: dense tensors (norms, embeddings, biases) and
// Linear layers (dense or quantized; the source decides).
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual TensorView tensor(const std::string& name) const = 0;  // throws UserError if missing
  virtual bool has_tensor(const std::string& name) const = 0;
  virtual std::unique_ptr<Linear> linear(const Module& m) const = 0;
};

// Keys (after RoPE) and values of every position run so far, per layer, so that generation
// runs only the new token through the model.
struct KVCache {
  int64_t positions = 0;
  std::vector<std::vector<float>> k, v;  // per layer: [positions, kv_heads * head_dim]
};

class Transformer {
 public:
  Transformer(const Architecture& arch, const WeightSource& weights);
  // Logits [tokens.size() - first_row, vocab] of positions [first_row, T) for one causal
  // sequence (eval scores only the second half of a chunk, so the head skips the rest).
  std::vector<float> forward(const std::vector<int32_t>& tokens, int64_t first_row = 0) const;
  // The same for tokens that continue the sequence held in `cache` (positions
  // cache.positions ...); appends their keys and values to it.
  std::vector<float> forward(const std::vector<int32_t>& tokens, int64_t first_row, KVCache& cache) const;
  const Architecture& arch() const { return arch_; }

 private:
  struct Layer {
    std::unique_ptr<Linear> q, k, v, o, gate, up, down;
    TensorView input_norm, post_norm, q_norm, k_norm;
  };
  struct RopeTable {
    std::vector<float> cos, sin;  // [T, head_dim / 2]
  };
  RopeTable rope_table(int64_t p0, int64_t T) const;
  void attention(const Layer& l, const float* x, int64_t T, const RopeTable& tab, int64_t layer, KVCache* cache,
                 float* out) const;
  std::vector<float> run(const std::vector<int32_t>& tokens, int64_t first_row, KVCache* cache) const;
  void rope(float* v, int64_t T, int64_t heads, const RopeTable& tab) const;

  Architecture arch_;
  TensorView embed_, final_norm_;
  std::vector<Layer> layers_;
  std::unique_ptr<Linear> head_;
  std::vector<float> inv_freq_;
};

}  // namespace lowbit::engine
