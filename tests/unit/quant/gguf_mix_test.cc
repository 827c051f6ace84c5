// llama-quantize's mixes, each expectation derived by hand from src/llama-quant.cpp (the
// compat test tests/compat/test_gguf_mix.py compares whole models with llama-quantize itself).
#include "quant/gguf_mix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"

using namespace lowbit;
using namespace lowbit::quant;
using nlohmann::json;
using T = GgmlType;

namespace {

model::Architecture arch(const std::string& name, int64_t hidden, int64_t ff, int64_t layers, int64_t heads,
                         int64_t kv_heads, int64_t vocab, bool tied = false) {
  json c{{"architectures", {name}},   {"hidden_size", hidden},          {"intermediate_size", ff},
         {"num_hidden_layers", layers}, {"num_attention_heads", heads}, {"num_key_value_heads", kv_heads},
         {"vocab_size", vocab},          {"tie_word_embeddings", tied}};
  return model::architecture_from_config(c, "config.json");
}

// Llama-2-7B's shapes; SmolLM2-135M's (576 wide: every row of 576 misses the 256-blocks).
model::Architecture llama7b(int64_t kv_heads = 32) { return arch("LlamaForCausalLM", 4096, 11008, 32, 32, kv_heads, 32000); }
model::Architecture smollm2() { return arch("LlamaForCausalLM", 576, 1536, 30, 9, 3, 49152, true); }

std::map<std::string, T> mix(const GgufMixModel& m, const std::string& ftype, const GgufMixOptions& o = {},
                             std::vector<std::string>* notes = nullptr) {
  const GgufMix r = choose_gguf_types(m, parse_gguf_ftype(ftype), o);
  std::map<std::string, T> out;
  for (const auto& t : r.tensors) out[t.name] = t.type;
  if (notes) *notes = r.notes;
  return out;
}

std::string blk(int i, const std::string& what) { return "blk." + std::to_string(i) + "." + what + ".weight"; }

std::set<int> layers_with(const std::map<std::string, T>& types, const std::string& what, T type, int n) {
  std::set<int> out;
  for (int i = 0; i < n; ++i)
    if (types.at(blk(i, what)) == type) out.insert(i);
  return out;
}

std::set<int> range(int a, int b) {
  std::set<int> s;
  for (int i = a; i < b; ++i) s.insert(i);
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(GgufMix, FtypeNames) {
  EXPECT_EQ(parse_gguf_ftype("q4_k_m").id, GgufFtype::MOSTLY_Q4_K_M);
  EXPECT_EQ(parse_gguf_ftype("Q4_K").name, "Q4_K_M");  // llama-quantize's aliases
  EXPECT_EQ(parse_gguf_ftype("q3_k").id, GgufFtype::MOSTLY_Q3_K_M);
  EXPECT_EQ(parse_gguf_ftype("Q5_K").default_type, T::Q5_K);
  EXPECT_EQ(parse_gguf_ftype("IQ3_M").default_type, T::IQ3_S);
  EXPECT_EQ(parse_gguf_ftype("IQ2_S").default_type, T::IQ2_XS);
  EXPECT_EQ(parse_gguf_ftype("MXFP4_MOE").default_type, T::MXFP4);
  EXPECT_EQ(uint32_t(parse_gguf_ftype("bf16").id), 32u);
  EXPECT_EQ(uint32_t(parse_gguf_ftype("F32").id), 0u);
  const std::string e = error_of([] { parse_gguf_ftype("Q4_K_X"); });
  EXPECT_NE(e.find("unknown GGUF type 'Q4_K_X'"), std::string::npos);
  EXPECT_NE(e.find("Q4_K_M"), std::string::npos);
  EXPECT_NE(e.find("IQ4_XS"), std::string::npos);
  EXPECT_THROW(parse_gguf_ftype("Q2_0"), UserError);  // fork-specific type: not offered
  EXPECT_THROW(parse_gguf_ftype("COPY"), UserError);
  std::set<std::string> names;
  for (const auto& f : gguf_ftypes()) EXPECT_TRUE(names.insert(std::string(f.name)).second);
  EXPECT_EQ(names.size(), 33u);
}

TEST(GgufMix, TensorTypeSpecs) {
  auto a = parse_gguf_tensor_type("re:.*down_proj=Q6_K");
  EXPECT_EQ(a.pattern, "re:.*down_proj");
  EXPECT_EQ(a.type, T::Q6_K);
  EXPECT_TRUE(a.lowbit_syntax());
  auto b = parse_gguf_tensor_type("attn_v=q8_0");
  EXPECT_EQ(b.pattern, "attn_v");
  EXPECT_EQ(b.type, T::Q8_0);
  EXPECT_FALSE(b.lowbit_syntax());
  EXPECT_FALSE(parse_gguf_tensor_type("blk\\.1\\.ffn_down=q5_k").lowbit_syntax());
  EXPECT_TRUE(parse_gguf_tensor_type("model.layers.0.mlp.down_proj=bf16").lowbit_syntax());
  EXPECT_TRUE(parse_gguf_tensor_type("lm_head=q8_0").lowbit_syntax());
  EXPECT_EQ(parse_gguf_tensor_type("re:(?=x)down=q4_0").pattern, "re:(?=x)down");  // split at the last '='
  EXPECT_THROW(parse_gguf_tensor_type("attn_v"), UserError);
  EXPECT_THROW(parse_gguf_tensor_type("=q8_0"), UserError);
  EXPECT_THROW(parse_gguf_tensor_type("attn_v="), UserError);
  EXPECT_NE(error_of([] { parse_gguf_tensor_type("attn_v=q9_9"); }).find("unknown ggml type 'q9_9'"),
            std::string::npos);
}

TEST(GgufMix, Q4KMOnLlama7B) {
  const auto m = gguf_mix_model(llama7b(), T::F16);
  const auto t = mix(m, "Q4_K_M");
  // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2
  const std::set<int> more = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  EXPECT_EQ(layers_with(t, "attn_v", T::Q6_K, 32), more);
  EXPECT_EQ(layers_with(t, "ffn_down", T::Q6_K, 32), more);
  EXPECT_EQ(layers_with(t, "attn_v", T::Q4_K, 32).size(), 16u);
  for (const char* w : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"})
    EXPECT_EQ(layers_with(t, w, T::Q4_K, 32), range(0, 32)) << w;
  EXPECT_EQ(t.at("output.weight"), T::Q6_K);
  EXPECT_EQ(t.at("token_embd.weight"), T::Q4_K);  // untied: the default type
  EXPECT_EQ(t.at("output_norm.weight"), T::F32);
  EXPECT_EQ(t.at("blk.5.attn_norm.weight"), T::F32);
  EXPECT_EQ(t.at("blk.5.ffn_norm.weight"), T::F32);
  EXPECT_EQ(t.size(), 2u + 1 + 32 * 9);
}

TEST(GgufMix, Q5KMAndQ6KAndQ8_0) {
  const auto m = gguf_mix_model(llama7b(), T::BF16);
  const auto t = mix(m, "Q5_K_M");
  EXPECT_EQ(layers_with(t, "attn_v", T::Q6_K, 32).size(), 16u);
  EXPECT_EQ(layers_with(t, "ffn_down", T::Q5_K, 32).size(), 16u);
  EXPECT_EQ(t.at("blk.4.attn_q.weight"), T::Q5_K);
  EXPECT_EQ(t.at("output.weight"), T::Q6_K);
  const auto q6 = mix(m, "Q6_K");
  for (const auto& [name, type] : q6) EXPECT_EQ(type, name.ends_with("norm.weight") ? T::F32 : T::Q6_K) << name;
  const auto q8 = mix(m, "Q8_0");
  EXPECT_EQ(q8.at("output.weight"), T::Q8_0);  // Q8_0's output stays Q8_0
  EXPECT_EQ(q8.at("blk.0.attn_v.weight"), T::Q8_0);
}

TEST(GgufMix, Q3KMQ3KLQ3KSAndQ4KS) {
  const auto m = gguf_mix_model(llama7b(), T::F16);
  const auto m3 = mix(m, "Q3_K_M");
  EXPECT_EQ(layers_with(m3, "attn_v", T::Q5_K, 32), range(0, 2));  // the first two attn_v
  EXPECT_EQ(layers_with(m3, "attn_v", T::Q4_K, 32), range(2, 32));
  EXPECT_EQ(layers_with(m3, "ffn_down", T::Q5_K, 32), range(0, 2));  // i < n/16
  EXPECT_EQ(layers_with(m3, "ffn_down", T::Q4_K, 32), range(2, 32));
  EXPECT_EQ(layers_with(m3, "attn_output", T::Q4_K, 32), range(0, 32));
  EXPECT_EQ(layers_with(m3, "attn_q", T::Q3_K, 32), range(0, 32));
  EXPECT_EQ(m3.at("output.weight"), T::Q6_K);
  const auto l3 = mix(m, "Q3_K_L");
  for (const char* w : {"attn_v", "ffn_down", "attn_output"}) EXPECT_EQ(layers_with(l3, w, T::Q5_K, 32), range(0, 32));
  EXPECT_EQ(l3.at("blk.0.ffn_up.weight"), T::Q3_K);
  const auto s3 = mix(m, "Q3_K_S");
  for (const char* w : {"attn_v", "ffn_down", "attn_output"}) EXPECT_EQ(layers_with(s3, w, T::Q3_K, 32), range(0, 32));
  EXPECT_EQ(s3.at("output.weight"), T::Q6_K);
  const auto s4 = mix(m, "Q4_K_S");
  EXPECT_EQ(layers_with(s4, "attn_v", T::Q5_K, 32), range(0, 4));  // the first four attn_v
  EXPECT_EQ(layers_with(s4, "ffn_down", T::Q5_K, 32), range(0, 4));  // i < n/8
  EXPECT_EQ(layers_with(s4, "attn_output", T::Q4_K, 32), range(0, 32));
}

TEST(GgufMix, Q2KDependsOnGqa) {
  const auto mha = mix(gguf_mix_model(llama7b(32), T::F16), "Q2_K");
  EXPECT_EQ(layers_with(mha, "attn_v", T::Q3_K, 32), range(0, 32));
  const auto gqa = mix(gguf_mix_model(llama7b(8), T::F16), "Q2_K");  // n_gqa = 4
  EXPECT_EQ(layers_with(gqa, "attn_v", T::Q4_K, 32), range(0, 32));
  EXPECT_EQ(layers_with(gqa, "ffn_down", T::Q3_K, 32), range(0, 32));
  EXPECT_EQ(layers_with(gqa, "attn_output", T::Q3_K, 32), range(0, 32));
  EXPECT_EQ(layers_with(gqa, "ffn_gate", T::Q2_K, 32), range(0, 32));
  EXPECT_EQ(gqa.at("output.weight"), T::Q6_K);
  const auto gqa2 = mix(gguf_mix_model(llama7b(16), T::F16), "Q2_K");  // n_gqa = 2
  EXPECT_EQ(gqa2.at("blk.0.attn_v.weight"), T::Q3_K);
}

TEST(GgufMix, ImatrixChangesLegacyAndIq4Rules) {
  const auto m = gguf_mix_model(llama7b(8), T::F16);
  GgufMixOptions with;
  with.has_imatrix = true;
  const auto q40 = mix(m, "Q4_0"), q40i = mix(m, "Q4_0", with);
  EXPECT_EQ(layers_with(q40, "ffn_down", T::Q4_0, 32), range(0, 32));
  EXPECT_EQ(layers_with(q40i, "ffn_down", T::Q4_1, 32), range(0, 4));
  EXPECT_EQ(q40.at("output.weight"), T::Q6_K);
  EXPECT_EQ(layers_with(mix(m, "Q5_0", with), "ffn_down", T::Q5_1, 32), range(0, 4));
  const auto iq4 = mix(m, "IQ4_XS"), iq4i = mix(m, "IQ4_XS", with);
  EXPECT_EQ(layers_with(iq4, "attn_v", T::Q5_K, 32), range(0, 32));  // n_gqa 4
  EXPECT_EQ(layers_with(iq4, "ffn_down", T::Q5_K, 32), range(0, 4));  // only without an imatrix
  EXPECT_EQ(layers_with(iq4i, "ffn_down", T::IQ4_XS, 32), range(0, 32));
  EXPECT_EQ(iq4.at("blk.9.attn_q.weight"), T::IQ4_XS);
  EXPECT_EQ(mix(m, "IQ4_NL").at("blk.9.attn_q.weight"), T::IQ4_NL);
}

TEST(GgufMix, LowBitIqMixesAndImatrixRequirement) {
  const auto m = gguf_mix_model(llama7b(32), T::F16);
  const GgufMix r = choose_gguf_types(m, parse_gguf_ftype("IQ2_XXS"), {});
  std::map<std::string, GgufTensorType> by;
  for (const auto& t : r.tensors) by[t.name] = t;
  EXPECT_EQ(by["output.weight"].type, T::Q5_K);
  EXPECT_EQ(by["token_embd.weight"].type, T::Q2_K);
  EXPECT_FALSE(by["token_embd.weight"].requires_imatrix);
  EXPECT_EQ(by["blk.0.attn_v.weight"].type, T::Q2_K);  // n_gqa 1
  EXPECT_EQ(by["blk.3.ffn_down.weight"].type, T::Q2_K);
  EXPECT_EQ(by["blk.4.ffn_down.weight"].type, T::IQ2_XXS);
  EXPECT_TRUE(by["blk.4.ffn_down.weight"].requires_imatrix);
  EXPECT_FALSE(by["blk.3.ffn_down.weight"].requires_imatrix);  // Q2_K needs one only in Q2_K_S
  EXPECT_TRUE(r.requires_imatrix());
  const auto iq1 = mix(m, "IQ1_M");
  EXPECT_EQ(iq1.at("blk.5.attn_output.weight"), T::IQ2_XXS);
  const auto iq2m = mix(m, "IQ2_M");
  EXPECT_EQ(iq2m.at("token_embd.weight"), T::IQ3_S);
  EXPECT_EQ(iq2m.at("blk.0.attn_v.weight"), T::IQ3_S);
  EXPECT_EQ(iq2m.at("blk.9.attn_q.weight"), T::IQ2_S);
  const auto iq3xxs = mix(m, "IQ3_XXS");
  EXPECT_EQ(iq3xxs.at("output.weight"), T::Q5_K);
  EXPECT_EQ(iq3xxs.at("blk.0.attn_v.weight"), T::IQ3_S);  // no imatrix
  EXPECT_EQ(iq3xxs.at("blk.0.attn_k.weight"), T::IQ2_S);
  EXPECT_EQ(iq3xxs.at("blk.0.ffn_down.weight"), T::Q4_K);
  EXPECT_EQ(iq3xxs.at("blk.4.ffn_down.weight"), T::Q3_K);
  const auto iq3xs = mix(m, "IQ3_XS");
  EXPECT_EQ(layers_with(iq3xs, "ffn_up", T::IQ3_XXS, 32), range(4, 28));  // n/8 <= i < 7n/8
  EXPECT_EQ(iq3xs.at("blk.0.ffn_up.weight"), T::IQ3_S);
  const auto q2ks = choose_gguf_types(m, parse_gguf_ftype("Q2_K_S"), {});
  EXPECT_TRUE(q2ks.requires_imatrix());
  EXPECT_FALSE(choose_gguf_types(m, parse_gguf_ftype("Q2_K"), {}).requires_imatrix());
}

TEST(GgufMix, SeventyBGetsQ5KAttnV) {
  // llama: 80 layers with grouped-query attention is "70B"; qwen2 with 80 layers too; qwen3 never.
  const auto l70 = mix(gguf_mix_model(arch("LlamaForCausalLM", 256, 512, 80, 8, 1, 64), T::F16), "Q4_K_M");
  EXPECT_EQ(layers_with(l70, "attn_v", T::Q4_K, 80), std::set<int>{});
  EXPECT_EQ(layers_with(l70, "attn_v", T::Q5_K, 80).size(), 40u);
  EXPECT_EQ(layers_with(l70, "ffn_down", T::Q4_K, 80).size(), 40u);  // ffn_down is not bumped
  const auto l65 = mix(gguf_mix_model(arch("LlamaForCausalLM", 256, 512, 80, 8, 8, 64), T::F16), "Q4_K_M");
  EXPECT_EQ(layers_with(l65, "attn_v", T::Q4_K, 80).size(), 40u);
  const auto q2 = mix(gguf_mix_model(arch("Qwen2ForCausalLM", 256, 512, 80, 8, 8, 64), T::F16), "Q3_K_M");
  EXPECT_EQ(layers_with(q2, "attn_v", T::Q5_K, 80), range(0, 80));
  const auto q3 = mix(gguf_mix_model(arch("Qwen3ForCausalLM", 256, 512, 80, 8, 1, 64), T::F16), "Q3_K_M");
  EXPECT_EQ(layers_with(q3, "attn_v", T::Q4_K, 80), range(2, 80));
}

TEST(GgufMix, SmolLM2ShapeFallsBack) {
  const auto m = gguf_mix_model(smollm2(), T::BF16);
  std::vector<std::string> notes;
  const auto t = mix(m, "Q4_K_M", {}, &notes);
  // tied: token_embd is the output; its 576-long rows miss Q4_K's 256-blocks -> Q8_0 (no fallback)
  EXPECT_EQ(t.count("output.weight"), 0u);
  EXPECT_EQ(t.at("token_embd.weight"), T::Q8_0);
  // use_more_bits(i, 30): i < 3, i >= 26, or (i - 3) % 3 == 2; Q6_K -> Q8_0, Q4_K -> Q5_0
  const std::set<int> more = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29};
  EXPECT_EQ(layers_with(t, "attn_v", T::Q8_0, 30), more);
  EXPECT_EQ(layers_with(t, "attn_v", T::Q5_0, 30).size(), 16u);
  // ffn_down's rows are 1536 = 6 x 256 long: no fallback
  EXPECT_EQ(layers_with(t, "ffn_down", T::Q6_K, 30), more);
  EXPECT_EQ(layers_with(t, "ffn_down", T::Q4_K, 30).size(), 16u);
  for (const char* w : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"})
    EXPECT_EQ(layers_with(t, w, T::Q5_0, 30), range(0, 30)) << w;
  EXPECT_EQ(notes.size(), 30u * 6);
  EXPECT_EQ(notes[0], "blk.0.attn_k.weight: row length 576 is not a multiple of 256 (q4_K): falling back to q5_0");
  // Q5_K -> Q5_1, Q3_K -> Q4_0, Q6_K -> Q8_0
  EXPECT_EQ(mix(m, "Q5_K_S").at("blk.3.attn_q.weight"), T::Q5_1);
  EXPECT_EQ(mix(m, "Q3_K_S").at("blk.3.attn_q.weight"), T::Q4_0);
  EXPECT_EQ(mix(m, "Q6_K").at("blk.3.attn_q.weight"), T::Q8_0);
  EXPECT_EQ(mix(m, "IQ4_XS").at("blk.3.attn_q.weight"), T::IQ4_NL);
  // Q4_0: 576 fills Q4_0's 32-blocks, so the output rule gives Q6_K, which falls back to Q8_0
  EXPECT_EQ(mix(m, "Q4_0").at("token_embd.weight"), T::Q8_0);
}

TEST(GgufMix, FallbackToF16AndNoFallback) {
  GgufMixModel m;
  m.arch = "llama";
  m.n_layer = 1;
  m.n_head = 1;
  m.n_head_kv = 1;
  m.tensors = {{"token_embd.weight", {256, 10}, T::F32, {}},
               {"blk.0.ffn_up.weight", {100, 8}, T::F32, {"model.layers.0.mlp.up_proj"}},
               {"blk.0.ffn_gate.weight", {64, 8}, T::F32, {"model.layers.0.mlp.gate_proj"}}};
  std::vector<std::string> notes;
  const auto t = mix(m, "Q4_K_M", {}, &notes);
  EXPECT_EQ(t.at("blk.0.ffn_up.weight"), T::F16);  // 100: neither Q4_K's 256 nor Q5_0's 32
  EXPECT_EQ(t.at("blk.0.ffn_gate.weight"), T::Q5_0);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[1], "blk.0.ffn_up.weight: row length 100 is not a multiple of 256 (q4_K): falling back to f16");
  EXPECT_EQ(mix(m, "Q8_0").at("blk.0.ffn_up.weight"), T::F16);  // 32-block types fall back to F16
  GgufMixOptions o;
  o.tensor_types = {parse_gguf_tensor_type("ffn_gate=q8_K")};
  EXPECT_NE(error_of([&] { mix(m, "Q4_K_M", o); }).find("q8_K has no fallback type"), std::string::npos);
}

TEST(GgufMix, PureAndOutputAndEmbeddingTypes) {
  const auto big = gguf_mix_model(llama7b(), T::F16);
  GgufMixOptions pure;
  pure.pure = true;
  for (const auto& [name, type] : mix(big, "Q4_K_M", pure))
    EXPECT_EQ(type, name.ends_with("norm.weight") ? T::F32 : T::Q4_K) << name;
  // --pure still falls back
  const auto small = gguf_mix_model(smollm2(), T::BF16);
  const auto ps = mix(small, "Q4_K_M", pure);
  EXPECT_EQ(ps.at("token_embd.weight"), T::Q5_0);
  EXPECT_EQ(ps.at("blk.0.ffn_down.weight"), T::Q4_K);

  GgufMixOptions out;
  out.output_type = T::Q8_0;
  out.token_embedding_type = T::Q4_0;
  const auto bo = mix(big, "Q4_K_M", out);
  EXPECT_EQ(bo.at("output.weight"), T::Q8_0);
  EXPECT_EQ(bo.at("token_embd.weight"), T::Q4_0);
  // tied: --token-embedding-type wins over the output rules
  EXPECT_EQ(mix(small, "Q4_K_M", out).at("token_embd.weight"), T::Q4_0);
  // tied with only --output-tensor-type: token_embd takes it through the mix rules, and so the
  // fallback; an untied output.weight takes it as it is
  GgufMixOptions o4;
  o4.output_type = T::Q4_K;
  EXPECT_EQ(mix(small, "Q4_K_M", o4).at("token_embd.weight"), T::Q5_0);
  auto untied = small;
  untied.tensors.push_back({"output.weight", {576, 49152}, T::BF16, {"lm_head"}});
  EXPECT_EQ(mix(untied, "Q4_K_M", o4).at("output.weight"), T::Q4_K);
  EXPECT_EQ(mix(untied, "Q4_K_M", o4).at("token_embd.weight"), T::Q5_0);  // untied: Q4_K, fallen back
  // the type options hold for float ftypes too; the mix rules do not run there
  const auto f16 = mix(big, "F16", out);
  EXPECT_EQ(f16.at("output.weight"), T::Q8_0);
  EXPECT_EQ(f16.at("blk.0.attn_v.weight"), T::F16);
  EXPECT_EQ(mix(big, "BF16").at("blk.0.attn_v.weight"), T::BF16);
  EXPECT_EQ(mix(big, "F32").at("token_embd.weight"), T::F32);
  GgufMixOptions leave;
  leave.leave_output_tensor = true;
  EXPECT_EQ(mix(big, "Q4_K_M", leave).at("output.weight"), T::F16);
}

TEST(GgufMix, LlamaCppOverridesSkipTheRulesAndTheCounters) {
  const auto m = gguf_mix_model(llama7b(), T::F16);
  GgufMixOptions all;
  all.tensor_types = {parse_gguf_tensor_type("ATTN_V=q8_0")};  // lowercased, searched in the GGUF name
  EXPECT_EQ(layers_with(mix(m, "Q4_K_M", all), "attn_v", T::Q8_0, 32), range(0, 32));
  // blk.0's attn_v is overridden, so it does not advance the attn_v counter: layer L uses L - 1
  GgufMixOptions one;
  one.tensor_types = {parse_gguf_tensor_type("blk\\.0\\.attn_v=q8_0")};
  const auto t = mix(m, "Q4_K_M", one);
  EXPECT_EQ(t.at("blk.0.attn_v.weight"), T::Q8_0);
  std::set<int> shifted;  // use_more_bits(L - 1, 32)
  for (int L = 1; L < 32; ++L) {
    const int i = L - 1;
    if (i < 4 || i >= 28 || (i - 4) % 3 == 2) shifted.insert(L);
  }
  EXPECT_EQ(layers_with(t, "attn_v", T::Q6_K, 32), shifted);
  // overrides apply only to a quantized ftype, and after --output-tensor-type
  EXPECT_EQ(mix(m, "F16", all).at("blk.0.attn_v.weight"), T::F16);
  GgufMixOptions out;
  out.output_type = T::Q5_K;
  out.tensor_types = {parse_gguf_tensor_type("output=q8_0")};
  EXPECT_EQ(mix(m, "Q4_K_M", out).at("output.weight"), T::Q5_K);
  EXPECT_EQ(mix(m, "Q4_K_M", out).at("output_norm.weight"), T::F32);  // 1-D: never quantized
  // the first matching pattern wins
  GgufMixOptions two;
  two.tensor_types = {parse_gguf_tensor_type("ffn=q5_k"), parse_gguf_tensor_type("ffn_down=q8_0")};
  EXPECT_EQ(mix(m, "Q4_K_M", two).at("blk.3.ffn_down.weight"), T::Q5_K);
}

TEST(GgufMix, LowbitOverridesOnHfPaths) {
  const auto m = gguf_mix_model(llama7b(), T::F16);
  GgufMixOptions down;
  down.tensor_types = {parse_gguf_tensor_type("re:.*down_proj=Q8_0")};
  EXPECT_EQ(layers_with(mix(m, "Q4_K_M", down), "ffn_down", T::Q8_0, 32), range(0, 32));
  // the counters advance as if the mix had run: no other layer moves
  GgufMixOptions one;
  one.tensor_types = {parse_gguf_tensor_type("model.layers.0.self_attn.v_proj=q8_0")};
  const auto t = mix(m, "Q4_K_M", one);
  EXPECT_EQ(t.at("blk.0.attn_v.weight"), T::Q8_0);
  EXPECT_EQ(layers_with(t, "attn_v", T::Q6_K, 32), (std::set<int>{1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}));
  // more specific than --output-tensor-type, and applied to float ftypes too
  GgufMixOptions head;
  head.output_type = T::Q5_K;
  head.tensor_types = {parse_gguf_tensor_type("lm_head=q8_0"), parse_gguf_tensor_type("re:model\\.layers\\.3\\.=q4_0")};
  EXPECT_EQ(mix(m, "Q4_K_M", head).at("output.weight"), T::Q8_0);
  const auto f = mix(m, "F16", head);
  EXPECT_EQ(f.at("output.weight"), T::Q8_0);
  EXPECT_EQ(f.at("blk.3.ffn_up.weight"), T::Q4_0);
  EXPECT_EQ(f.at("blk.3.attn_norm.weight"), T::F32);  // norms stay F32
  EXPECT_EQ(f.at("blk.4.ffn_up.weight"), T::F16);
  // a lowbit override still falls back on a 576-wide model; the tied embedding answers to lm_head
  const auto s = gguf_mix_model(smollm2(), T::BF16);
  GgufMixOptions sq;
  sq.tensor_types = {parse_gguf_tensor_type("re:.*q_proj=q6_k"), parse_gguf_tensor_type("lm_head=q4_K")};
  std::vector<std::string> notes;
  const auto st = mix(s, "Q8_0", sq, &notes);
  EXPECT_EQ(st.at("blk.7.attn_q.weight"), T::Q8_0);
  EXPECT_EQ(st.at("token_embd.weight"), T::Q5_0);
  EXPECT_EQ(notes.size(), 31u);
  // a pattern that matches nothing is a note, not an error
  GgufMixOptions none;
  none.tensor_types = {parse_gguf_tensor_type("model.layers.99.mlp.down_proj=q8_0"),
                       parse_gguf_tensor_type("ffn_nothing=q8_0")};
  const GgufMix r = choose_gguf_types(m, parse_gguf_ftype("Q4_K_M"), none);
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_EQ(r.notes[0], "--tensor-type 'model.layers.99.mlp.down_proj' applies to no tensor");
  EXPECT_EQ(r.notes[1], "--tensor-type 'ffn_nothing' applies to no tensor");
  GgufMixOptions bad;
  bad.tensor_types = {parse_gguf_tensor_type("re:model.(layers=q8_0")};
  EXPECT_THROW(choose_gguf_types(m, parse_gguf_ftype("Q4_K_M"), bad), UserError);
}

TEST(GgufMix, IgnoredModulesKeepTheirStoredType) {
  const auto m = gguf_mix_model(llama7b(), T::BF16);
  GgufMixOptions o;
  o.ignore = {"lm_head", "re:.*layers\\.0\\.mlp\\.down_proj"};
  o.output_type = T::Q8_0;
  o.tensor_types = {parse_gguf_tensor_type("re:.*down_proj=q8_0")};
  const auto t = mix(m, "Q4_K_M", o);
  EXPECT_EQ(t.at("output.weight"), T::BF16);
  EXPECT_EQ(t.at("blk.0.ffn_down.weight"), T::BF16);
  EXPECT_EQ(t.at("blk.1.ffn_down.weight"), T::Q8_0);
  // the ignored layer still counts: attn_v and ffn_down keep llama.cpp's layers
  const auto s = gguf_mix_model(smollm2(), T::F16);
  GgufMixOptions head;
  head.ignore = {"lm_head", "model.layers.0.mlp.down_proj", "Linear"};
  const GgufMix r = choose_gguf_types(s, parse_gguf_ftype("Q4_K_M"), head);
  std::map<std::string, T> by;
  for (const auto& x : r.tensors) by[x.name] = x.type;
  EXPECT_EQ(by["token_embd.weight"], T::F16);  // tied: the embedding is the head
  EXPECT_EQ(by["blk.0.ffn_down.weight"], T::F16);
  EXPECT_EQ(by["blk.3.ffn_down.weight"], T::Q4_K);
  EXPECT_EQ(by["blk.5.ffn_down.weight"], T::Q6_K);
  EXPECT_EQ(r.notes.back(), "ignore entry 'Linear' applies to no tensor");  // class names do not apply here
}

TEST(GgufMix, QwenBiasesNormsAndTiedOutput) {
  json c{{"architectures", {"Qwen3ForCausalLM"}}, {"hidden_size", 512}, {"intermediate_size", 1024},
         {"num_hidden_layers", 8}, {"num_attention_heads", 8}, {"num_key_value_heads", 2}, {"head_dim", 64},
         {"vocab_size", 1000}, {"tie_word_embeddings", true}};
  const auto q3 = mix(gguf_mix_model(model::architecture_from_config(c, "c"), T::BF16), "Q4_K_M");
  EXPECT_EQ(q3.at("blk.0.attn_q_norm.weight"), T::F32);
  EXPECT_EQ(q3.at("token_embd.weight"), T::Q6_K);  // tied, rows fit: the output's Q6_K
  EXPECT_EQ(layers_with(q3, "attn_v", T::Q6_K, 8), (std::set<int>{0, 3, 6, 7}));  // use_more_bits(i, 8)
  c["architectures"] = {"Qwen2ForCausalLM"};
  c.erase("head_dim");
  const auto a2 = model::architecture_from_config(c, "c");
  const GgufMixModel m2 = gguf_mix_model(a2, T::F16);
  const auto bias = std::find_if(m2.tensors.begin(), m2.tensors.end(),
                                 [](const auto& t) { return t.name == "blk.0.attn_q.bias"; });
  ASSERT_NE(bias, m2.tensors.end());
  EXPECT_EQ(bias->type, T::F32);
  EXPECT_EQ(bias->ne, (std::vector<int64_t>{512}));
  EXPECT_EQ(mix(m2, "Q4_K_M").at("blk.0.attn_q.bias"), T::F32);
  EXPECT_EQ(mix(m2, "MXFP4_MOE").at("blk.0.attn_q.weight"), T::Q8_0);  // dense: everything Q8_0
  EXPECT_EQ(mix(m2, "MXFP4_MOE").at("token_embd.weight"), T::Q8_0);
}

TEST(GgufMix, ExpertRules) {
  // an 8-expert llama-arch model (Mixtral's layout): attn_v and attn_k Q8_0, attn_output Q5_K,
  // expert tensors (3-D) MXFP4 in MXFP4_MOE, ffn_down's layer read from the name.
  GgufMixModel m;
  m.arch = "llama";
  m.n_layer = 32;
  m.n_head = 32;
  m.n_head_kv = 8;
  m.n_expert = 8;
  for (int i = 0; i < 32; ++i) {
    for (const char* w : {"attn_q", "attn_k", "attn_v", "attn_output"})
      m.tensors.push_back({blk(i, w), {4096, 4096}, T::F16, {}});
    m.tensors.push_back({"blk." + std::to_string(i) + ".ffn_down_exps.weight", {14336, 4096, 8}, T::F16, {}});
    m.tensors.push_back({"blk." + std::to_string(i) + ".ffn_gate_inp.weight", {4096, 8}, T::F32, {}});
  }
  const auto q4 = mix(m, "Q4_K_M");
  EXPECT_EQ(layers_with(q4, "attn_v", T::Q8_0, 32), range(0, 32));
  EXPECT_EQ(layers_with(q4, "attn_k", T::Q8_0, 32), range(0, 32));
  EXPECT_EQ(layers_with(q4, "attn_output", T::Q5_K, 32), range(0, 32));
  EXPECT_EQ(q4.at("blk.6.ffn_down_exps.weight"), T::Q6_K);
  EXPECT_EQ(q4.at("blk.7.ffn_down_exps.weight"), T::Q4_K);
  EXPECT_EQ(q4.at("blk.7.ffn_gate_inp.weight"), T::F32);  // the router is never quantized
  EXPECT_EQ(mix(m, "Q3_K_L").at("blk.0.attn_output.weight"), T::Q3_K);  // not among the 8-expert Q5_K ftypes
  const auto mx = mix(m, "MXFP4_MOE");
  EXPECT_EQ(mx.at("blk.0.ffn_down_exps.weight"), T::MXFP4);
  EXPECT_EQ(mx.at("blk.0.attn_v.weight"), T::Q8_0);
  m.tensors.push_back({"ffn_down_orphan.weight", {4096, 4096}, T::F16, {}});
  EXPECT_NE(error_of([&] { mix(m, "Q4_K_M"); }).find("cannot tell the layer of tensor 'ffn_down_orphan.weight'"),
            std::string::npos);
}

TEST(GgufMix, BadModels) {
  GgufMixModel m;
  m.arch = "falcon";
  m.n_layer = 1;
  m.n_head = 1;
  EXPECT_NE(error_of([&] { mix(m, "Q4_0"); }).find("architecture 'falcon' is not supported"), std::string::npos);
  m.arch = "llama";
  m.tensors = {{"blk.0.attn_q.weight", {}, T::F16, {}}};
  EXPECT_NE(error_of([&] { mix(m, "Q4_0"); }).find("has no shape"), std::string::npos);
  m.tensors.clear();
  m.n_layer = 0;
  EXPECT_THROW(mix(m, "Q4_0"), UserError);
  EXPECT_THROW(gguf_mix_model(llama7b(), T::Q8_0), UserError);
}
