// compressed-tensors pack-quantized bit layout (CT >= 0.18, dense): signed b-bit
// codes get +2^(b-1), then element c of a row sits at bit c*b of that row's
// little-endian bit stream of int32 words; ceil(cols*b/32) words per row. Zero
// points are packed the same way along the output dimension (dim 0).
#pragma once
#include <cstdint>

namespace lowbit::quant {

inline int64_t packed_words(int64_t n, int bits) { return (n * bits + 31) / 32; }

// codes [rows, cols] -> out [rows, packed_words(cols, bits)]
void pack_rows(const int8_t* codes, int64_t rows, int64_t cols, int bits, int32_t* out);
void unpack_rows(const int32_t* packed, int64_t rows, int64_t cols, int bits, int8_t* out);
// values [rows, cols] -> out [packed_words(rows, bits), cols] (packed along dim 0)
void pack_dim0(const int8_t* values, int64_t rows, int64_t cols, int bits, int32_t* out);
void unpack_dim0(const int32_t* packed, int64_t rows, int64_t cols, int bits, int8_t* out);

}  // namespace lowbit::quant
