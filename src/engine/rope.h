// Rotary position embeddings as transformers computes them (default, linear and llama3
// frequency scaling; rotate_half layout), in float32.
#pragma once
#include <cstdint>
#include <vector>

#include "model/architecture.h"

namespace lowbit::engine {

// cos/sin of position * inv_freq for positions [p0, p0 + T), [T, head_dim / 2] each.
struct RopeTable {
  int64_t p0 = 0, tokens = 0;
  std::vector<float> cos, sin;
};

class Rope {
 public:
  explicit Rope(const model::Architecture& arch);
  RopeTable table(int64_t p0, int64_t tokens) const;
  // Rotates `heads` heads of head_dim per token in place: v is [T, heads, head_dim].
  void apply(float* v, int64_t heads, const RopeTable& t) const;

 private:
  int64_t head_dim_;
  std::vector<float> inv_freq_;
};

}  // namespace lowbit::engine
