#include "quant/matching.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/plan.h"
#include "quant/recipe.h"

using namespace lowbit;
using namespace lowbit::quant;

static model::Module linear(const std::string& path) { return {path, {"Linear", "Module"}, 64, 64, false, 0}; }

TEST(Matching, ExactClassAndRegex) {
  auto m = linear("model.layers.3.mlp.down_proj");
  EXPECT_EQ(Matcher("model.layers.3.mlp.down_proj").match(m), MatchKind::Exact);
  EXPECT_EQ(Matcher("model.layers.3.mlp").match(m), MatchKind::None);  // exact means the full path
  EXPECT_EQ(Matcher("Linear").match(m), MatchKind::Class);
  EXPECT_EQ(Matcher("Module").match(m), MatchKind::Class);  // any class in the hierarchy
  EXPECT_EQ(Matcher("linear").match(m), MatchKind::None);   // class names are case-sensitive
  EXPECT_EQ(Matcher("re:.*mlp.*").match(m), MatchKind::Regex);
  EXPECT_EQ(Matcher("re:model\\.layers\\.(0|1|3)\\..*").match(m), MatchKind::Regex);
  EXPECT_EQ(Matcher("re:model\\.layers\\.(0|1|2)\\..*").match(m), MatchKind::None);
}

TEST(Matching, RegexIsAnchoredAtTheStartOnly) {
  // Python re.match: anchored at the start, free at the end.
  EXPECT_EQ(Matcher("re:down_proj").match(linear("model.layers.0.mlp.down_proj")), MatchKind::None);
  EXPECT_EQ(Matcher("re:.*q_proj").match(linear("model.layers.0.self_attn.q_proj_extra")), MatchKind::Regex);
  EXPECT_EQ(Matcher("re:.*q_proj$").match(linear("model.layers.0.self_attn.q_proj_extra")), MatchKind::None);
  EXPECT_EQ(Matcher("re:model").match(linear("model.layers.0.mlp.up_proj")), MatchKind::Regex);
  // Python named groups work.
  EXPECT_EQ(Matcher("re:model\\.layers\\.(?P<n>\\d+)\\.mlp").match(linear("model.layers.12.mlp.up_proj")),
            MatchKind::Regex);
}

TEST(Matching, BadRegexIsAUserError) { EXPECT_THROW(Matcher("re:model.(layers"), UserError); }

static model::Architecture tiny_arch(bool tied = false) {
  nlohmann::json c{{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 256}, {"intermediate_size", 384},
                   {"num_hidden_layers", 3}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                   {"vocab_size", 1000}, {"tie_word_embeddings", tied}};
  return model::architecture_from_config(c, "config.json");
}

static Recipe recipe(const std::string& yaml) { return parse_recipe_yaml(yaml, "recipe.yaml"); }

TEST(Plan, IgnoreAndExpandedIgnoreList) {
  auto r = recipe("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n      targets: [Linear]\n"
                  "      ignore: [lm_head, 're:model\\.layers\\.(0|2)\\..*']\n");
  auto arch = tiny_arch();  // the plan points into it
  Plan p = make_plan(arch, r);
  EXPECT_EQ(p.quantized_count(), 7);  // layer 1 only
  ASSERT_EQ(p.expanded_ignore.size(), 15u);
  EXPECT_EQ(p.expanded_ignore.front(), "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(p.expanded_ignore.back(), "lm_head");
  EXPECT_TRUE(p.warnings.empty());
}

TEST(Plan, PrecedenceExactOverRegexOverClass) {
  auto r = recipe(R"(s_stage:
  m_modifiers:
    QuantizationModifier:
      ignore: [lm_head]
      config_groups:
        group_0: {targets: [Linear], weights: {num_bits: 4, group_size: 128}}
        group_1: {targets: ['re:.*mlp.*'], weights: {num_bits: 8, group_size: 128}}
        group_2: {targets: [model.layers.0.mlp.down_proj], weights: {num_bits: 4, group_size: 128, symmetric: false}}
)");
  auto arch = tiny_arch();  // the plan points into it
  Plan p = make_plan(arch, r);
  EXPECT_EQ(p.find("model.layers.0.self_attn.o_proj")->group, 0);
  EXPECT_EQ(p.find("model.layers.0.mlp.up_proj")->group, 1);
  EXPECT_EQ(p.find("model.layers.0.mlp.down_proj")->group, 2);
  EXPECT_EQ(p.find("lm_head")->group, -1);
}

TEST(Plan, WarnsOnPatternsThatMatchNothing) {
  auto r = recipe("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n"
                  "      ignore: [lm_head, 're:vision_tower.*', model.layers.9.mlp.up_proj]\n");
  auto arch = tiny_arch();  // the plan points into it
  Plan p = make_plan(arch, r);
  ASSERT_EQ(p.warnings.size(), 2u);
  EXPECT_NE(p.warnings[0].find("re:vision_tower"), std::string::npos);
}

TEST(Plan, IndivisibleGroupSizeListsLayers) {
  // intermediate 384 is not a multiple of 256: every down_proj must be listed.
  auto r = recipe("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      ignore: [lm_head]\n      config_groups:\n"
                  "        g: {targets: [Linear], weights: {num_bits: 4, group_size: 256}}\n");
  try {
    make_plan(tiny_arch(), r);
    FAIL();
  } catch (const UserError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("model.layers.0.mlp.down_proj (in_features 384)"), std::string::npos) << m;
    EXPECT_NE(m.find("model.layers.2.mlp.down_proj"), std::string::npos);
    EXPECT_EQ(m.find("q_proj"), std::string::npos);
  }
}

TEST(Plan, SplitFusedProjectionsAreRefused) {
  auto r = recipe("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n"
                  "      ignore: [lm_head, model.layers.1.self_attn.k_proj]\n");
  EXPECT_THROW(make_plan(tiny_arch(), r), UserError);
}

TEST(Plan, EmbeddingTargetIsRefused) {
  auto r = recipe("s_stage:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n"
                  "      targets: [Linear, Embedding]\n      ignore: [lm_head]\n");
  EXPECT_THROW(make_plan(tiny_arch(), r), UserError);
}
