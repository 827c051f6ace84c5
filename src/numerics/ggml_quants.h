// ggml's block types (GGUF tensors): each type's encoder and decoder, one row per type, as
// ggml's type traits hold from_float / to_float. Encoders reproduce ggml_quantize_chunk bit
// for bit: the same blocks llama-quantize writes from the same float32 rows, with or without
// an importance matrix. Sizes and ids are core/ggml_types.h's table.
#pragma once
#include <cstdint>

#include "core/ggml_types.h"

namespace lowbit {

// The levels a block offers at one position, as its decoder computes them: level L in [lo, hi]
// decodes to step * (L - offset) - shift, or to step * table[L] for a non-uniform codebook (IQ4).
// GPTQ on a ggml type (algorithms/gptq_ggml.h) keeps the scales a block's search chose and
// re-picks each level with error feedback.
struct GgmlLevels {
  float step = 0, shift = 0;
  int offset = 0, lo = 0, hi = 0;
  const int8_t* table = nullptr;
  float value(int level) const {
    return table ? step * float(table[level]) : step * float(level - offset) - shift;
  }
  // The level whose value is nearest x (any level when step is 0: they all decode alike).
  int nearest(float x) const;
};

// One type's codec. quantize_row encodes one row of ne0 values (a multiple of the block size);
// importance is the row's per-column weights (E[x^2] of the input channel, length ne0) or null,
// exactly as ggml_quantize_chunk receives its imatrix. dequantize decodes n values.
struct GgmlCodec {
  GgmlType type;
  void (*quantize_row)(const float* src, uint8_t* dst, int64_t ne0, const float* importance);
  void (*dequantize)(const uint8_t* src, float* dst, int64_t n);
  bool uses_importance;  // false: ggml ignores the imatrix for this type (Q8_0, MXFP4, plain types)
  // Per block of block_size values: the levels at each position (from the block's scales), and
  // levels written into the block's code fields, its scales untouched. Null for the plain types
  // and MXFP4 (no per-block levels to re-pick).
  void (*block_levels)(const uint8_t* block, GgmlLevels* out) = nullptr;
  void (*pack_levels)(const uint8_t* levels, uint8_t* block) = nullptr;
};

// The codec of a type; nullptr when lowbit does not encode it.
const GgmlCodec* find_ggml_codec(GgmlType t);
// Throws UserError naming the type when there is no codec.
const GgmlCodec& ggml_codec(GgmlType t);

// nrows rows of ne0 values -> nrows * ggml_row_bytes(t, ne0) bytes; rows run in parallel (the
// bytes do not depend on the thread count).
void ggml_quantize_rows(GgmlType t, const float* src, uint8_t* dst, int64_t nrows, int64_t ne0,
                        const float* importance);
void ggml_dequantize(GgmlType t, const uint8_t* src, float* dst, int64_t n);

}  // namespace lowbit
