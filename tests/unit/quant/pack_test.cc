#include "quant/pack.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace lowbit::quant;

TEST(Pack, WorkedWordFromResearchNotes) {
  // Codes [-8,-1,0,1,2,3,7,-3] -> unsigned [0,7,8,9,10,11,15,5] -> nibbles LSB first.
  std::vector<int8_t> codes{-8, -1, 0, 1, 2, 3, 7, -3};
  int32_t w = 0;
  pack_rows(codes.data(), 1, 8, 4, &w);
  EXPECT_EQ(uint32_t(w), 0x5FBA9870u);
  EXPECT_EQ(w, 1606064240);
  std::vector<int8_t> back(8);
  unpack_rows(&w, 1, 8, 4, back.data());
  EXPECT_EQ(back, codes);
}

TEST(Pack, Int8FourPerWord) {
  std::vector<int8_t> codes{-128, 127, 0, -1};
  int32_t w = 0;
  pack_rows(codes.data(), 1, 4, 8, &w);
  EXPECT_EQ(uint32_t(w), 0x7F80FF00u);  // bytes LSB first: 0x00, 0xFF, 0x80, 0x7F
}

TEST(Pack, ThreeBitsCrossWordBoundaries) {
  // Dense layout (compressed-tensors 0.18): element c at bit 3c; element 10 spans bits 30..32.
  std::vector<int8_t> codes(32, -4);  // unsigned 0
  codes[10] = 3;                      // unsigned 7 = 0b111 -> bits 30,31 of word 0 and bit 0 of word 1
  int32_t w[3] = {0, 0, 0};
  pack_rows(codes.data(), 1, 32, 3, w);
  EXPECT_EQ(uint32_t(w[0]), 0xC0000000u);
  EXPECT_EQ(uint32_t(w[1]), 0x1u);
  EXPECT_EQ(w[2], 0);
  EXPECT_EQ(packed_words(32, 3), 3);
  EXPECT_EQ(packed_words(33, 4), 5);  // rows are cropped to ceil(K*b/32) words
}

TEST(Pack, RoundTripAllWidthsOddSizes) {
  std::mt19937 rng(7);
  for (int bits = 1; bits <= 8; ++bits) {
    const int64_t rows = 5, cols = 77;
    std::vector<int8_t> codes(rows * cols);
    std::uniform_int_distribution<int> d(-(1 << (bits - 1)), (1 << (bits - 1)) - 1);
    for (auto& c : codes) c = int8_t(d(rng));
    std::vector<int32_t> packed(rows * packed_words(cols, bits));
    pack_rows(codes.data(), rows, cols, bits, packed.data());
    std::vector<int8_t> back(codes.size());
    unpack_rows(packed.data(), rows, cols, bits, back.data());
    EXPECT_EQ(back, codes) << bits;
    std::vector<int32_t> packed0(packed_words(rows, bits) * cols);
    pack_dim0(codes.data(), rows, cols, bits, packed0.data());
    unpack_dim0(packed0.data(), rows, cols, bits, back.data());
    EXPECT_EQ(back, codes) << bits;
  }
}

TEST(Pack, ZeroPointsAlongOutputDimension) {
  // zp[N=8, G=2]: rows 0..7 of column g live in word [0, g], row i in bits 4i..4i+3.
  std::vector<int8_t> zp(16);
  for (int n = 0; n < 8; ++n) zp[n * 2 + 0] = int8_t(n - 8), zp[n * 2 + 1] = int8_t(7 - n);
  std::vector<int32_t> out(2);
  pack_dim0(zp.data(), 8, 2, 4, out.data());
  EXPECT_EQ(uint32_t(out[0]), 0x76543210u);
  EXPECT_EQ(uint32_t(out[1]), 0x89ABCDEFu);
}
