// A Linear layer as the forward pass sees it: y = x W^T (+ b) for a batch of tokens.
// Weights stay as stored (BF16/F16/F32, or quantized codes): the kernel converts a tile
// of rows to float32 on the fly and multiplies it with BLAS, so no dense copy of the
// model is ever made.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/dtype.h"
#include "engine/gemm_bf16.h"

namespace lowbit::engine {

class Linear {
 public:
  Linear(int64_t in, int64_t out) : in_(in), out_(out) {}
  virtual ~Linear() = default;
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  // Rows [r0, r1) of W as float32, row-major (K floats per row), into `dst`.
  virtual void rows_f32(int64_t r0, int64_t r1, float* dst) const = 0;
  // y[T, out] = x[T, in] W^T + bias. Rows of W are decoded by rows_f32, so every storage
  // format gets both paths: tiles + sgemm for many tokens, dot products for a few.
  void forward(const float* x, int64_t tokens, float* y) const;
  void set_bias(const void* data, DType dtype) { bias_ = data, bias_dtype_ = dtype; }
  // Many-token products with x and W rounded to BF16 and float32 sums (gemm_bf16), as a BF16
  // model's matmuls run: calibration's passes over a BF16 model. Off: float32 sgemm. W is packed
  // once, at the first such product, and kept (BF16: half the size of W in float32).
  void set_bf16_products(bool on) { bf16_products_ = on; }
  void copy_bias_from(const Linear& other) { bias_ = other.bias_, bias_dtype_ = other.bias_dtype_; }

 private:
  void forward_few(const float* x, int64_t tokens, float* y) const;
  void add_bias(int64_t tokens, float* y) const;
  int64_t in_, out_;
  const std::vector<PackedBf16>& packed_tiles() const;
  bool bf16_products_ = false;
  mutable std::mutex pack_mutex_;
  mutable std::vector<PackedBf16> packed_;  // W by tiles of rows, for the BF16 products
  const void* bias_ = nullptr;
  DType bias_dtype_ = DType::F32;
};

// Weights as stored in a safetensors file (BF16, F16 or F32), e.g. straight from the mmap.
class DenseLinear : public Linear {
 public:
  DenseLinear(const void* data, DType dtype, int64_t in, int64_t out) : Linear(in, out), data_(data), dtype_(dtype) {}
  void rows_f32(int64_t r0, int64_t r1, float* dst) const override;

 private:
  const void* data_;
  DType dtype_;
};

}  // namespace lowbit::engine
