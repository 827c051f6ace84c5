#include "engine/generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "export/load_model.h"
#include "pipeline/calibration_data.h"
#include "temp_path.h"
#include "tiny_model.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {
fs::path tiny_dir() {
  fixtures::TinyModelSpec s;
  s.hidden = 128, s.intermediate = 256, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.vocab = 300;
  s.tokenizer = true;
  const fs::path dir = fixtures::temp_path("generate-tiny");
  fs::remove_all(dir);
  fixtures::write_tiny_model(dir, s);
  return dir;
}
}  // namespace

TEST(DrawToken, InvertsTheCumulativeSoftmax) {
  // logits ln(1), ln(2), ln(1): probabilities 1/4, 1/2, 1/4.
  const float l[3] = {0.f, std::log(2.f), 0.f};
  EXPECT_EQ(engine::draw_token(l, 3, 1.0, 0.0), 0);
  EXPECT_EQ(engine::draw_token(l, 3, 1.0, 0.2499), 0);
  EXPECT_EQ(engine::draw_token(l, 3, 1.0, 0.2501), 1);
  EXPECT_EQ(engine::draw_token(l, 3, 1.0, 0.7499), 1);
  EXPECT_EQ(engine::draw_token(l, 3, 1.0, 0.7501), 2);
  EXPECT_EQ(engine::draw_token(l, 3, 1.0, 0.999999), 2);
  // Temperature 0.5 squares the weights: 1/6, 4/6, 1/6.
  EXPECT_EQ(engine::draw_token(l, 3, 0.5, 0.16), 0);
  EXPECT_EQ(engine::draw_token(l, 3, 0.5, 0.17), 1);
  EXPECT_EQ(engine::draw_token(l, 3, 0.5, 0.84), 2);
  // A token whose weight underflows to 0 is never drawn, even at the boundary.
  const float z[3] = {0.f, -1e6f, 0.f};
  EXPECT_EQ(engine::draw_token(z, 3, 1.0, 0.5), 2);
  EXPECT_THROW(engine::draw_token(l, 3, 0.0, 0.5), UserError);
}

TEST(SampleSequence, ReproducibleFullLengthAndFollowsTheModelDistribution) {
  auto m = exporter::load_model(tiny_dir());
  const auto a = engine::sample_sequence(*m->net, 1, 40, {2}, 1.0, 7);
  const auto b = engine::sample_sequence(*m->net, 1, 40, {2}, 1.0, 7);
  const auto c = engine::sample_sequence(*m->net, 1, 40, {2}, 1.0, 8);
  ASSERT_EQ(a.size(), 40u);
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // After a stop token the next document starts with the start token.
  for (size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == 2) {
      EXPECT_EQ(a[i + 1], 1);
    }
  // First-token frequencies over many draws follow softmax(logits of the start token).
  const auto logits = m->net->forward({1}, 0);
  const int64_t V = m->arch.vocab;
  int32_t best = int32_t(std::max_element(logits.begin(), logits.begin() + V) - logits.begin());
  double z = 0, top = logits[size_t(best)];
  for (int64_t i = 0; i < V; ++i) z += std::exp(double(logits[size_t(i)]) - top);
  const double p_best = 1.0 / z;
  int hits = 0;
  const int n = 400;
  std::vector<uint64_t> seeds;
  for (int s = 0; s < n; ++s) seeds.push_back(uint64_t(1000 + s));
  for (const auto& x : engine::sample_sequences(*m->net, 1, 2, {}, 1.0, seeds)) hits += x[1] == best;
  const double sd = std::sqrt(p_best * (1 - p_best) / n);
  EXPECT_NEAR(double(hits) / n, p_best, 5 * sd + 1e-9) << "p_best " << p_best;
}

TEST(SampleSequence, ABatchedStepGivesEachSequenceItsOwnLogits) {
  // Three sequences with different histories, stepped together, against each one stepped alone.
  auto m = exporter::load_model(tiny_dir());
  const int64_t V = m->arch.vocab;
  const std::vector<std::vector<int32_t>> prefix = {{1, 5, 9, 200, 33}, {1, 7, 7, 7, 7}, {1, 250, 3, 64, 128}};
  std::vector<engine::KVCache> caches(3), alone(3);
  std::vector<std::vector<float>> expected;
  for (size_t b = 0; b < 3; ++b) {
    m->net->forward(prefix[b], int64_t(prefix[b].size()) - 1, caches[b]);
    m->net->forward(prefix[b], int64_t(prefix[b].size()) - 1, alone[b]);
  }
  const std::vector<int32_t> next = {17, 2, 299};
  for (int step = 0; step < 3; ++step) {
    const auto got = m->net->forward_step(next, caches);
    ASSERT_EQ(got.size(), size_t(3 * V));
    for (size_t b = 0; b < 3; ++b) {
      const auto want = m->net->forward({next[b]}, 0, alone[b]);
      float scale = 0, diff = 0;
      for (int64_t i = 0; i < V; ++i) {
        scale = std::max(scale, std::fabs(want[size_t(i)]));
        diff = std::max(diff, std::fabs(want[size_t(i)] - got[size_t(int64_t(b) * V + i)]));
      }
      EXPECT_LE(diff, 1e-5f * scale + 1e-6f) << "sequence " << b << " step " << step;
      EXPECT_EQ(caches[b].positions, alone[b].positions);
    }
  }
  caches[1].positions += 1;  // out of step
  EXPECT_THROW(m->net->forward_step(next, caches), std::logic_error);
}

TEST(SelfCalibration, ParsesSelfNAndGeneratesReproducibleSamples) {
  EXPECT_EQ(pipeline::self_calibration_count("calib.txt"), 0);
  EXPECT_EQ(pipeline::self_calibration_count("self:128"), 128);
  EXPECT_THROW(pipeline::self_calibration_count("self:"), UserError);
  EXPECT_THROW(pipeline::self_calibration_count("self:0"), UserError);
  EXPECT_THROW(pipeline::self_calibration_count("self:12x"), UserError);
  const fs::path dir = tiny_dir();
  const auto a = pipeline::generate_calibration(dir, 3, 24, 5, ProgressMode::Off);
  const auto b = pipeline::generate_calibration(dir, 3, 24, 5, ProgressMode::Off);
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_EQ(a.tokens, 72);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NE(a.samples[0], a.samples[1]);  // each sample its own seed
  for (const auto& s : a.samples) EXPECT_EQ(s[0], 1);  // config.json's bos_token_id
  EXPECT_NE(a.description.find("generated by the model"), std::string::npos) << a.description;
  EXPECT_NE(pipeline::generate_calibration(dir, 3, 24, 6, ProgressMode::Off).samples, a.samples);
}
