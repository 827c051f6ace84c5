// The per-type row codecs behind numerics/ggml_quants.h's table (private to numerics/).
#pragma once
#include <cstdint>

#include "numerics/ggml_quants.h"

namespace lowbit::ggml_detail {

// Plain types (ggml_quants.cc).
void quantize_row_f32(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_f32(const uint8_t* x, float* y, int64_t n);
void quantize_row_f16(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_f16(const uint8_t* x, float* y, int64_t n);
void quantize_row_bf16(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_bf16(const uint8_t* x, float* y, int64_t n);

// Legacy 32-element blocks and the 4-bit non-linear types (ggml_legacy.cc). w is the imatrix
// (length n) or null; the Q8_0 and MXFP4 encoders ignore it, as ggml does.
void quantize_row_q4_0(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q4_0(const uint8_t* x, float* y, int64_t n);
void quantize_row_q4_1(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q4_1(const uint8_t* x, float* y, int64_t n);
void quantize_row_q5_0(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q5_0(const uint8_t* x, float* y, int64_t n);
void quantize_row_q5_1(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q5_1(const uint8_t* x, float* y, int64_t n);
void quantize_row_q8_0(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q8_0(const uint8_t* x, float* y, int64_t n);
void quantize_row_iq4_nl(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_iq4_nl(const uint8_t* x, float* y, int64_t n);
void quantize_row_mxfp4(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_mxfp4(const uint8_t* x, float* y, int64_t n);

// K-quants (ggml_kquants.cc): w is the imatrix (length n) or null, as ggml_quantize_chunk's.
void quantize_row_q2_k(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q2_k(const uint8_t* x, float* y, int64_t n);
void quantize_row_q3_k(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q3_k(const uint8_t* x, float* y, int64_t n);
void quantize_row_q4_k(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q4_k(const uint8_t* x, float* y, int64_t n);
void quantize_row_q5_k(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q5_k(const uint8_t* x, float* y, int64_t n);
void quantize_row_q6_k(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_q6_k(const uint8_t* x, float* y, int64_t n);

// IQ4_XS (ggml_iq4.cc, beside the search IQ4_NL shares).
void quantize_row_iq4_xs(const float* x, uint8_t* y, int64_t n, const float* w);
void dequantize_iq4_xs(const uint8_t* x, float* y, int64_t n);

// Levels and packing per block, for GPTQ (ggml_quants.h's GgmlCodec::block_levels / pack_levels).
void levels_q4_0(const uint8_t* block, GgmlLevels* out);
void pack_q4_0(const uint8_t* levels, uint8_t* block);
void levels_q4_1(const uint8_t* block, GgmlLevels* out);
void pack_q4_1(const uint8_t* levels, uint8_t* block);
void levels_q5_0(const uint8_t* block, GgmlLevels* out);
void pack_q5_0(const uint8_t* levels, uint8_t* block);
void levels_q5_1(const uint8_t* block, GgmlLevels* out);
void pack_q5_1(const uint8_t* levels, uint8_t* block);
void levels_q8_0(const uint8_t* block, GgmlLevels* out);
void pack_q8_0(const uint8_t* levels, uint8_t* block);
void levels_iq4_nl(const uint8_t* block, GgmlLevels* out);
void pack_iq4_nl(const uint8_t* levels, uint8_t* block);
void levels_q2_k(const uint8_t* block, GgmlLevels* out);
void pack_q2_k(const uint8_t* levels, uint8_t* block);
void levels_q3_k(const uint8_t* block, GgmlLevels* out);
void pack_q3_k(const uint8_t* levels, uint8_t* block);
void levels_q4_k(const uint8_t* block, GgmlLevels* out);
void pack_q4_k(const uint8_t* levels, uint8_t* block);
void levels_q5_k(const uint8_t* block, GgmlLevels* out);
void pack_q5_k(const uint8_t* levels, uint8_t* block);
void levels_q6_k(const uint8_t* block, GgmlLevels* out);
void pack_q6_k(const uint8_t* levels, uint8_t* block);
void levels_iq4_xs(const uint8_t* block, GgmlLevels* out);
void pack_iq4_xs(const uint8_t* levels, uint8_t* block);

}  // namespace lowbit::ggml_detail
