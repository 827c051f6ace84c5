#include <gtest/gtest.h>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/half.h"
#include "quant/presets.h"
#include "quant/schemes.h"
#include "quant/qparams.h"

using namespace lowbit;
using namespace lowbit::quant;

namespace {
QuantScheme preset(const char* name) { return *preset_scheme(name, {"Linear"}); }

std::vector<uint8_t> weights(DType dt, int64_t n, uint64_t seed) {
  std::vector<uint8_t> w(size_t(n) * dtype_size(dt));
  for (int64_t i = 0; i < n; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    float v = (float((seed >> 33) % 20001) - 10000.0f) / 10000.0f * (i % 17 == 0 ? 2.0f : 0.03f);
    if (i % 301 == 0) v = 0;  // exact zeros and whole zero groups are edge cases too
    store_from_f32(w.data(), size_t(i), dt, v);
  }
  return w;
}
}  // namespace

TEST(RtnFloat, MxScaleWorkedExamples) {
  // Research notes §2.6: FP4, amax 3.0 (1.5 * 2^1) -> p2 = 2 -> e = 126 (scale 0.5, 3.0/0.5 = 6);
  // amax 3.5 (1.75 * 2^1) rounds up to 4 -> e = 127 (scale 1).
  EXPECT_EQ(mx_scale(3.0f, DType::BF16, 4).e8m0, 126);
  EXPECT_EQ(mx_scale(3.0f, DType::BF16, 4).scale, 0.5f);
  EXPECT_EQ(mx_scale(3.5f, DType::BF16, 4).e8m0, 127);
  EXPECT_EQ(mx_scale(3.49f, DType::BF16, 4).e8m0, 126);  // fraction < 0.75 rounds down
  // FP8 (offset 8): 448 = 1.75 * 2^8 has fraction 0.75, so it rounds up to 2^9 -> e = 127 + 9 - 8.
  EXPECT_EQ(mx_scale(448.0f, DType::BF16, 8).e8m0, 128);
  EXPECT_EQ(mx_scale(400.0f, DType::BF16, 8).e8m0, 127);
  EXPECT_EQ(mx_scale(0.0f, DType::BF16, 4).e8m0, 0);
}

TEST(RtnFloat, Nvfp4WorkedExample) {
  // Research notes §2.5: tensor amax 2.0 -> global 1344; block amax 0.5 -> stored fp8(1344*0.5/6 = 112).
  float g = nvfp4_global_scale(2.0f, DType::BF16);
  EXPECT_EQ(g, 1344.0f);
  auto s = nvfp4_block_scale(0.5f, g, DType::BF16);
  EXPECT_EQ(s.value, 112.0f);
  EXPECT_NEAR(s.value / g, 0.5f / 6.0f, 1e-6);
  EXPECT_EQ(nvfp4_block_scale(0.0f, g, DType::BF16).value, 0.125f);  // zero block -> fp8 eps
}

TEST(RtnFloat, VectorisedMatchesScalarReferenceForEveryFloatScheme) {
  const int64_t rows = 130, cols = 256;  // 130 rows: a partial 128-row block for FP8_BLOCK
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    auto w = weights(dt, rows * cols, 7);
    for (const char* name : {"FP8_DYNAMIC", "FP8_BLOCK", "MXFP8A16", "MXFP4A16", "NVFP4A16"}) {
      const QuantArgs a = *preset(name).weights;
      // NVFP4's shared amax (from fused siblings) is at least this weight's own amax (2.0).
      auto fast = algorithms::rtn_quantize(w.data(), dt, rows, cols, a, "w", 2.5f);
      auto ref = algorithms::rtn_quantize_reference(w.data(), dt, rows, cols, a, 2.5f);
      EXPECT_EQ(fast.codes, ref.codes) << name << " " << dtype_name(dt);
      EXPECT_EQ(fast.scales, ref.scales) << name;
      EXPECT_EQ(fast.global_scale, ref.global_scale) << name;
      auto err = quantization_error(w.data(), dt, fast);
      auto fused = quantization_error(fast);  // accumulated while encoding
      EXPECT_NEAR(fused.relative_error, err.relative_error, 1e-5 * err.relative_error) << name;
      EXPECT_LT(err.relative_error, a.num_bits == 8 ? 0.05 : 0.2) << name;
      EXPECT_GT(err.snr_db, a.num_bits == 8 ? 26.0 : 14.0) << name;
    }
  }
}

TEST(RtnFloat, ScaleLayouts) {
  const int64_t rows = 130, cols = 256;
  auto w = weights(DType::BF16, rows * cols, 3);
  auto block = algorithms::rtn_quantize(w.data(), DType::BF16, rows, cols, *preset("FP8_BLOCK").weights, "w");
  EXPECT_EQ(block.scale_rows, 2);  // ceil(130 / 128)
  EXPECT_EQ(block.scale_cols, 2);
  EXPECT_EQ(block.scale_dtype, DType::BF16);
  auto mx = algorithms::rtn_quantize(w.data(), DType::BF16, rows, cols, *preset("MXFP4A16").weights, "w");
  EXPECT_EQ(mx.scale_cols, 8);
  EXPECT_EQ(mx.scale_dtype, DType::U8);
  auto nv = algorithms::rtn_quantize(w.data(), DType::BF16, rows, cols, *preset("NVFP4A16").weights, "w");
  EXPECT_EQ(nv.scale_cols, 16);
  EXPECT_EQ(nv.scale_dtype, DType::F8_E4M3);
  EXPECT_GT(nv.global_scale, 0.0f);
  // 260 x 128 is fine for 128x128 blocks; 520 x 64 is not (64 input columns).
  EXPECT_NO_THROW(algorithms::rtn_quantize(w.data(), DType::BF16, 260, 128, *preset("FP8_BLOCK").weights, "w"));
  EXPECT_THROW(algorithms::rtn_quantize(w.data(), DType::BF16, 520, 64, *preset("FP8_BLOCK").weights, "w"), UserError);
}

TEST(Dequantize, RunDecoderMatchesElementwiseForEveryScheme) {
  // The matmul tiles decode runs of codes per scale slot; they must equal the element-wise
  // compressed-tensors arithmetic for every scheme, dtype and a row range not starting at 0.
  const int64_t rows = 256, cols = 384;
  for (const std::string& name : supported_preset_names()) {
    for (DType dt : {DType::BF16, DType::F16}) {
      const auto w = weights(dt, rows * cols, 7);
      const QuantArgs a = *preset(name.c_str()).weights;
      if (!shape_problem(a, rows, cols).empty()) continue;
      auto q = algorithms::rtn_quantize(w.data(), dt, rows, cols, a, "w");
      std::vector<float> fast(size_t(100 * cols)), ref(size_t(100 * cols));
      dequantize_rows_f32(q, 130, 230, fast.data());
      dequantize_rows_f32_reference(q, 130, 230, ref.data());
      for (size_t i = 0; i < fast.size(); ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(ref[i])) << name << " element " << i;
    }
  }
}
