#include "quant/qparams.h"

#include <gtest/gtest.h>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/half.h"

using namespace lowbit;
using namespace lowbit::quant;

static QuantArgs int_args(int bits, bool sym, nlohmann::json group = nullptr) {
  nlohmann::json j{{"num_bits", bits}, {"symmetric", sym}, {"type", "int"}};
  if (!group.is_null()) j["group_size"] = group;
  else j["strategy"] = "channel";
  return parse_quant_args(j, "test");
}

TEST(QParams, SeedExampleRestrictedRange) {
  // The seed's example: symmetric int4 in [-7, 7], scale = amax / 7.
  const std::vector<float> w{0.12f, -0.41f, 0.93f, -0.05f, 0.55f, -0.88f, 0.27f, 0.02f};
  QuantArgs a = int_args(4, true);
  a.restricted_range = true;
  auto q = algorithms::rtn_quantize(w.data(), DType::F32, 1, 8, a, "seed");
  EXPECT_EQ(q.codes, (std::vector<int8_t>{1, -3, 7, 0, 4, -7, 2, 0}));
  EXPECT_FLOAT_EQ(q.scale_at(0), 0.93f / 7.0f);
}

TEST(QParams, SeedExampleCompressedTensorsRange) {
  // compressed-tensors: [-8, 7] with scale amax / 7.5. 0.93/s = 7.5 -> rounds to 8 (even) -> clamps to 7.
  const std::vector<float> w{0.12f, -0.41f, 0.93f, -0.05f, 0.55f, -0.88f, 0.27f, 0.02f};
  auto q = algorithms::rtn_quantize(w.data(), DType::F32, 1, 8, int_args(4, true), "seed");
  EXPECT_FLOAT_EQ(q.scale_at(0), 0.93f / 7.5f);
  // 0.12/0.124=0.97->1, -0.41->-3.31->-3, 0.93->7.5->8->7, -0.05->-0.40->0, 0.55->4.44->4,
  // -0.88->-7.10->-7, 0.27->2.18->2, 0.02->0.16->0
  EXPECT_EQ(q.codes, (std::vector<int8_t>{1, -3, 7, 0, 4, -7, 2, 0}));
}

TEST(QParams, AsymmetricWorkedExample) {
  // Research notes §3.1: int4, min -1, max 2 -> scale 0.2, zp -3; 2 -> 7, -1 -> -8.
  IntQParams p = int_qparams(-1.0f, 2.0f, int_args(4, false), DType::F32);
  EXPECT_FLOAT_EQ(p.scale, 0.2f);
  EXPECT_EQ(p.zero_point, -3);
  EXPECT_EQ(quantize_int(2.0f, p, int_args(4, false), DType::F32), 7);
  EXPECT_EQ(quantize_int(-1.0f, p, int_args(4, false), DType::F32), -8);
}

TEST(QParams, Bf16ArithmeticIsEmulated) {
  // torch computes x / scale in bf16 for bf16 weights: the quotient is rounded to bf16
  // before round-half-even. Over all bf16 x in [-1, 1] that must differ from plain f32
  // division somewhere (so the emulation matters) and match the explicit bf16 formula.
  QuantArgs a = int_args(4, true);
  IntQParams p = int_qparams(-1.0f, 1.0f, a, DType::BF16);
  EXPECT_EQ(p.scale, bf16_to_f32(f32_to_bf16(1.0f / 7.5f)));
  EXPECT_EQ(p.scale, 0.13378906f);
  int differ = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float x = bf16_to_f32(uint16_t(h));
    if (!(std::fabs(x) <= 1.0f)) continue;
    float quotient_bf16 = bf16_to_f32(f32_to_bf16(x / p.scale));
    float expect = std::nearbyint(std::clamp(quotient_bf16, -8.0f, 7.0f));
    float naive = std::nearbyint(std::clamp(x / p.scale, -8.0f, 7.0f));
    differ += expect != naive;
    ASSERT_EQ(quantize_int(x, p, a, DType::BF16), int(expect)) << x;
  }
  EXPECT_GT(differ, 0);
}

TEST(QParams, ZeroGroupGetsEpsScale) {
  IntQParams p = int_qparams(0.0f, 0.0f, int_args(4, true), DType::BF16);
  EXPECT_EQ(p.scale, 0x1p-7f);  // torch.finfo(bfloat16).eps
  IntQParams pa = int_qparams(0.0f, 0.0f, int_args(4, false), DType::BF16);
  EXPECT_EQ(pa.scale, 0x1p-7f);
  EXPECT_EQ(pa.zero_point, 0);
}

TEST(Rtn, VectorisedMatchesScalarReference) {
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    for (auto a : {int_args(4, true, 32), int_args(4, false, 32), int_args(8, true, 64), int_args(3, false),
                   parse_quant_args({{"num_bits", 4}, {"strategy", "tensor"}, {"symmetric", false}}, "t")}) {
      const int64_t rows = 7, cols = 128;
      std::vector<uint8_t> w(rows * cols * dtype_size(dt));
      uint64_t s = 42;
      for (int64_t i = 0; i < rows * cols; ++i) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float((s >> 33) % 20001) - 10000.0f) / 10000.0f * (i % 13 == 0 ? 3.0f : 0.05f);
        store_from_f32(w.data(), i, dt, v);
      }
      auto fast = algorithms::rtn_quantize(w.data(), dt, rows, cols, a, "w");
      auto ref = algorithms::rtn_quantize_reference(w.data(), dt, rows, cols, a);
      EXPECT_EQ(fast.codes, ref.codes);
      EXPECT_EQ(fast.scales, ref.scales);
      EXPECT_EQ(fast.zero_points, ref.zero_points);
      auto slow = quantization_error(w.data(), dt, fast), fused = quantization_error(fast);
      EXPECT_NEAR(fused.relative_error, slow.relative_error, 1e-5 * slow.relative_error + 1e-12);
      // Dequantized values stay within half a step of the original (plus clipping at +amax).
      std::vector<uint8_t> dq(w.size());
      dequantize(fast, dq.data());
      for (int64_t i = 0; i < rows * cols; ++i) {
        float x = load_as_f32(w.data(), i, dt), y = load_as_f32(dq.data(), i, dt);
        int64_t slot = fast.slot_of(i / cols, i % cols);
        EXPECT_LE(std::fabs(x - y), fast.scale_at(slot) * 1.01f + 1e-3f) << i;
      }
    }
  }
}

TEST(Rtn, RejectsNanAndIndivisibleGroups) {
  std::vector<float> w(256, 0.1f);
  w[130] = NAN;
  try {
    algorithms::rtn_quantize(w.data(), DType::F32, 2, 128, int_args(4, true, 128), "x.weight");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("x.weight: NaN at [1, 2]"), std::string::npos) << e.what();
  }
  std::vector<float> ok(2 * 96, 0.1f);
  EXPECT_THROW(algorithms::rtn_quantize(ok.data(), DType::F32, 2, 96, int_args(4, true, 128), "y"), UserError);
}
