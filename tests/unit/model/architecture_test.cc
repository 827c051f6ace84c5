#include "model/architecture.h"

#include <gtest/gtest.h>

#include "core/error.h"

using namespace lowbit;
using nlohmann::json;

static json cfg(const std::string& arch) {
  return {{"architectures", {arch}}, {"hidden_size", 64},  {"intermediate_size", 128}, {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"vocab_size", 100}};
}

TEST(Architecture, LlamaModuleTreeUsesHfNames) {
  auto a = model::architecture_from_config(cfg("LlamaForCausalLM"), "c");
  EXPECT_EQ(a.linears().size(), 2u * 7 + 1);
  const auto* m = a.find_module("model.layers.1.mlp.down_proj");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->classes[0], "Linear");
  EXPECT_EQ(m->in_features, 128);
  EXPECT_EQ(m->out_features, 64);
  EXPECT_EQ(a.find_module("model.layers.0")->classes[0], "LlamaDecoderLayer");
  EXPECT_EQ(a.find_module("model.embed_tokens")->classes[0], "Embedding");
  EXPECT_EQ(a.find_module("model.layers.0.self_attn.k_proj")->out_features, 32);  // 2 kv heads x 16
  EXPECT_EQ(a.params.back().name, "lm_head.weight");
}

TEST(Architecture, Qwen2BiasesQwen3NormsTiedHead) {
  auto q2 = model::architecture_from_config(cfg("Qwen2ForCausalLM"), "c");
  EXPECT_TRUE(q2.find_module("model.layers.0.self_attn.q_proj")->has_bias);
  EXPECT_FALSE(q2.find_module("model.layers.0.self_attn.o_proj")->has_bias);
  json c3 = cfg("Qwen3ForCausalLM");
  c3["head_dim"] = 32;
  c3["tie_word_embeddings"] = true;
  auto q3 = model::architecture_from_config(c3, "c");
  EXPECT_EQ(q3.find_module("model.layers.0.self_attn.q_norm")->classes[0], "Qwen3RMSNorm");
  EXPECT_EQ(q3.find_module("model.layers.0.self_attn.q_proj")->out_features, 128);  // 4 heads x head_dim 32
  for (const auto& p : q3.params) EXPECT_NE(p.name, "lm_head.weight");  // tied: no separate tensor
  EXPECT_TRUE(q3.find_module("lm_head"));
}

TEST(Architecture, UnknownArchitectureAndMissingKeys) {
  try {
    model::architecture_from_config(cfg("GPT2LMHeadModel"), "config.json");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported architecture 'GPT2LMHeadModel'"), std::string::npos);
  }
  json c = cfg("LlamaForCausalLM");
  c.erase("hidden_size");
  EXPECT_THROW(model::architecture_from_config(c, "config.json"), UserError);
}
