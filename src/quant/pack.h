// compressed-tensors pack-quantized bit layout (CT >= 0.18, dense): signed b-bit
// codes get +2^(b-1), then element c of a row sits at bit c*b of that row's
// little-endian bit stream of int32 words; ceil(cols*b/32) words per row. Zero
// points are packed the same way along the output dimension (dim 0).
//
// Every way a quantized Linear's codes are stored is a CodeStorage; pack_codes and
// unpack_codes are the one pair of converters between one-byte codes and those bytes.
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::quant {

inline int64_t packed_words(int64_t n, int bits) { return (n * bits + 31) / 32; }

// codes [rows, cols] -> out [rows, packed_words(cols, bits)]
void pack_rows(const int8_t* codes, int64_t rows, int64_t cols, int bits, int32_t* out);
void unpack_rows(const int32_t* packed, int64_t rows, int64_t cols, int bits, int8_t* out);
// values [rows, cols] -> out [packed_words(rows, bits), cols] (packed along dim 0)
void pack_dim0(const int8_t* values, int64_t rows, int64_t cols, int bits, int32_t* out);
void unpack_dim0(const int32_t* packed, int64_t rows, int64_t cols, int bits, int8_t* out);

// How the codes of a quantized Linear are stored in its checkpoint tensor.
enum class CodeStorage {
  Int32Packed,  // pack_rows: codes + 2^(b-1), LSB-first bit stream per row in int32 words
  Int8,         // one signed int8 per code
  Fp8,          // one E4M3 byte per code
  Fp4Pairs,     // two E2M1 codes per byte along the row, the even element in the low nibble
};
// codes [rows, cols] (one byte each; b = bits for Int32Packed) -> the stored bytes.
std::vector<uint8_t> pack_codes(CodeStorage s, const int8_t* codes, int64_t rows, int64_t cols, int bits);
// The inverse; `bytes` holds exactly what pack_codes would write.
void unpack_codes(CodeStorage s, const uint8_t* bytes, int64_t rows, int64_t cols, int bits, int8_t* out);

}  // namespace lowbit::quant
