// The quantized weight every algorithm produces (RTN now; GPTQ, AWQ and GGUF block types
// next) and export and the engine read: a layout (element format, which weights share a
// scale, how scales are stored) plus codes, scales, zero points and a global scale, with the
// exact decoder that gives back what compressed-tensors decompresses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "numerics/formats.h"
#include "numerics/half.h"

namespace lowbit {

// Shape fields only; quant::resolve_layout makes one from a scheme and a weight's shape.
struct QuantLayout {
  int64_t rows = 0, cols = 0;  // weight shape [N, K]
  Format element = Format::INT4;
  int64_t block_rows = 1, block_cols = 1;  // weights per scale slot along each dimension
  // [scale_rows, scale_cols] = [ceil(N / block_rows), ceil(K / block_cols)]: [1,1] tensor,
  // [N,1] channel, [N,K/g] group, [ceil(N/bh), ceil(K/bw)] block.
  int64_t scale_rows = 0, scale_cols = 0;
  DType scale_dtype = DType::BF16;  // the model dtype; U8 holds E8M0 (MX); F8_E4M3 (NVFP4)
  bool has_zero_points = false;     // int, asymmetric
  bool has_global_scale = false;    // NVFP4: one FP32 divisor of every block scale
  DType dense_dtype = DType::BF16;  // what the exact decoder produces
  int64_t slots() const { return scale_rows * scale_cols; }
  int64_t slot_of(int64_t r, int64_t c) const { return (r / block_rows) * scale_cols + c / block_cols; }
  bool is_int() const { return element >= Format::INT2 && element <= Format::INT8; }
};

struct QuantizedWeight : QuantLayout {
  // One byte per weight: two's-complement codes for int, E4M3 codes for fp8, E2M1 codes
  // (sign in bit 3) for fp4.
  std::vector<int8_t> codes;
  std::vector<uint8_t> scales;      // raw scale_dtype elements, one per slot
  std::vector<int8_t> zero_points;  // int, asymmetric only; one per slot
  float global_scale = 0;           // NVFP4: the divisor of the block scales
  // Filled by the quantizer in the same pass: sum (W - Q(W))^2 and sum W^2.
  double error_sq = 0, norm_sq = 0;

  QuantizedWeight() = default;
  // Storage for every field of the layout, zero-filled.
  explicit QuantizedWeight(const QuantLayout& layout);
  float scale_at(int64_t slot) const;  // decoded value of a scale slot
};

// Dense weights in q.dense_dtype, decompressed exactly as compressed-tensors does.
void dequantize(const QuantizedWeight& q, void* out);
// Rows [r0, r1) of the same values as float32 (for matmul tiles).
void dequantize_rows_f32(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out);
// The same element by element (test reference for the fast run decoder).
void dequantize_rows_f32_reference(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out);

// How far the dequantized weight is from the original: ||W - Q(W)|| / ||W|| and the
// signal-to-noise ratio 20 log10(||W|| / ||W - Q(W)||) in dB (inf when exact).
struct ErrorStats {
  double relative_error = 0;
  double snr_db = 0;
};
// From the sums the quantizer accumulated while encoding.
ErrorStats quantization_error(const QuantizedWeight& q);
// Recomputed from scratch by dequantizing (slow; a check for tests).
ErrorStats quantization_error(const void* w, DType dtype, const QuantizedWeight& q);

}  // namespace lowbit
