#include "quant/schemes.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "quant/overrides.h"
#include "quant/presets.h"

using namespace lowbit;
using namespace lowbit::quant;

namespace {
QuantScheme preset(const char* name) { return *preset_scheme(name, {"Linear"}); }

std::string tensors_text(const QuantScheme& s, int64_t n, int64_t k) {
  std::string out;
  for (const auto& t : module_tensors(s, resolve_layout(*s.weights, DType::BF16, n, k))) {
    out += t.suffix + ":" + std::string(dtype_name(t.dtype)) + "[";
    for (size_t i = 0; i < t.shape.size(); ++i) out += (i ? "," : "") + std::to_string(t.shape[i]);
    out += "] ";
  }
  return out;
}
}  // namespace

TEST(Schemes, EveryPresetGetsTheFormatCompressedTensorsInfers) {
  // compressed-tensors' compressors/format.py on its own presets.
  const std::map<std::string, std::string> want = {
      {"W4A16", "pack-quantized"},          {"W4A16_ASYM", "pack-quantized"},  {"W8A16", "pack-quantized"},
      {"W8A8", "int-quantized"},            {"W4A8", "int-quantized"},         {"FP8_DYNAMIC", "float-quantized"},
      {"FP8_BLOCK", "float-quantized"},     {"MXFP8A16", "mxfp8-quantized"},   {"MXFP8", "mxfp8-quantized"},
      {"MXFP4A16", "mxfp4-pack-quantized"}, {"MXFP4", "mxfp4-pack-quantized"}, {"NVFP4A16", "nvfp4-pack-quantized"},
      {"W2A16", "pack-quantized"}};
  for (const auto& [name, format] : want) EXPECT_EQ(compression_format(preset(name.c_str())), format) << name;
  QuantScheme fp8_weights_only = preset("FP8_DYNAMIC");
  fp8_weights_only.input_activations.reset();
  EXPECT_EQ(compression_format(fp8_weights_only), "naive-quantized");
  // Every preset compressed-tensors defines and lowbit writes is listed; the rest say why not.
  EXPECT_EQ(supported_preset_names().size(), 17u);
  EXPECT_FALSE(is_supported(*find_preset("NVFP4")));   // needs a calibrated input global scale
  EXPECT_FALSE(is_supported(*find_preset("W4AFP8")));  // no args in lowbit yet
  EXPECT_EQ(find_preset("int8"), find_preset("W8A8"));
}

TEST(Schemes, TensorsPerFormatAreCompressedTensorsLayout) {
  // The research note's table for a [256, 512] BF16 weight.
  EXPECT_EQ(tensors_text(preset("W4A16"), 256, 512),
            "weight_packed:I32[256,64] weight_scale:BF16[256,4] weight_shape:I64[2] ");
  EXPECT_EQ(tensors_text(preset("W4A16_ASYM"), 256, 512),
            "weight_packed:I32[256,64] weight_scale:BF16[256,4] weight_shape:I64[2] weight_zero_point:I32[32,4] ");
  EXPECT_EQ(tensors_text(preset("W8A8"), 256, 512), "weight:I8[256,512] weight_scale:BF16[256,1] ");
  EXPECT_EQ(tensors_text(preset("FP8_BLOCK"), 200, 512), "weight:F8_E4M3[200,512] weight_scale:BF16[2,4] ");
  EXPECT_EQ(tensors_text(preset("MXFP8A16"), 256, 512), "weight:F8_E4M3[256,512] weight_scale:U8[256,16] ");
  EXPECT_EQ(tensors_text(preset("MXFP4A16"), 256, 512), "weight_packed:U8[256,256] weight_scale:U8[256,16] ");
  EXPECT_EQ(tensors_text(preset("NVFP4A16"), 256, 512),
            "weight_packed:U8[256,256] weight_scale:F8_E4M3[256,32] weight_global_scale:F32[1] ");
  const QuantLayout nv = resolve_layout(*preset("NVFP4A16").weights, DType::F16, 256, 512);
  EXPECT_EQ(nv.dense_dtype, DType::BF16);  // MX and NVFP4 decompress to BF16 whatever the model dtype
  EXPECT_TRUE(nv.has_global_scale);
  EXPECT_EQ(resolve_layout(*preset("W4A16").weights, DType::F16, 256, 512).scale_dtype, DType::F16);
  for (const char* s : compressed_tensor_suffixes()) EXPECT_TRUE(is_compressed_tensor_suffix(s)) << s;
  EXPECT_FALSE(is_compressed_tensor_suffix("bias"));
}

TEST(Schemes, BitsPerWeightCountCodesScalesAndZeroPoints) {
  EXPECT_DOUBLE_EQ(bits_per_weight(preset("W4A16")), 4 + 16.0 / 128);
  EXPECT_DOUBLE_EQ(bits_per_weight(preset("W4A16_ASYM")), 4 + 20.0 / 128);
  EXPECT_DOUBLE_EQ(bits_per_weight(preset("W4A8")), 8 + 16.0 / 128);  // int-quantized stores int8
  EXPECT_DOUBLE_EQ(bits_per_weight(preset("MXFP4A16")), 4.25);
  EXPECT_DOUBLE_EQ(bits_per_weight(preset("NVFP4A16")), 4.5);
  EXPECT_DOUBLE_EQ(bits_per_weight(preset("FP8_DYNAMIC")), 8);
}

TEST(Schemes, GroupSizeOfFloatWeightsPicksTheBlockFormat) {
  using E = WeightOverrides::Element;
  WeightOverrides o;
  o.element = E::Fp4;
  o.group_size = 16;
  const QuantScheme nv = build_scheme("", o, {"Linear"}, "test");
  EXPECT_EQ(nv.weights->strategy, Strategy::TensorGroup);
  EXPECT_EQ(nv.weights->scale_dtype, "torch.float8_e4m3fn");
  EXPECT_EQ(compression_format(nv), "nvfp4-pack-quantized");
  o.group_size = 32;
  EXPECT_EQ(compression_format(build_scheme("", o, {"Linear"}, "test")), "mxfp4-pack-quantized");
  o.element = E::Fp8;
  EXPECT_EQ(compression_format(build_scheme("", o, {"Linear"}, "test")), "mxfp8-quantized");
  o.group_size = 16;
  EXPECT_THROW(build_scheme("", o, {"Linear"}, "test"), UserError);  // fp8 in groups of 16: no format
  o.group_size = 64;
  o.element = E::Fp4;
  EXPECT_THROW(build_scheme("", o, {"Linear"}, "test"), UserError);
  WeightOverrides i8;
  i8.bits = 8;
  i8.strategy = Strategy::Channel;
  const QuantScheme ch = build_scheme("", i8, {"Linear"}, "test");
  EXPECT_EQ(ch.weights->strategy, Strategy::Channel);
  EXPECT_FALSE(ch.weights->group_size);
  WeightOverrides g64;
  g64.group_size = 64;
  EXPECT_EQ(*build_scheme("W4A16_ASYM", g64, {"Linear"}, "test").weights->group_size, 64);
  EXPECT_FALSE(build_scheme("W4A16_ASYM", g64, {"Linear"}, "test").weights->symmetric);
  EXPECT_THROW(build_scheme("", WeightOverrides{}, {"Linear"}, "test"), UserError);  // nothing chosen
  EXPECT_THROW(build_scheme("W9A16", WeightOverrides{}, {"Linear"}, "test"), UserError);
}
