// Round-to-nearest: integer codes, scales (and zero points) for one weight matrix,
// a pure function of the weight and the args.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/quant_args.h"

namespace lowbit::algorithms {

struct IntQuantized {
  int64_t rows = 0, cols = 0;        // weight shape [N, K]
  int64_t scale_rows = 0, scale_cols = 0;  // [1,1] tensor, [N,1] channel, [N,K/g] group
  DType scale_dtype = DType::BF16;   // = the weight's dtype
  std::vector<int8_t> codes;         // [N, K], signed
  std::vector<uint8_t> scales;       // raw scale_dtype elements, [scale_rows, scale_cols]
  std::vector<int8_t> zero_points;   // same shape as scales; empty when symmetric
  float scale_at(int64_t i) const;
};

// `w` is [rows, cols] in `dtype` (BF16, F16 or F32). Throws UserError naming `name`
// on NaN/Inf or a group size that does not divide `cols`.
IntQuantized rtn_quantize_int(const void* w, DType dtype, int64_t rows, int64_t cols, const quant::QuantArgs& args,
                              const std::string& name);

// Dense weights in the scale dtype: (q - zp) * scale, as compressed-tensors decompresses.
void dequantize_int(const IntQuantized& q, const quant::QuantArgs& args, void* out);

// Scalar reference (one element at a time, no vectorised loops) for tests.
IntQuantized rtn_quantize_int_reference(const void* w, DType dtype, int64_t rows, int64_t cols,
                                        const quant::QuantArgs& args);

}  // namespace lowbit::algorithms
