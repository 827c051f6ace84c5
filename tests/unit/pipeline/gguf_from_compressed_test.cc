#include "pipeline/gguf_from_compressed.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "numerics/ggml_quants.h"
#include "numerics/half.h"

using namespace lowbit;

namespace {
// A [rows, 64] int weight in groups of 32 with BF16 scales, codes c(r, k) = (r + k) % 16 - 8.
QuantizedWeight int_weight(Format element, int64_t rows, bool zero_points, float scale) {
  QuantLayout l;
  l.rows = rows, l.cols = 64, l.element = element, l.block_rows = 1, l.block_cols = 32;
  l.scale_rows = rows, l.scale_cols = 2, l.scale_dtype = DType::BF16, l.has_zero_points = zero_points;
  QuantizedWeight q(l);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < 64; ++k) q.codes[size_t(r * 64 + k)] = int8_t((r + k) % 16 - 8);
  for (int64_t s = 0; s < q.slots(); ++s) {
    const uint16_t b = f32_to_bf16(scale * float(s + 1));
    std::memcpy(q.scales.data() + 2 * s, &b, 2);
    if (zero_points) q.zero_points[size_t(s)] = int8_t(s % 16 - 8);
  }
  return q;
}

std::vector<float> decoded(const QuantizedWeight& q) {
  std::vector<float> out(size_t(q.rows * q.cols));
  dequantize_rows_f32(q, 0, q.rows, out.data());
  return out;
}

// llama.cpp's float32 values, rounded to BF16 as compressed-tensors' decoder rounds s * q into
// the model's dtype (what dequantize_rows_f32 gives).
std::vector<float> ggml_decoded(GgmlType t, const std::vector<uint8_t>& bytes, int64_t rows, int64_t cols) {
  std::vector<float> out(size_t(rows * cols));
  ggml_codec(t).dequantize(bytes.data(), out.data(), rows * cols);
  for (float& v : out) v = bf16_to_f32(f32_to_bf16(v));
  return out;
}
}  // namespace

TEST(GgmlBlocksFromCodes, Q4_0ByHand) {
  const QuantizedWeight q = int_weight(Format::INT4, 1, false, 0.5f);
  std::vector<uint8_t> out(2 * 18, 0xee);
  int64_t rounded = -1;
  ASSERT_TRUE(pipeline::ggml_blocks_from_codes(q, GgmlType::Q4_0, out.data(), &rounded));
  EXPECT_EQ(rounded, 0);
  uint16_t d;
  std::memcpy(&d, out.data(), 2);
  EXPECT_EQ(fp16_to_f32(d), 0.5f);
  // Byte j: element j (code j - 8, nibble j) low, element j + 16 (nibble (j + 16) % 16 = j) high.
  for (int j = 0; j < 16; ++j) EXPECT_EQ(out[size_t(2 + j)], uint8_t(j | j << 4)) << j;
  std::memcpy(&d, out.data() + 18, 2);
  EXPECT_EQ(fp16_to_f32(d), 1.0f);
}

TEST(GgmlBlocksFromCodes, Q4_0AndQ8_0DecodeExactlyWhatCompressedTensorsDoes) {
  for (const auto& [element, type] : {std::pair{Format::INT4, GgmlType::Q4_0}, std::pair{Format::INT8, GgmlType::Q8_0}}) {
    const QuantizedWeight q = int_weight(element, 5, false, 0.0123f);
    std::vector<uint8_t> out(*ggml_row_bytes(type, 64) * 5);
    int64_t rounded = -1;
    ASSERT_TRUE(pipeline::ggml_blocks_from_codes(q, type, out.data(), &rounded));
    EXPECT_EQ(ggml_decoded(type, out, 5, 64), decoded(q));
  }
}

TEST(GgmlBlocksFromCodes, Q4_1KeepsCodesAndRoundsOnlyOffsetsFp16CannotHold) {
  const QuantizedWeight q = int_weight(Format::INT4, 3, true, 0.0123f);
  std::vector<uint8_t> out(*ggml_row_bytes(GgmlType::Q4_1, 64) * 3);
  int64_t rounded = -1;
  ASSERT_TRUE(pipeline::ggml_blocks_from_codes(q, GgmlType::Q4_1, out.data(), &rounded));
  const auto got = ggml_decoded(GgmlType::Q4_1, out, 3, 64), want = decoded(q);
  int64_t exact_blocks = 0;
  for (int64_t b = 0; b < 6; ++b) {
    bool exact = true;
    for (int64_t i = b * 32; i < b * 32 + 32; ++i) {
      EXPECT_NEAR(got[size_t(i)], want[size_t(i)], 2e-3 * q.scale_at(b) * 16) << i;
      exact = exact && got[size_t(i)] == want[size_t(i)];
    }
    exact_blocks += exact;
  }
  EXPECT_EQ(exact_blocks + rounded, 6);  // a block is exact unless its offset was rounded
}

TEST(GgmlBlocksFromCodes, RefusesWhatTheGridCannotHold) {
  std::vector<uint8_t> out(1024);
  int64_t rounded = 0;
  // A scale FP16 cannot hold (BF16 keeps 8 bits down to 1e-38; FP16 flushes 1e-9 to zero).
  EXPECT_FALSE(pipeline::ggml_blocks_from_codes(int_weight(Format::INT4, 1, false, 1e-9f), GgmlType::Q4_0, out.data(),
                                                &rounded));
  // Asymmetric int4 is not Q4_0, symmetric is not Q4_1, int4 is not Q8_0, groups of 64 are not blocks of 32.
  EXPECT_FALSE(pipeline::ggml_blocks_from_codes(int_weight(Format::INT4, 1, true, 0.5f), GgmlType::Q4_0, out.data(), &rounded));
  EXPECT_FALSE(pipeline::ggml_blocks_from_codes(int_weight(Format::INT4, 1, false, 0.5f), GgmlType::Q4_1, out.data(), &rounded));
  EXPECT_FALSE(pipeline::ggml_blocks_from_codes(int_weight(Format::INT4, 1, false, 0.5f), GgmlType::Q8_0, out.data(), &rounded));
  QuantizedWeight g64 = int_weight(Format::INT4, 1, false, 0.5f);
  g64.block_cols = 64, g64.scale_cols = 1;
  EXPECT_FALSE(pipeline::ggml_blocks_from_codes(g64, GgmlType::Q4_0, out.data(), &rounded));
  EXPECT_FALSE(pipeline::ggml_blocks_from_codes(int_weight(Format::INT4, 1, false, 0.5f), GgmlType::Q4_K, out.data(), &rounded));
}
