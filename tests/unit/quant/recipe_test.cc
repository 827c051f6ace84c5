#include "quant/recipe.h"
#include "quant/presets.h"

#include <gtest/gtest.h>

#include "core/error.h"

using namespace lowbit;
using namespace lowbit::quant;

TEST(Recipe, PresetScheme) {
  Recipe r = parse_recipe_yaml(R"(
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      scheme: W4A16_ASYM
      targets: Linear
      ignore: ["lm_head"]
)", "r.yaml");
  ASSERT_EQ(r.config_groups.size(), 1u);
  const QuantArgs& w = *r.config_groups[0].second.weights;
  EXPECT_EQ(w.num_bits, 4);
  EXPECT_FALSE(w.symmetric);
  EXPECT_EQ(w.strategy, Strategy::Group);
  EXPECT_EQ(*w.group_size, 128);
  EXPECT_EQ(*w.zp_dtype, "torch.int8");
  EXPECT_EQ(r.ignore, std::vector<std::string>{"lm_head"});
  EXPECT_EQ(r.config_groups[0].second.targets, std::vector<std::string>{"Linear"});
}

TEST(Recipe, W8A16FollowsCurrentCompressedTensorsPreset) {
  auto s = preset_scheme("w8a16", {"Linear"});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->weights->num_bits, 8);
  EXPECT_EQ(s->weights->strategy, Strategy::Group);
  EXPECT_EQ(*s->weights->group_size, 128);
}

TEST(Recipe, ConfigGroupsAndGptqStanza) {
  Recipe r = parse_recipe_yaml(R"(
quant_stage:
  quant_modifiers:
    GPTQModifier:
      ignore: [lm_head]
      dampening_frac: 0.01
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 8, type: int, symmetric: true, strategy: channel}
)", "r.yaml");
  EXPECT_EQ(r.modifier, "GPTQModifier");
  EXPECT_EQ(r.modifier_args["dampening_frac"], 0.01);
  EXPECT_EQ(r.config_groups[0].second.weights->strategy, Strategy::Channel);
  EXPECT_FALSE(r.config_groups[0].second.weights->group_size);
}

TEST(Recipe, SchemeDictShorthand) {
  Recipe r = parse_recipe_yaml("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n"
                               "      scheme: {W4A16: ['re:.*mlp.*'], W8A16: ['re:.*self_attn.*']}\n", "r");
  ASSERT_EQ(r.config_groups.size(), 2u);
  EXPECT_EQ(r.config_groups[1].second.weights->num_bits, 8);
  EXPECT_EQ(r.config_groups[1].second.targets[0], "re:.*self_attn.*");
}

TEST(Recipe, UnsupportedThingsAreErrorsNotDropped) {
  auto bad = [](const std::string& body) {
    EXPECT_THROW(parse_recipe_yaml("s_stage:\n  m_modifiers:\n" + body, "r"), UserError) << body;
  };
  bad("    SmoothQuantModifier: {smoothing_strength: 0.8}\n");
  bad("    QuantizationModifier: {scheme: W4A16, kv_cache_scheme: {num_bits: 8, type: float}}\n");
  bad("    QuantizationModifier: {scheme: W4A16, frobnicate: true}\n");
  bad("    QuantizationModifier: {scheme: FP8}\n");     // static activation scales need calibration
  bad("    QuantizationModifier: {scheme: NVFP4}\n");   // so does the NVFP4 input global scale
  bad("    QuantizationModifier: {scheme: W4AFP8}\n");  // refused until W4AFP8 exists
  bad("    QuantizationModifier: {scheme: W9A99}\n");
  bad("    QuantizationModifier:\n      config_groups:\n        g: {targets: [Linear], weights: {num_bits: 4, "
      "group_size: 128, colour: red}}\n");
  bad("    QuantizationModifier:\n      config_groups:\n        g: {targets: [Linear], weights: {num_bits: 8}, "
      "input_activations: {num_bits: 8, strategy: tensor}}\n");
  bad("    QuantizationModifier:\n      config_groups:\n        g: {targets: [Linear], weights: {num_bits: 4, "
      "type: float, group_size: 16, strategy: tensor_group, symmetric: false}}\n");  // FP4 asymmetric
  bad("    QuantizationModifier:\n      config_groups:\n        g: {targets: [Linear], format: pack-quantized, "
      "weights: {num_bits: 8, type: float, strategy: channel}}\n");  // format contradicts the scheme
  bad("    QuantizationModifier:\n      config_groups:\n        g: {targets: [Linear], weights: {num_bits: 4, "
      "strategy: group}}\n");  // group without group_size
  EXPECT_THROW(parse_recipe_yaml("a: [unclosed", "r"), UserError);
}

TEST(Recipe, YamlRoundTrip) {
  Recipe r = parse_recipe_yaml("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n"
                               "      ignore: [lm_head, 're:.*gate$']\n", "r");
  std::string y = recipe_to_yaml(r);
  EXPECT_NE(y.find("default_stage:"), std::string::npos);
  Recipe back = parse_recipe_yaml(y, "written");
  EXPECT_EQ(back.config_groups, r.config_groups);
  EXPECT_EQ(back.ignore, r.ignore);
}

TEST(Recipe, HugeFloatLiteralIsAUserErrorNotACrash) {
  // Found by fuzz_recipe: "11111e111112" overflowed std::stod and escaped as std::out_of_range.
  EXPECT_EQ(yaml_to_json(" 11111e111112 ", "r"), nlohmann::json("11111e111112"));
  EXPECT_THROW(parse_recipe_yaml(" 11111e111112 ", "r"), UserError);
  EXPECT_THROW(parse_recipe_yaml("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n"
                                 "      config_groups: 1e999\n", "r"), UserError);
}

TEST(Recipe, InvalidUtf8IsAUserErrorNotACrash) {
  // Found by fuzz_recipe: a non-UTF-8 byte made nlohmann::json::dump throw type_error.
  std::string bad = "s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n"
                    "      ignore: [\"lm_\xff\"]\n";
  EXPECT_THROW(parse_recipe_yaml(bad, "r"), UserError);
  EXPECT_THROW(parse_recipe_yaml("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      config_groups:\n"
                                 "        g: {targets: [Linear], weights: {num_bits: 1, group_size: 12M\xad?8}}\n", "r"),
               UserError);
}
