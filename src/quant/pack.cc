#include "quant/pack.h"

#include <cstring>
#include <vector>

namespace lowbit::quant {

namespace {
// Pack n strided values into words; stride lets the same code serve rows and columns.
inline void pack_stream(const int8_t* v, int64_t n, int64_t stride, int bits, int32_t* out, int64_t out_stride) {
  const uint32_t offset = 1u << (bits - 1), mask = (1u << bits) - 1u;
  uint64_t acc = 0;
  int nacc = 0;
  int64_t w = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc |= uint64_t((uint32_t(int32_t(v[i * stride]) + int32_t(offset))) & mask) << nacc;
    nacc += bits;
    if (nacc >= 32) {
      out[w++ * out_stride] = int32_t(uint32_t(acc));
      acc >>= 32;
      nacc -= 32;
    }
  }
  if (nacc > 0) out[w * out_stride] = int32_t(uint32_t(acc));
}

inline void unpack_stream(const int32_t* in, int64_t in_stride, int64_t n, int bits, int8_t* out, int64_t stride) {
  const int32_t offset = 1 << (bits - 1);
  const uint64_t mask = (1u << bits) - 1u;
  const int64_t words = packed_words(n, bits);
  uint64_t acc = 0;
  int nacc = 0;
  int64_t w = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (nacc < bits) {
      if (w < words) acc |= uint64_t(uint32_t(in[w++ * in_stride])) << nacc;
      nacc += 32;
    }
    out[i * stride] = int8_t(int32_t(acc & mask) - offset);
    acc >>= bits;
    nacc -= bits;
  }
}
}  // namespace

void pack_rows(const int8_t* codes, int64_t rows, int64_t cols, int bits, int32_t* out) {
  const int64_t words = packed_words(cols, bits);
  if (bits == 4 && cols % 8 == 0) {  // the hot case: 8 nibbles per word
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int8_t* c = codes + r * cols;
      int32_t* o = out + r * words;
      for (int64_t w = 0; w < words; ++w) {
        uint32_t x = 0;
        for (int j = 0; j < 8; ++j) x |= uint32_t((c[w * 8 + j] + 8) & 15) << (4 * j);
        o[w] = int32_t(x);
      }
    }
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) pack_stream(codes + r * cols, cols, 1, bits, out + r * words, 1);
}

void unpack_rows(const int32_t* packed, int64_t rows, int64_t cols, int bits, int8_t* out) {
  const int64_t words = packed_words(cols, bits);
  for (int64_t r = 0; r < rows; ++r) unpack_stream(packed + r * words, 1, cols, bits, out + r * cols, 1);
}

void pack_dim0(const int8_t* values, int64_t rows, int64_t cols, int bits, int32_t* out) {
  for (int64_t c = 0; c < cols; ++c) pack_stream(values + c, rows, cols, bits, out + c, cols);
}

void unpack_dim0(const int32_t* packed, int64_t rows, int64_t cols, int bits, int8_t* out) {
  for (int64_t c = 0; c < cols; ++c) unpack_stream(packed + c, cols, rows, bits, out + c, cols);
}

std::vector<uint8_t> pack_codes(CodeStorage s, const int8_t* codes, int64_t rows, int64_t cols, int bits) {
  std::vector<uint8_t> out;
  switch (s) {
    case CodeStorage::Int32Packed:
      out.resize(size_t(rows * packed_words(cols, bits)) * 4);
      pack_rows(codes, rows, cols, bits, reinterpret_cast<int32_t*>(out.data()));
      break;
    case CodeStorage::Int8:
    case CodeStorage::Fp8: out.assign(codes, codes + rows * cols); break;
    case CodeStorage::Fp4Pairs:
      out.resize(size_t(rows * cols / 2));
      for (size_t i = 0; i < out.size(); ++i)
        out[i] = uint8_t((uint8_t(codes[2 * i]) & 0xF) | ((uint8_t(codes[2 * i + 1]) & 0xF) << 4));
      break;
  }
  return out;
}

void unpack_codes(CodeStorage s, const uint8_t* bytes, int64_t rows, int64_t cols, int bits, int8_t* out) {
  switch (s) {
    case CodeStorage::Int32Packed: {
      std::vector<int32_t> words(size_t(rows * packed_words(cols, bits)));  // the map need not be 4-byte aligned
      std::memcpy(words.data(), bytes, words.size() * 4);
      unpack_rows(words.data(), rows, cols, bits, out);
      break;
    }
    case CodeStorage::Int8:
    case CodeStorage::Fp8: std::memcpy(out, bytes, size_t(rows * cols)); break;
    case CodeStorage::Fp4Pairs:
      for (int64_t i = 0; i < rows * cols / 2; ++i) {
        out[2 * i] = int8_t(bytes[i] & 0xF);
        out[2 * i + 1] = int8_t(bytes[i] >> 4);
      }
      break;
  }
}

}  // namespace lowbit::quant
