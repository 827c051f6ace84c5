// AWQ: the candidate grid, w_mean and scales by hand; and the folds leave a float32 layer's
// outputs unchanged (every mapping kind: norms, v -> o with and without biases, up -> down).
#include "pipeline/awq_layer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "algorithms/awq.h"
#include "core/error.h"
#include "engine/decoder_layer.h"
#include "export/checkpoint_weights.h"
#include "io/model_dir.h"
#include "numerics/half.h"
#include "quant/presets.h"
#include "temp_path.h"
#include "tiny_model.h"

using namespace lowbit;
namespace fs = std::filesystem;
using algorithms::AwqOptions;

TEST(Awq, GridIsLlmCompressors) {
  AwqOptions o;
  auto g = algorithms::awq_grid(o);  // duo on: identity first, then 19 ratios i / 18 with duo
  ASSERT_EQ(g.size(), 20u);
  EXPECT_EQ(g[0].ratio, 0.0);
  EXPECT_FALSE(g[0].duo);
  EXPECT_TRUE(g[1].duo);
  EXPECT_EQ(g[1].ratio, 0.0);
  EXPECT_DOUBLE_EQ(g[2].ratio, 1.0 / 18);
  EXPECT_EQ(g[19].ratio, 1.0);
  o.duo_scaling = AwqOptions::Duo::Off;
  g = algorithms::awq_grid(o);
  ASSERT_EQ(g.size(), 20u);
  EXPECT_DOUBLE_EQ(g[1].ratio, 1.0 / 19);
  EXPECT_FALSE(g[19].duo);
  o.duo_scaling = AwqOptions::Duo::Both;
  g = algorithms::awq_grid(o);  // 10 ratios i / 9, each without then with duo
  ASSERT_EQ(g.size(), 20u);
  EXPECT_FALSE(g[0].duo);
  EXPECT_TRUE(g[1].duo);
  EXPECT_EQ(g[0].ratio, g[1].ratio);
  EXPECT_DOUBLE_EQ(g[2].ratio, 1.0 / 9);
}

TEST(Awq, WeightMeanNormalisesEachGroupByItsMax) {
  // Two rows, four columns, groups of two (F32, so no rounding).
  const std::vector<float> w = {1, -2, 4, 0, -3, 3, 1, -1};
  quant::QuantArgs a;
  a.num_bits = 4, a.strategy = quant::Strategy::Group, a.group_size = 2;
  const auto m = algorithms::awq_weight_mean({{w.data(), DType::F32, 2, 4, &a}});
  const double e = 1e-6;
  EXPECT_NEAR(m[0], (1 / (2 + e) + 3 / (3 + e)) / 2, 1e-7);
  EXPECT_NEAR(m[1], (2 / (2 + e) + 3 / (3 + e)) / 2, 1e-7);
  EXPECT_NEAR(m[2], (4 / (4 + e) + 1 / (1 + e)) / 2, 1e-7);
  EXPECT_NEAR(m[3], (0 + 1 / (1 + e)) / 2, 1e-7);
  // A Linear that is not quantized is left out.
  const auto m2 = algorithms::awq_weight_mean({{w.data(), DType::F32, 2, 4, &a}, {w.data(), DType::F32, 2, 4, nullptr}});
  EXPECT_EQ(m, m2);
}

TEST(Awq, ScalesAreNormalisedAndFinite) {
  const std::vector<double> x = {0.5, 2.0, 0.0, 8.0}, w = {1.0, 0.5, 0.25, 2.0};
  const auto s = algorithms::awq_scales(x, w, {0.5, true});
  // Raw: x^0.5 / (w^0.5 + 1e-4), clamped at 1e-4 (x = 0), then / sqrt(max * min).
  std::vector<double> raw(4);
  for (int j = 0; j < 4; ++j) raw[size_t(j)] = std::max(std::sqrt(x[size_t(j)]) / (std::sqrt(w[size_t(j)]) + 1e-4), 1e-4);
  const double norm = std::sqrt(*std::max_element(raw.begin(), raw.end()) * *std::min_element(raw.begin(), raw.end()));
  for (int j = 0; j < 4; ++j) EXPECT_DOUBLE_EQ(s[size_t(j)], raw[size_t(j)] / norm);
  const auto id = algorithms::awq_scales(x, w, {0.0, false});
  for (double v : id) EXPECT_EQ(v, 1.0);
}

namespace {

// Layer 0 of a float32 tiny model, its W4A16 AWQ config, and 4 samples of 24 hidden states with a
// few outlier channels (what makes AWQ scale), stored as BF16 as the pipeline stores them.
struct AwqCase {
  fs::path dir;
  std::unique_ptr<io::ModelDir> in;
  model::Architecture arch;
  quant::Recipe recipe;
  quant::Plan plan;
  pipeline::AwqConfig config;
  std::unique_ptr<exporter::CheckpointWeights> source;
  std::unique_ptr<engine::DecoderLayer> original;
  std::unique_ptr<engine::Rope> rope;
  std::vector<std::vector<uint16_t>> hidden;
  static constexpr int64_t T = 24;

  AwqCase(const std::string& arch_name, int64_t kv_heads) {
    fixtures::TinyModelSpec spec;
    spec.arch = arch_name;
    spec.hidden = 128, spec.intermediate = 256, spec.layers = 1, spec.heads = 4, spec.kv_heads = kv_heads;
    spec.vocab = 300, spec.dtype = DType::F32;
    dir = fixtures::temp_path("awq-" + arch_name + std::to_string(kv_heads));
    fixtures::write_tiny_model(dir, spec);
    in = std::make_unique<io::ModelDir>(dir);
    arch = model::architecture_from_config(in->config(), "config.json");
    recipe.config_groups.emplace_back("group_0", quant::supported_preset_scheme("W4A16", {"Linear"}, "test"));
    recipe.awq = nlohmann::json::object();
    plan = quant::make_plan(arch, recipe);
    config = pipeline::awq_config(recipe, "test");
    source = std::make_unique<exporter::CheckpointWeights>(*in, arch);
    original = std::make_unique<engine::DecoderLayer>(arch, 0, *source);
    rope = std::make_unique<engine::Rope>(arch);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0, 1);
    for (int s = 0; s < 4; ++s) {
      std::vector<uint16_t> h(size_t(T * arch.hidden));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < arch.hidden; ++c)
          h[size_t(t * arch.hidden + c)] = f32_to_bf16(nd(rng) * (c % 17 == 3 ? 20.0f : 1.0f));
      hidden.push_back(std::move(h));
    }
  }
  const quant::QuantArgs& args() const { return *recipe.config_groups[0].second.weights; }
  // An AwqLayer with `options` whose statistics saw every sample through the original layer.
  std::unique_ptr<pipeline::AwqLayer> layer(const AwqOptions& options, std::vector<std::string>* notes = nullptr) const {
    auto awq = std::make_unique<pipeline::AwqLayer>(
        arch, pipeline::resolve_awq_mappings(arch, 0, config, plan, notes), options,
        [this](const model::Module& m) { return m.is_linear() ? &args() : nullptr; });
    for (const auto& h : hidden) {
      std::vector<float> x(h.size());
      for (size_t i = 0; i < h.size(); ++i) x[i] = bf16_to_f32(h[i]);
      original->forward(x.data(), rope->table(0, T), nullptr, &awq->statistics());
    }
    return awq;
  }
  std::vector<pipeline::AwqMappingResult> run(const pipeline::AwqLayer& awq, pipeline::SmoothedWeights& w,
                                              const std::vector<std::vector<uint16_t>>& h) const {
    return awq.run(w, h, [this](int64_t n) { return rope->table(0, n); });
  }
};

// Runs AWQ's search on layer 0 of a float32 tiny model and checks the folded layer computes
// what the original does.
void expect_folds_preserve_outputs(const std::string& arch_name, int64_t kv_heads, bool gram_loss = true) {
  const AwqCase c(arch_name, kv_heads);
  const int64_t T = AwqCase::T;
  AwqOptions options = c.config.options;
  options.gram_loss = gram_loss;
  std::vector<std::string> notes;
  const auto awq = c.layer(options, &notes);
  ASSERT_EQ(awq->mappings().size(), kv_heads == 4 ? 4u : 3u);
  EXPECT_EQ(notes.size(), kv_heads == 4 ? 0u : 1u);  // v -> o skipped under GQA, said once
  pipeline::SmoothedWeights smoothed(*c.source, *c.in);
  const auto results = c.run(*awq, smoothed, c.hidden);
  int scaled = 0;
  for (const auto& r : results) {
    ASSERT_FALSE(r.scales.empty()) << r.smooth << ": " << r.note;
    EXPECT_LE(r.best_error, r.initial_error) << r.smooth;
    scaled += r.best.ratio > 0;
  }
  EXPECT_GT(scaled, 0) << "every mapping chose the identity: the test would not see a fold";
  if (gram_loss) {
    // The X^T X shortcut of single-Linear parents scores as a pass over the tokens does.
    AwqOptions o = options;
    o.gram_loss = false;
    pipeline::SmoothedWeights other(*c.source, *c.in);
    const auto check = c.run(*c.layer(o), other, c.hidden);
    ASSERT_EQ(check.size(), results.size());
    for (size_t i = 0; i < results.size(); ++i) {
      EXPECT_EQ(check[i].best.ratio, results[i].best.ratio) << results[i].smooth;
      EXPECT_NEAR(check[i].best_error, results[i].best_error, 1e-4 * results[i].best_error) << results[i].smooth;
      EXPECT_NEAR(check[i].initial_error, results[i].initial_error, 1e-4 * results[i].initial_error) << results[i].smooth;
    }
  }
  EXPECT_TRUE(smoothed.changed().count("model.layers.0.input_layernorm.weight"));

  const engine::DecoderLayer folded(c.arch, 0, smoothed);
  double worst = 0;
  for (const auto& h : c.hidden) {
    std::vector<float> a(h.size()), b(h.size());
    for (size_t i = 0; i < h.size(); ++i) a[i] = b[i] = bf16_to_f32(h[i]);
    // Compare what the layer adds to the residual stream, the part the folds touch.
    c.original->forward(a.data(), c.rope->table(0, T));
    folded.forward(b.data(), c.rope->table(0, T));
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const double d0 = double(a[i]) - bf16_to_f32(h[i]);
      num += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
      den += d0 * d0;
    }
    worst = std::max(worst, std::sqrt(num / den));
  }
  EXPECT_LT(worst, 1e-5) << arch_name;
}

}  // namespace

TEST(Awq, FoldsLeaveLlamaLayerUnchanged) { expect_folds_preserve_outputs("llama", 4); }
TEST(Awq, FoldsLeaveQwen2LayerWithBiasesUnchanged) { expect_folds_preserve_outputs("qwen2", 4); }
TEST(Awq, FoldsLeaveQwen3LayerUnchangedUnderGqa) { expect_folds_preserve_outputs("qwen3", 2); }

TEST(Awq, SearchSamplesSpreadEvenlyUntilTheBudget) {
  using algorithms::awq_search_samples;
  const std::vector<int64_t> eight(8, 100);
  EXPECT_EQ(awq_search_samples(eight, 0), (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(awq_search_samples(eight, 800), (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(awq_search_samples(eight, 100), (std::vector<size_t>{0}));
  EXPECT_EQ(awq_search_samples(eight, 200), (std::vector<size_t>{0, 4}));
  EXPECT_EQ(awq_search_samples(eight, 350), (std::vector<size_t>{0, 2, 4, 6}));  // 4 samples reach 350
  EXPECT_EQ(awq_search_samples(eight, 799), (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  // 5 samples: van der Corput over 8 slots (0, 4, 2, 6, 1, 5, 3, 7) x 5 / 8 -> 0, 2, 1, 3, (0), (3), (1), 4.
  const std::vector<int64_t> five{10, 500, 10, 10, 10};
  EXPECT_EQ(awq_search_samples(five, 20), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(awq_search_samples(five, 530), (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(awq_search_samples(five, 539), (std::vector<size_t>{0, 1, 2, 3, 4}));
}

// With a token budget, the attention and MLP blocks' candidates are scored on the chosen samples
// only (the same losses as a search handed just those samples, statistics from all of them);
// single-Linear parents keep every token.
TEST(Awq, SearchTokensScoreBlockParentsOnTheChosenSamples) {
  const AwqCase c("llama", 4);
  AwqOptions budget = c.config.options;
  budget.search_tokens = 2 * AwqCase::T;  // samples 0 and 2
  pipeline::SmoothedWeights a(*c.source, *c.in), b(*c.source, *c.in);
  const auto partial = c.run(*c.layer(budget), a, c.hidden);
  const auto subset = c.run(*c.layer(c.config.options), b, {c.hidden[0], c.hidden[2]});
  ASSERT_EQ(partial.size(), 4u);
  ASSERT_EQ(partial[0].smooth, "model.layers.0.input_layernorm");
  EXPECT_EQ(partial[0].scored_tokens, 2 * AwqCase::T);
  EXPECT_EQ(partial[0].losses, subset[0].losses);  // the same sums, sample by sample
  EXPECT_EQ(partial[1].smooth, "model.layers.0.self_attn.v_proj");
  EXPECT_EQ(partial[1].scored_tokens, 4 * AwqCase::T);
  pipeline::SmoothedWeights d(*c.source, *c.in);
  const auto full = c.run(*c.layer(c.config.options), d, c.hidden);
  EXPECT_EQ(full[0].scored_tokens, 4 * AwqCase::T);
  EXPECT_NE(full[0].losses, partial[0].losses);
}

TEST(Awq, MappingsThatCannotFoldAreRefused) {
  fixtures::TinyModelSpec spec;
  spec.layers = 1;
  const fs::path dir = fixtures::temp_path("awq-refused");
  fixtures::write_tiny_model(dir, spec);
  io::ModelDir in(dir);
  const model::Architecture arch = model::architecture_from_config(in.config(), "config.json");
  quant::Recipe recipe;
  recipe.config_groups.emplace_back("group_0", quant::supported_preset_scheme("W4A16", {"Linear"}, "test"));
  const quant::Plan plan = quant::make_plan(arch, recipe);
  auto resolve = [&](const std::string& yaml_mappings) {
    recipe.awq = nlohmann::json::parse(yaml_mappings);
    return pipeline::resolve_awq_mappings(arch, 0, pipeline::awq_config(recipe, "r"), plan, nullptr);
  };
  // Scaling q only would change what k and v compute.
  EXPECT_THROW(resolve(R"({"mappings": [{"smooth_layer": "re:.*input_layernorm$", "balance_layers": ["re:.*q_proj$"]}]})"),
               UserError);
  EXPECT_THROW(resolve(R"({"mappings": [{"smooth_layer": "re:.*q_proj$", "balance_layers": ["re:.*o_proj$"]}]})"),
               UserError);
  EXPECT_THROW(resolve(R"({"duo_scaling": "sometimes"})"), UserError);
  EXPECT_THROW(resolve(R"({"n_grid": 1})"), UserError);
  EXPECT_EQ(resolve(R"({"mappings": [{"smooth_layer": "re:.*post_attention_layernorm$",
                        "balance_layers": ["re:.*gate_proj$", "re:.*up_proj$"]}]})").size(), 1u);
}
