#include "engine/transformer.h"

#include <gtest/gtest.h>

#include "temp_path.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "export/load_model.h"
#include "io/model_dir.h"
#include "numerics/half.h"
#include "tiny_model.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {
using Net = std::unique_ptr<exporter::LoadedModel>;

fs::path tiny_dir(const std::string& arch_name) {
  fixtures::TinyModelSpec s;
  s.arch = arch_name;
  s.hidden = 128, s.intermediate = 256, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.vocab = 300;
  const fs::path dir = fixtures::temp_path("transformer-" + arch_name);
  fs::remove_all(dir);
  fixtures::write_tiny_model(dir, s);
  return dir;
}

Net tiny(const std::string& arch_name, engine::Residency r = engine::Residency::AllLayers) {
  return exporter::load_model(tiny_dir(arch_name), r);
}

std::vector<int32_t> tokens(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back((i * 37 + 11) % 300);
  return t;
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}
}  // namespace

class TransformerArch : public ::testing::TestWithParam<std::string> {};

TEST_P(TransformerArch, TruncatedKvCacheContinuesAsIfTheDroppedTokensNeverRan) {
  // A 20-token prefix, one 7-token branch run and forgotten, then another branch: its logits
  // equal those of prefix + branch from scratch, bit for bit (same rows, same kernels).
  Net n = tiny(GetParam());
  const auto t = tokens(40);
  const std::vector<int32_t> prefix(t.begin(), t.begin() + 20), a(t.begin() + 20, t.begin() + 27),
      b(t.begin() + 30, t.begin() + 39);
  engine::KVCache cache;
  n->net->forward(prefix, 19, cache);
  n->net->forward(a, 0, cache);
  EXPECT_EQ(cache.positions, 27);
  cache.truncate(20);
  EXPECT_EQ(cache.positions, 20);
  const auto branch = n->net->forward(b, 0, cache);
  engine::KVCache fresh;
  n->net->forward(prefix, 19, fresh);
  EXPECT_EQ(branch, n->net->forward(b, 0, fresh));
  EXPECT_THROW(cache.truncate(30), std::logic_error);
  cache.truncate(0);
  EXPECT_EQ(cache.positions, 0);
  EXPECT_TRUE(cache.layers[0].k.empty());
}

TEST_P(TransformerArch, BranchesInOnePassEqualEachBranchFromTheCache) {
  // Three continuations of a 30-token prefix (one of 70 tokens: two attention blocks) in one
  // pass, against each run on its own from the cache; and from an empty cache.
  Net n = tiny(GetParam());
  const auto t = tokens(120);
  const std::vector<int32_t> prefix(t.begin(), t.begin() + 30);
  const std::vector<std::vector<int32_t>> branches = {
      {t.begin() + 30, t.begin() + 35}, {t.begin() + 40, t.begin() + 110}, {t.begin() + 110, t.begin() + 111}};
  const int64_t V = n->arch.vocab;
  for (bool with_prefix : {true, false}) {
    engine::KVCache cache;
    if (with_prefix) n->net->forward(prefix, 29, cache);
    const auto kv_before = cache.layers.empty() ? std::vector<float>() : cache.layers[1].k;
    const auto together = n->net->forward_branches(branches, cache);
    EXPECT_EQ(cache.positions, with_prefix ? 30 : 0);
    if (with_prefix) {
      EXPECT_EQ(cache.layers[1].k, kv_before);  // the cache is left as it was
    }
    std::vector<float> apart;
    for (const auto& b : branches) {
      const auto one = n->net->forward(b, 0, cache);
      apart.insert(apart.end(), one.begin(), one.end());
      cache.truncate(with_prefix ? 30 : 0);
    }
    ASSERT_EQ(together.size(), apart.size());
    ASSERT_EQ(together.size(), size_t(76 * V));
    const float tol = 1e-4f * max_abs(apart);
    for (size_t i = 0; i < apart.size(); ++i) ASSERT_NEAR(together[i], apart[i], tol) << "row " << i / size_t(V);
  }
}

TEST_P(TransformerArch, BranchRowsRunTheHeadOnlyOnTheRowsAsked) {
  // The three branches above after a 30-token prefix (76 rows): the logits of rows named in any
  // order, with a repeat, are those rows of the all-rows call. Up to float rounding: OpenBLAS's
  // sgemm sums a row in an order that depends on its place in the batch (76 rows against 7).
  Net n = tiny(GetParam());
  const auto t = tokens(120);
  const std::vector<int32_t> prefix(t.begin(), t.begin() + 30);
  const std::vector<std::vector<int32_t>> branches = {
      {t.begin() + 30, t.begin() + 35}, {t.begin() + 40, t.begin() + 110}, {t.begin() + 110, t.begin() + 111}};
  const size_t V = size_t(n->arch.vocab);
  engine::KVCache cache;
  n->net->forward(prefix, 29, cache);
  const auto kv_before = cache.layers[1].k;
  const auto full = n->net->forward_branches(branches, cache);
  const std::vector<int64_t> rows = {75, 0, 4, 5, 40, 74, 4};
  const auto some = n->net->forward_branches(branches, cache, rows);
  EXPECT_EQ(cache.positions, 30);
  EXPECT_EQ(cache.layers[1].k, kv_before);
  ASSERT_EQ(some.size(), rows.size() * V);
  const float tol = 1e-5f * max_abs(full);
  for (size_t k = 0; k < rows.size(); ++k)
    for (size_t v = 0; v < V; ++v) ASSERT_NEAR(some[k * V + v], full[size_t(rows[k]) * V + v], tol) << "row " << rows[k];
  // Four rows or fewer in both calls take the same few-token kernel, whose dot products do not
  // depend on the other rows: the same bits.
  const std::vector<std::vector<int32_t>> short_ones = {{t[3], t[4]}, {t[5]}};
  const auto all3 = n->net->forward_branches(short_ones, cache);
  const auto two = n->net->forward_branches(short_ones, cache, {2, 0});
  ASSERT_EQ(two.size(), 2 * V);
  EXPECT_TRUE(std::equal(two.begin(), two.begin() + long(V), all3.begin() + 2 * long(V)));
  EXPECT_TRUE(std::equal(two.begin() + long(V), two.end(), all3.begin()));
  EXPECT_TRUE(n->net->forward_branches(branches, cache, {}).empty());
  EXPECT_THROW(n->net->forward_branches(branches, cache, {76}), std::logic_error);
  EXPECT_THROW(n->net->forward_branches(branches, cache, {-1}), std::logic_error);
}

TEST_P(TransformerArch, KvCacheStepsEqualOneFullPass) {
  // 150 tokens: several 64-row attention blocks in the full pass; then the same sequence as
  // a 100-token prefill, a 3-token chunk (the few-token kernel) and 47 single steps.
  Net n = tiny(GetParam());
  const auto t = tokens(150);
  const auto full = n->net->forward(t);
  const int64_t V = n->arch.vocab;
  engine::KVCache cache;
  std::vector<float> inc = n->net->forward({t.begin(), t.begin() + 100}, 0, cache);
  auto chunk = n->net->forward({t.begin() + 100, t.begin() + 103}, 0, cache);
  inc.insert(inc.end(), chunk.begin(), chunk.end());
  for (size_t i = 103; i < t.size(); ++i) {
    auto step = n->net->forward({t[i]}, 0, cache);
    inc.insert(inc.end(), step.begin(), step.end());
  }
  EXPECT_EQ(cache.positions, 150);
  ASSERT_EQ(inc.size(), full.size());
  const float tol = 1e-4f * max_abs(full);
  int argmax_same = 0;
  for (size_t r = 0; r < t.size(); ++r) {
    size_t a = 0, b = 0;
    for (int64_t v = 0; v < V; ++v) {
      ASSERT_NEAR(inc[r * V + size_t(v)], full[r * V + size_t(v)], tol) << "row " << r << " token " << v;
      if (inc[r * V + size_t(v)] > inc[r * V + a]) a = size_t(v);
      if (full[r * V + size_t(v)] > full[r * V + b]) b = size_t(v);
    }
    argmax_same += a == b;
  }
  EXPECT_EQ(argmax_same, 150);
}

TEST_P(TransformerArch, FirstRowSkipsOnlyTheHead) {
  Net n = tiny(GetParam());
  const auto t = tokens(70);
  const auto full = n->net->forward(t);
  const auto tail = n->net->forward(t, 35);
  const size_t V = size_t(n->arch.vocab);
  ASSERT_EQ(tail.size(), 35 * V);
  const float tol = 1e-5f * max_abs(full);
  for (size_t i = 0; i < tail.size(); ++i) ASSERT_NEAR(tail[i], full[35 * V + i], tol) << i;
}

TEST_P(TransformerArch, LayerByLayerEqualsForwardAndOneLayerResidencyEqualsAll) {
  // The calibration loop: embed, each decoder layer on its own, head; and a model that
  // builds each layer on demand and frees it. Same arithmetic, so bit-identical logits.
  Net n = tiny(GetParam());
  Net one = exporter::load_model(n->dir->path(), engine::Residency::OneLayer);
  const auto t = tokens(90);
  const auto full = n->net->forward(t);
  std::vector<float> h = one->net->embed(t);
  const auto rope = one->net->rope(0, int64_t(t.size()));
  for (int i = 0; i < one->arch.num_layers; ++i) {
    engine::DecoderLayer layer(one->arch, i, *one->weights);  // built from the source, alone
    layer.forward(h.data(), rope);
  }
  EXPECT_EQ(one->net->head(h.data(), int64_t(t.size())), full);
  EXPECT_EQ(one->net->forward(t), full);
}

// Records what each Linear saw, by module path.
struct Recorder : engine::LinearObserver {
  std::map<std::string, std::vector<float>> in, out;
  std::vector<std::string> order;
  void on_input(const model::Module& m, const float* x, int64_t tokens) override {
    in[m.path].assign(x, x + tokens * m.in_features);
    order.push_back(m.path);
  }
  void on_output(const model::Module& m, const float* y, int64_t tokens) override {
    out[m.path].assign(y, y + tokens * m.out_features);
  }
};

TEST_P(TransformerArch, ObserverSeesEveryLinearInputAndOutput) {
  Net n = tiny(GetParam());
  const auto t = tokens(20);
  Recorder rec;
  const auto logits = n->net->forward(t, 0, &rec);
  EXPECT_EQ(logits, n->net->forward(t));  // observing changes nothing
  std::vector<std::string> want;
  for (int i = 0; i < n->arch.num_layers; ++i)
    for (const char* p : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
      want.push_back("model.layers." + std::to_string(i) + "." + p);
  EXPECT_EQ(rec.order, want);
  // Each recorded output is the module's own Linear applied to the recorded input.
  for (const auto& path : want) {
    const model::Module& m = *n->arch.find_module(path);
    auto lin = n->weights->linear(m);
    std::vector<float> y(size_t(20 * m.out_features));
    lin->forward(rec.in[path].data(), 20, y.data());
    EXPECT_EQ(y, rec.out[path]) << path;
  }
  // q, k and v read the same normalised hidden state; gate and up too.
  EXPECT_EQ(rec.in["model.layers.1.self_attn.q_proj"], rec.in["model.layers.1.self_attn.v_proj"]);
  EXPECT_EQ(rec.in["model.layers.1.mlp.gate_proj"], rec.in["model.layers.1.mlp.up_proj"]);
}

TEST_P(TransformerArch, ObserveShowsTheSameInputsAsForwardWithoutDownProjsOutput) {
  Net n = tiny(GetParam());
  const auto t = tokens(33);
  const auto rope = n->net->rope(0, int64_t(t.size()));
  const std::vector<float> h = n->net->embed(t);
  engine::DecoderLayer layer(n->arch, 1, *n->weights);
  Recorder full, observed;
  std::vector<float> x = h;
  layer.forward(x.data(), rope, nullptr, &full);
  x = h;
  layer.observe(x.data(), rope, observed);
  EXPECT_EQ(observed.order, full.order);
  EXPECT_EQ(observed.in, full.in);  // bit-identical inputs, down_proj's included
  const std::string down = "model.layers.1.mlp.down_proj";
  EXPECT_EQ(observed.out.count(down), 0u);
  full.out.erase(down);
  EXPECT_EQ(observed.out, full.out);
}

// A source that counts what the engine gives back.
struct CountingSource : engine::WeightSource {
  const engine::WeightSource& inner;
  mutable std::map<std::string, int> released;
  explicit CountingSource(const engine::WeightSource& w) : inner(w) {}
  engine::TensorView dense_weight(const model::Module& m) const override { return inner.dense_weight(m); }
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override { return inner.linear(m); }
  void release(const model::Module& m) const override { ++released[m.path]; }
};

TEST_P(TransformerArch, OneLayerResidencyGivesBackEachLayersWeights) {
  Net n = tiny(GetParam());
  CountingSource src(*n->weights);
  engine::Transformer one(n->arch, src, engine::Residency::OneLayer);
  const auto t = tokens(12);
  EXPECT_EQ(one.forward(t), n->net->forward(t));
  EXPECT_EQ(src.released["model.layers.0.mlp.down_proj"], 1);
  EXPECT_EQ(src.released["model.layers.1.input_layernorm"], 1);
  EXPECT_EQ(src.released.count("model.embed_tokens"), 0u);  // used by every forward
  engine::Transformer all(n->arch, src);
  all.forward(t);
  EXPECT_EQ(src.released["model.layers.0.mlp.down_proj"], 1);  // resident layers keep theirs
}

INSTANTIATE_TEST_SUITE_P(Archs, TransformerArch, ::testing::Values("llama", "qwen2", "qwen3"));

TEST(Linear, BlasAndFewTokenPathsMatchAScalarReference) {
  // y = x W^T + b with plain double loops as the reference, for each stored dtype, through
  // the few-token dot-product path (1 and 3 tokens) and the tile + sgemm path (37 tokens).
  const int64_t in = 200, out = 333;
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    std::vector<uint8_t> w(size_t(in * out) * dtype_size(dt)), b(size_t(out) * dtype_size(dt));
    for (int64_t i = 0; i < in * out; ++i) store_from_f32(w.data(), size_t(i), dt, std::sin(float(i) * 0.37f) * 0.1f);
    for (int64_t i = 0; i < out; ++i) store_from_f32(b.data(), size_t(i), dt, float(i % 7) - 3.0f);
    engine::DenseLinear lin(w.data(), dt, in, out);
    lin.set_bias(b.data(), dt);
    for (int64_t T : {1, 3, 37}) {
      std::vector<float> x(size_t(T * in)), y(size_t(T * out));
      for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i) * 0.11f);
      lin.forward(x.data(), T, y.data());
      for (int64_t t = 0; t < T; ++t)
        for (int64_t o = 0; o < out; ++o) {
          double ref = load_as_f32(b.data(), size_t(o), dt);
          for (int64_t k = 0; k < in; ++k)
            ref += double(x[size_t(t * in + k)]) * load_as_f32(w.data(), size_t(o * in + k), dt);
          ASSERT_NEAR(y[size_t(t * out + o)], ref, 1e-4) << dtype_name(dt) << " T=" << T << " row " << o;
        }
    }
  }
}
