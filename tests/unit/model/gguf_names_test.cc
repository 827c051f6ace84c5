#include "model/gguf_names.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "core/error.h"

using namespace lowbit;
using namespace lowbit::model;
using nlohmann::json;

static json cfg(const std::string& arch) {
  return {{"architectures", {arch}}, {"hidden_size", 64},  {"intermediate_size", 128}, {"num_hidden_layers", 12},
          {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"vocab_size", 100}};
}

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GgufNames, ArchStrings) {
  EXPECT_EQ(gguf_arch("LlamaForCausalLM"), "llama");
  EXPECT_EQ(gguf_arch("MistralForCausalLM"), "llama");  // convert_hf_to_gguf.py writes Mistral as llama
  EXPECT_EQ(gguf_arch("Qwen2ForCausalLM"), "qwen2");
  EXPECT_EQ(gguf_arch("Qwen3ForCausalLM"), "qwen3");
  EXPECT_NE(error_of([] { gguf_arch("GPT2LMHeadModel"); }).find("'GPT2LMHeadModel' has no GGUF mapping"),
            std::string::npos);
  EXPECT_EQ(gguf_archs(), (std::vector<std::string>{"llama", "qwen2", "qwen3"}));
  EXPECT_TRUE(is_gguf_arch("qwen3"));
  EXPECT_FALSE(is_gguf_arch("falcon"));
}

TEST(GgufNames, EveryRowBothWays) {
  const std::vector<std::pair<std::string, std::string>> llama = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.7.input_layernorm.weight", "blk.7.attn_norm.weight"},
      {"model.layers.7.self_attn.q_proj.weight", "blk.7.attn_q.weight"},
      {"model.layers.7.self_attn.k_proj.weight", "blk.7.attn_k.weight"},
      {"model.layers.7.self_attn.v_proj.weight", "blk.7.attn_v.weight"},
      {"model.layers.7.self_attn.o_proj.weight", "blk.7.attn_output.weight"},
      {"model.layers.7.post_attention_layernorm.weight", "blk.7.ffn_norm.weight"},
      {"model.layers.7.mlp.gate_proj.weight", "blk.7.ffn_gate.weight"},
      {"model.layers.7.mlp.up_proj.weight", "blk.7.ffn_up.weight"},
      {"model.layers.7.mlp.down_proj.weight", "blk.7.ffn_down.weight"},
      {"model.layers.12.self_attn.q_proj.bias", "blk.12.attn_q.bias"},
      {"model.layers.0.self_attn.o_proj.bias", "blk.0.attn_output.bias"},
      {"model.layers.3.mlp.down_proj.bias", "blk.3.ffn_down.bias"},
  };
  for (const auto& [hf, gguf] : llama) {
    EXPECT_EQ(gguf_tensor_name("llama", hf), gguf) << hf;
    EXPECT_EQ(hf_tensor_name("llama", gguf), hf) << gguf;
  }
  EXPECT_EQ(gguf_tensor_name("qwen3", "model.layers.2.self_attn.q_norm.weight"), "blk.2.attn_q_norm.weight");
  EXPECT_EQ(gguf_tensor_name("qwen3", "model.layers.2.self_attn.k_norm.weight"), "blk.2.attn_k_norm.weight");
  EXPECT_EQ(hf_tensor_name("qwen3", "blk.2.attn_k_norm.weight"), "model.layers.2.self_attn.k_norm.weight");
  EXPECT_EQ(gguf_tensor_name("qwen2", "model.layers.1.self_attn.v_proj.bias"), "blk.1.attn_v.bias");
}

TEST(GgufNames, NamesLlamaCppDoesNotReadAreUserErrors) {
  // qwen3 and qwen2 read no attn_output or MLP bias; llama and qwen2 have no q/k norms.
  EXPECT_NE(error_of([] { gguf_tensor_name("qwen3", "model.layers.0.self_attn.o_proj.bias"); })
                .find("has no place in llama.cpp's qwen3 model (blk.0.attn_output.bias is read for llama only)"),
            std::string::npos);
  EXPECT_THROW(gguf_tensor_name("qwen2", "model.layers.0.mlp.up_proj.bias"), UserError);
  EXPECT_THROW(gguf_tensor_name("llama", "model.layers.0.self_attn.q_norm.weight"), UserError);
  EXPECT_THROW(hf_tensor_name("qwen2", "blk.0.attn_q_norm.weight"), UserError);
  EXPECT_THROW(gguf_tensor_name("llama", "model.norm.bias"), UserError);
  // unknown modules and malformed layer numbers
  EXPECT_NE(error_of([] { gguf_tensor_name("llama", "model.layers.0.mlp.fc1.weight"); })
                .find("Hugging Face tensor 'model.layers.0.mlp.fc1.weight' has no GGUF name for llama.cpp's llama"),
            std::string::npos);
  EXPECT_THROW(gguf_tensor_name("llama", "model.layers.01.mlp.up_proj.weight"), UserError);
  EXPECT_THROW(gguf_tensor_name("llama", "model.layers.x.mlp.up_proj.weight"), UserError);
  EXPECT_THROW(gguf_tensor_name("llama", "model.layers..mlp.up_proj.weight"), UserError);
  EXPECT_THROW(gguf_tensor_name("llama", "model.embed_tokens"), UserError);
  EXPECT_THROW(gguf_tensor_name("llama", "model.embed_tokens.scale"), UserError);
  EXPECT_THROW(hf_tensor_name("llama", "blk.-1.attn_q.weight"), UserError);
  EXPECT_THROW(hf_tensor_name("llama", "token_embd"), UserError);
  EXPECT_NE(error_of([] { hf_tensor_name("llama", "rope_freqs.weight"); }).find("no Hugging Face tensor"),
            std::string::npos);
  EXPECT_NE(error_of([] { gguf_tensor_name("falcon", "lm_head.weight"); })
                .find("GGUF architecture 'falcon' is not supported (supported: llama, qwen2, qwen3)"),
            std::string::npos);
}

TEST(GgufNames, EveryParameterOfEveryArchitectureRoundTrips) {
  for (const char* arch : {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    for (bool tied : {false, true}) {
      json c = cfg(arch);
      c["tie_word_embeddings"] = tied;
      const auto a = architecture_from_config(c, "c");
      const auto tensors = gguf_tensors(a);
      ASSERT_EQ(tensors.size(), a.params.size()) << arch;
      std::set<std::string> seen;
      for (size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        EXPECT_EQ(t.hf, a.params[i].name);
        EXPECT_EQ(hf_tensor_name(gguf_arch(a), t.gguf), t.hf);
        EXPECT_EQ(t.ne, std::vector<int64_t>(a.params[i].shape.rbegin(), a.params[i].shape.rend()));
        EXPECT_TRUE(seen.insert(t.gguf).second) << t.gguf;
      }
      EXPECT_EQ(seen.count("output.weight"), tied ? 0u : 1u) << arch;
      EXPECT_EQ(seen.count("blk.11.attn_q_norm.weight"), std::string(arch) == "Qwen3ForCausalLM" ? 1u : 0u);
      EXPECT_EQ(seen.count("blk.11.attn_q.bias"), std::string(arch) == "Qwen2ForCausalLM" ? 1u : 0u);
    }
  }
}

TEST(GgufNames, GgmlShapesAndRopeFreqs) {
  json c = cfg("LlamaForCausalLM");
  auto a = architecture_from_config(c, "c");
  const auto plain = gguf_tensors(a);
  EXPECT_EQ(plain.front().gguf, "token_embd.weight");
  EXPECT_EQ(plain.front().ne, (std::vector<int64_t>{64, 100}));  // {n_embd, n_vocab}
  for (const auto& t : plain) EXPECT_NE(t.gguf, "rope_freqs.weight");
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  a = architecture_from_config(c, "c");
  const auto scaled = gguf_tensors(a);
  ASSERT_EQ(scaled.size(), plain.size() + 1);
  EXPECT_EQ(scaled.back().gguf, "rope_freqs.weight");
  EXPECT_EQ(scaled.back().hf, "");
  EXPECT_EQ(scaled.back().ne, (std::vector<int64_t>{8}));  // head_dim 16 / 2
  // the ffn_down weight is {n_ff, n_embd} in ggml order
  const auto down = std::find_if(plain.begin(), plain.end(), [](const auto& t) { return t.gguf == "blk.3.ffn_down.weight"; });
  ASSERT_NE(down, plain.end());
  EXPECT_EQ(down->ne, (std::vector<int64_t>{128, 64}));
}
