// The GGUF reader: the Q/K row un-permutation against the converter's permutation
// (pipeline/gguf_export) and against rows worked out by hand, and GgufWeights' Linears (rows
// decoded tile by tile from the map) against the whole-tensor decoder on a file of many types.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "engine/ggml_linear.h"
#include "export/gguf_model.h"
#include "io/gguf.h"
#include "model/architecture.h"
#include "model/gguf_names.h"
#include "numerics/ggml_quants.h"
#include "pipeline/gguf_export.h"
#include "temp_path.h"

namespace lowbit {
namespace {

TEST(GgufModel, UnpermuteUndoesTheConvertersRopePermutation) {
  // One head of 4 rows: the converter writes HF rows (0, 1, 2, 3) as (0, 2, 1, 3).
  std::vector<float> w = {0, 2, 1, 3};
  exporter::unpermute_rope_rows(w.data(), 4, 1, 1);
  EXPECT_EQ(w, (std::vector<float>{0, 1, 2, 3}));
  // Two heads of 6 rows, 3 columns: (0 3 1 4 2 5) per head, rows moved whole.
  std::vector<float> x(12 * 3);
  std::iota(x.begin(), x.end(), 0.0f);
  std::vector<float> p = x;
  pipeline::permute_rope_rows(p.data(), 12, 3, 2);
  EXPECT_EQ(p[1 * 3], x[3 * 3]);   // row 1 of the file is HF row half + 0
  EXPECT_EQ(p[7 * 3 + 2], x[9 * 3 + 2]);
  exporter::unpermute_rope_rows(p.data(), 12, 3, 2);
  EXPECT_EQ(p, x);
  EXPECT_THROW(exporter::unpermute_rope_rows(p.data(), 12, 3, 5), UserError);
}

// A two-layer llama with a tied head whose tensors take many GGUF types: quantized ones, and
// plain ones with and without the Q/K permutation. The values are random normals written as
// the converter does (Q/K rows permuted, then encoded).
struct GgufFixture {
  model::Architecture arch;
  std::map<std::string, std::vector<float>> hf;  // the values before encoding, HF row order
  std::filesystem::path path;
};

GgufFixture write_many_types() {
  const nlohmann::json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 256},
                              {"intermediate_size", 512}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                              {"num_key_value_heads", 2}, {"vocab_size", 64}, {"tie_word_embeddings", true}};
  GgufFixture fx{model::architecture_from_config(cfg, "c"), {}, fixtures::temp_path("many-types.gguf")};
  const std::map<std::string, GgmlType> types = {
      {"model.embed_tokens.weight", GgmlType::Q4_0},  // also the tied head
      {"model.layers.0.self_attn.q_proj.weight", GgmlType::Q4_K},
      {"model.layers.0.self_attn.k_proj.weight", GgmlType::BF16},
      {"model.layers.0.self_attn.v_proj.weight", GgmlType::Q8_0},
      {"model.layers.0.self_attn.o_proj.weight", GgmlType::Q6_K},
      {"model.layers.0.mlp.gate_proj.weight", GgmlType::IQ4_XS},
      {"model.layers.0.mlp.up_proj.weight", GgmlType::F16},
      {"model.layers.0.mlp.down_proj.weight", GgmlType::Q5_K},
      {"model.layers.1.self_attn.q_proj.weight", GgmlType::F32},
      {"model.layers.1.self_attn.k_proj.weight", GgmlType::Q8_0},
      {"model.layers.1.self_attn.v_proj.weight", GgmlType::Q4_0},
      {"model.layers.1.self_attn.o_proj.weight", GgmlType::Q4_K},
      {"model.layers.1.mlp.gate_proj.weight", GgmlType::Q5_0},
      {"model.layers.1.mlp.up_proj.weight", GgmlType::Q2_K},
      {"model.layers.1.mlp.down_proj.weight", GgmlType::Q3_K},
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  io::GgufWriter w(fx.path);
  std::vector<std::pair<std::string, std::vector<uint8_t>>> bytes;
  for (const model::Param& p : fx.arch.params) {
    if (p.name == "lm_head.weight") continue;  // tied
    const int64_t rows = p.shape[0], cols = p.shape.size() > 1 ? p.shape[1] : 1;
    std::vector<float>& v = fx.hf[p.name];
    v.resize(size_t(rows * cols));
    for (float& x : v) x = p.shape.size() == 1 ? 1.0f + normal(rng) : normal(rng);
    std::vector<float> file = v;
    const int64_t heads = p.name.find("q_proj") != std::string::npos   ? fx.arch.heads
                          : p.name.find("k_proj") != std::string::npos ? fx.arch.kv_heads
                                                                       : 0;
    if (heads) pipeline::permute_rope_rows(file.data(), rows, cols, heads);
    const auto it = types.find(p.name);
    const GgmlType t = it == types.end() ? GgmlType::F32 : it->second;
    std::vector<uint8_t> b(size_t(rows * *ggml_row_bytes(t, cols)));
    ggml_quantize_rows(t, file.data(), b.data(), rows, cols, nullptr);
    const std::string name = model::gguf_tensor_name("llama", p.name);
    w.add_tensor(name, std::vector<int64_t>(p.shape.rbegin(), p.shape.rend()), t);
    bytes.emplace_back(name, std::move(b));
  }
  for (const auto& [name, b] : bytes) w.write_tensor(name, b.data(), b.size());
  w.finish();
  return fx;
}

TEST(GgufWeights, LinearsDecodeTheirRowsAsTheWholeTensorDecoderDoes) {
  const GgufFixture fx = write_many_types();
  const io::GgufFile f(fx.path);
  const exporter::GgufWeights w(f, "llama", fx.arch);
  std::map<std::string, exporter::GgufParam> params;
  for (auto& p : exporter::gguf_params(f, "llama", fx.arch)) params.emplace(p.hf, p);
  int tiled = 0, permuted = 0;
  for (const model::Module* m : fx.arch.linears()) {
    SCOPED_TRACE(m->path);
    const std::string name = m->path == "lm_head" ? "model.embed_tokens.weight" : m->path + ".weight";
    const exporter::GgufParam& p = params.at(name);
    const std::vector<float> whole = exporter::gguf_param_f32(f, p);
    const auto lin = w.linear(*m);
    const int64_t rows = lin->out(), cols = lin->in();
    ASSERT_EQ(size_t(rows * cols), whole.size());
    // Quantized types decode their blocks (GgmlLinear), F32/F16/BF16 are read from the map as
    // they lie (DenseLinear), and llama's Q/K of either kind go through the row map.
    const GgmlType t = p.tensor->type;
    const bool plain = t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
    EXPECT_EQ(dynamic_cast<const exporter::RopeRowsLinear*>(lin.get()) != nullptr, p.rope_heads > 0);
    if (p.rope_heads == 0) {
      EXPECT_EQ(dynamic_cast<const engine::GgmlLinear*>(lin.get()) != nullptr, !plain);
      EXPECT_EQ(dynamic_cast<const engine::DenseLinear*>(lin.get()) != nullptr, plain);
    }
    tiled += !plain, permuted += p.rope_heads > 0;
    // Rows in ranges that start and end mid-head, then all of them: bit for bit the whole decode.
    for (const auto& [r0, r1] : std::vector<std::pair<int64_t, int64_t>>{{3, 40}, {31, 33}, {0, rows}}) {
      std::vector<float> got(size_t((r1 - r0) * cols));
      lin->rows_f32(r0, r1, got.data());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), whole.begin() + r0 * cols)) << r0 << ".." << r1;
    }
    // A float32 tensor comes back exactly: the un-permutation put every HF row where it was.
    if (t == GgmlType::F32) {
      std::vector<float> got(size_t(rows * cols));
      lin->rows_f32(0, rows, got.data());
      EXPECT_EQ(got, fx.hf.at(name));
    }
    // The products (few tokens: dot products; many: tiles and sgemm) equal a dense Linear on the
    // whole decode, so the logits are those of the float32 copy this replaces.
    engine::DenseLinear dense(whole.data(), DType::F32, cols, rows);
    for (int64_t tokens : {2, 9}) {
      std::vector<float> x(size_t(tokens * cols)), a(size_t(tokens * rows)), b(a.size());
      std::mt19937 rng{uint32_t(tokens)};
      std::normal_distribution<float> normal;
      for (float& v : x) v = normal(rng);
      lin->forward(x.data(), tokens, a.data());
      dense.forward(x.data(), tokens, b.data());
      EXPECT_EQ(a, b) << tokens << " tokens";
    }
  }
  EXPECT_EQ(tiled, 11 + 1);  // 11 quantized Linears and the tied head (Q4_0)
  EXPECT_EQ(permuted, 4);
  // No Linear left a float32 copy behind; the quantized embedding is the one decoded tensor
  // (the engine reads it through a DType view), and release() drops it.
  EXPECT_EQ(w.decoded_bytes(), 0u);
  const model::Module& embed = fx.arch.module("model.embed_tokens");
  const engine::TensorView e = w.dense_weight(embed);
  EXPECT_EQ(e.dtype, DType::F32);
  EXPECT_EQ(w.decoded_bytes(), size_t(64 * 256 * sizeof(float)));
  EXPECT_EQ(w.dense_weight(fx.arch.module("model.norm")).dtype, DType::F32);  // from the map
  EXPECT_EQ(w.decoded_bytes(), size_t(64 * 256 * sizeof(float)));
  w.release(embed);
  EXPECT_EQ(w.decoded_bytes(), 0u);
}

TEST(GgufWeights, RopeRowsLinearMapsRowsByHandAndRejectsOddHeads) {
  // Two heads of 4 rows, 1 column, stored as the converter writes them: per head HF rows
  // (0, 1, 2, 3) at (0, 2, 1, 3).
  const std::vector<float> stored = {0, 2, 1, 3, 4, 6, 5, 7};
  exporter::RopeRowsLinear lin(std::make_unique<engine::DenseLinear>(stored.data(), DType::F32, 1, 8), 2);
  std::vector<float> got(5);
  lin.rows_f32(1, 6, got.data());
  EXPECT_EQ(got, (std::vector<float>{1, 2, 3, 4, 5}));
  // 8 rows do not split into 3 heads, nor into 8 heads of even size.
  for (int64_t heads : {3, 8, 0})
    EXPECT_THROW(
        exporter::RopeRowsLinear(std::make_unique<engine::DenseLinear>(stored.data(), DType::F32, 1, 8), heads),
        UserError);
}

}  // namespace
}  // namespace lowbit
