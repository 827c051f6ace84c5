// Round-to-nearest: codes and scales (zero points, global scale) for one weight
// matrix in any scheme lowbit writes; a pure function of the weight and the args.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "numerics/formats.h"
#include "quant/quant_args.h"

namespace lowbit::algorithms {

struct QuantizedWeight {
  int64_t rows = 0, cols = 0;  // weight shape [N, K]
  Format element = Format::INT4;
  // One byte per weight: two's-complement codes for int, E4M3 codes for fp8, E2M1 codes
  // (sign in bit 3) for fp4.
  std::vector<int8_t> codes;
  // [scale_rows, scale_cols]: [1,1] tensor, [N,1] channel, [N,K/g] group, [ceil(N/bh), ceil(K/bw)] block.
  int64_t scale_rows = 0, scale_cols = 0;
  DType scale_dtype = DType::BF16;  // model dtype; U8 for E8M0 (MX); F8_E4M3 for NVFP4
  std::vector<uint8_t> scales;      // raw scale_dtype elements
  std::vector<int8_t> zero_points;  // int, asymmetric only; same shape as scales
  float global_scale = 0;           // NVFP4: the divisor of the block scales
  DType dense_dtype = DType::BF16;  // what compressed-tensors decompresses this scheme to
  int64_t block_rows = 1, block_cols = 1;  // weights per scale slot along each dimension
  // Filled by the quantizer in the same pass: sum (W - Q(W))^2 and sum W^2.
  double error_sq = 0, norm_sq = 0;
  float scale_at(int64_t i) const;  // decoded value of scale slot i
  int64_t slot_of(int64_t r, int64_t c) const {
    return (r / block_rows) * scale_cols + c / block_cols;
  }
};

// Shape fields only (element, scale layout and dtypes; nothing allocated): the one place
// that knows each strategy's scale layout.
QuantizedWeight empty_layout(const quant::QuantArgs& args, DType model_dtype, int64_t rows, int64_t cols);

// `w` is [rows, cols] in `dtype` (BF16, F16 or F32). Throws UserError naming `name` on
// NaN/Inf or a shape the scheme cannot take. `shared_amax` (NVFP4 only) is the absolute
// max over every member of a vLLM-fused group (q/k/v, gate/up), which share one global scale.
QuantizedWeight rtn_quantize(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& args,
                             const std::string& name, std::optional<float> shared_amax = std::nullopt);

// Dense weights in q.dense_dtype, decompressed exactly as compressed-tensors does.
void dequantize(const QuantizedWeight& q, void* out);
// Rows [r0, r1) of the same values as float32 (for matmul tiles).
void dequantize_rows_f32(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out);
// The same element by element (test reference for the fast run decoder).
void dequantize_rows_f32_reference(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out);

// Scalar reference (plain loops, generic format encoders) for tests.
QuantizedWeight rtn_quantize_reference(const void* w, DType dtype, int64_t rows, int64_t cols,
                                       const quant::QuantArgs& args, std::optional<float> shared_amax = std::nullopt);

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

// max |w| over a tensor (NaN/Inf -> UserError naming `name`).
float tensor_amax(const void* w, DType dtype, uint64_t n, const std::string& name);

}  // namespace lowbit::algorithms
