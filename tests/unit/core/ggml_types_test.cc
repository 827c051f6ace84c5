#include "core/ggml_types.h"

#include <gtest/gtest.h>

using namespace lowbit;

TEST(GgmlTypes, SizesAreGgmlCommonBlockStructs) {
  // Bytes per block from ggml-common.h's structs, worked out by hand.
  EXPECT_EQ(ggml_traits(GgmlType::Q4_0).type_size, 2 + 16);           // d + 32 nibbles
  EXPECT_EQ(ggml_traits(GgmlType::Q5_1).type_size, 2 + 2 + 4 + 16);   // d, m, qh, qs
  EXPECT_EQ(ggml_traits(GgmlType::Q8_0).type_size, 2 + 32);
  EXPECT_EQ(ggml_traits(GgmlType::Q2_K).type_size, 16 + 64 + 2 + 2);  // scales, qs, d, dmin
  EXPECT_EQ(ggml_traits(GgmlType::Q3_K).type_size, 32 + 64 + 12 + 2);
  EXPECT_EQ(ggml_traits(GgmlType::Q4_K).type_size, 2 + 2 + 12 + 128);
  EXPECT_EQ(ggml_traits(GgmlType::Q5_K).type_size, 2 + 2 + 12 + 32 + 128);
  EXPECT_EQ(ggml_traits(GgmlType::Q6_K).type_size, 128 + 64 + 16 + 2);
  EXPECT_EQ(ggml_traits(GgmlType::IQ4_XS).type_size, 2 + 2 + 4 + 128);
  EXPECT_EQ(ggml_traits(GgmlType::MXFP4).type_size, 1 + 16);
  EXPECT_EQ(ggml_traits(GgmlType::Q4_K).block_size, 256);
}

TEST(GgmlTypes, IdsReadFromFilesAreCheckedAgainstTheTable) {
  EXPECT_EQ(find_ggml_type(12)->type, GgmlType::Q4_K);
  EXPECT_EQ(find_ggml_type(30)->name, "bf16");
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) EXPECT_FALSE(find_ggml_type(removed)) << removed;
  // Ids from 42 on mean different things in different llama.cpp builds.
  EXPECT_FALSE(find_ggml_type(42));
  EXPECT_FALSE(find_ggml_type(0xffffffffu));
}

TEST(GgmlTypes, NamesAndRowBytes) {
  EXPECT_EQ(ggml_type_from_name("Q4_K"), GgmlType::Q4_K);
  EXPECT_EQ(ggml_type_from_name("iq4_xs"), GgmlType::IQ4_XS);
  EXPECT_FALSE(ggml_type_from_name("Q4_K_M"));  // an ftype (a mix), not a tensor type
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q4_K, 4096), 16u * 144u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::F16, 7), 14u);
  EXPECT_FALSE(ggml_row_bytes(GgmlType::Q4_K, 576));  // SmolLM2's hidden size: 2.25 super-blocks
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q4_0, 576), 18u * 18u);
}
