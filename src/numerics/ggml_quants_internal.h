// The per-type row codecs behind numerics/ggml_quants.h's table (private to numerics/).
#pragma once
#include <cstdint>

namespace lowbit::ggml_detail {

// Plain types (ggml_quants.cc).
void quantize_row_f32(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_f32(const uint8_t* x, float* y, int64_t n);
void quantize_row_f16(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_f16(const uint8_t* x, float* y, int64_t n);
void quantize_row_bf16(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_bf16(const uint8_t* x, float* y, int64_t n);

}  // namespace lowbit::ggml_detail
