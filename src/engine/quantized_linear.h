// A Linear whose weight is a QuantizedWeight (any scheme lowbit reads or writes), decoded to
// float32 tile by tile inside the matmul with the exact decoder, never as a dense copy.
#pragma once
#include <utility>

#include "engine/linear.h"
#include "numerics/quantized_weight.h"

namespace lowbit::engine {

class QuantizedLinear : public Linear {
 public:
  explicit QuantizedLinear(QuantizedWeight q) : Linear(q.cols, q.rows), q_(std::move(q)) {}
  void rows_f32(int64_t r0, int64_t r1, float* dst) const override { dequantize_rows_f32(q_, r0, r1, dst); }
  const QuantizedWeight& weight() const { return q_; }

 private:
  QuantizedWeight q_;  // one byte per code for now; packed codes come with the faster kernels
};

}  // namespace lowbit::engine
