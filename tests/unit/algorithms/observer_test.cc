#include "algorithms/observer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/half.h"
#include "quant/quant_args.h"

using namespace lowbit;
using namespace lowbit::algorithms;

namespace {
quant::QuantArgs int4(const char* observer, int group = 8, bool sym = true) {
  return quant::parse_quant_args({{"num_bits", 4}, {"type", "int"}, {"symmetric", sym}, {"strategy", "group"},
                                  {"group_size", group}, {"observer", observer}},
                                 "test");
}

// sum over a slot of |Q(w) - w|^norm * importance, with the dequantized weight.
double slot_error(const std::vector<float>& w, const QuantizedWeight& q, int64_t slot, double norm,
                  const std::vector<float>& imp) {
  std::vector<float> d(w.size());
  dequantize_rows_f32(q, 0, q.rows, d.data());
  double e = 0;
  for (int64_t c = 0; c < q.cols; ++c) {
    const int64_t i = (slot / q.scale_cols) * q.cols + c;
    if (q.slot_of(slot / q.scale_cols, c) != slot) continue;
    e += std::pow(std::fabs(double(d[size_t(i)]) - w[size_t(i)]), norm) * (imp.empty() ? 1.0 : imp[size_t(c)]);
  }
  return e;
}
}  // namespace

TEST(Observer, MinMaxIsEachSlotsOwnRange) {
  std::vector<float> w = {0.5f, -1.0f, 0.25f, 0.0f, 2.0f, 0.1f, -0.3f, 0.2f};
  const auto a = int4("minmax", 4);
  const auto r = observe_ranges(w.data(), DType::F32, 1, 8, a, ObserverOptions::from_args(a, "t"), nullptr);
  EXPECT_EQ(r.min, (std::vector<float>{-1.0f, -0.3f}));
  EXPECT_EQ(r.max, (std::vector<float>{0.5f, 2.0f}));
}

TEST(Observer, MseSearchNeverLosesToMinMaxAndOftenClips) {
  // Gaussian weights in groups of 32: the searched range includes p = 1, so no slot can do
  // worse than min-max under the search's own error; many slots do better by clipping.
  const int64_t rows = 64, cols = 128;
  std::vector<float> w(size_t(rows * cols));
  uint64_t seed = 5;
  for (auto& v : w) {
    double s = 0;
    for (int k = 0; k < 4; ++k) seed = seed * 6364136223846793005ull + 1442695040888963407ull, s += double(seed >> 11) * 0x1p-53;
    v = float((s - 2.0) * 0.05);
  }
  const auto mse = int4("mse", 32), minmax = int4("minmax", 32);
  const auto o = ObserverOptions::from_args(mse, "t");
  EXPECT_EQ(o.kind, ObserverOptions::Kind::Mse);
  EXPECT_DOUBLE_EQ(o.maxshrink, 0.2);
  const auto r = observe_ranges(w.data(), DType::F32, rows, cols, mse, o, nullptr);
  const auto own = observe_ranges(w.data(), DType::F32, rows, cols, minmax, ObserverOptions{}, nullptr);
  const auto qm = rtn_quantize_observed(w.data(), DType::F32, rows, cols, mse, "w");
  const auto q0 = rtn_quantize_observed(w.data(), DType::F32, rows, cols, minmax, "w");
  int clipped = 0;
  double em = 0, e0 = 0;
  for (int64_t s = 0; s < qm.slots(); ++s) {
    const double a = slot_error(w, qm, s, 2.4, {}), b = slot_error(w, q0, s, 2.4, {});
    EXPECT_LE(a, b * (1 + 1e-9)) << "slot " << s;
    em += a, e0 += b;
    clipped += r.max[size_t(s)] < own.max[size_t(s)];
    EXPECT_GE(r.max[size_t(s)], 0.8f * own.max[size_t(s)] - 1e-6f);  // maxshrink 0.2
  }
  EXPECT_GT(clipped, qm.slots() / 10);
  EXPECT_LT(em, 0.97 * e0);
}

TEST(Observer, ImatrixIgnoresChannelsWithNoActivation) {
  // The outlier sits in an input channel that never carries signal: imatrix_mse may clip it
  // as far as the grid allows (maxshrink 0.95), plain mse may not.
  std::vector<float> w = {1.0f, 0.11f, -0.13f, 0.07f, -0.05f, 0.12f, 0.09f, -0.1f};
  std::vector<float> imp = {0.0f, 1, 1, 1, 1, 1, 1, 1};
  const auto a = int4("imatrix_mse");
  const auto o = ObserverOptions::from_args(a, "t");
  EXPECT_EQ(o.kind, ObserverOptions::Kind::IMatrixMse);
  EXPECT_DOUBLE_EQ(o.norm, 3.0);
  const auto r = observe_ranges(w.data(), DType::F32, 1, 8, a, o, imp.data());
  EXPECT_LT(r.max[0], 0.5f);
  const auto q = rtn_quantize_observed(w.data(), DType::F32, 1, 8, a, "w", std::nullopt, imp.data());
  const auto q0 = rtn_quantize(w.data(), DType::F32, 1, 8, int4("minmax"), "w");
  std::vector<float> norm_imp(imp);
  for (auto& v : norm_imp) v /= 7.0f / 8.0f;  // normalised by the mean, as the search does
  EXPECT_LT(slot_error(w, q, 0, 3.0, norm_imp), slot_error(w, q0, 0, 3.0, norm_imp));
}

TEST(Observer, KwargsAndUnsupportedCases) {
  auto a = int4("mse");
  a.observer_kwargs = {{"maxshrink", 0.5}, {"grid", 10}, {"norm", 2.0}, {"patience", 0}};
  const auto o = ObserverOptions::from_args(a, "t");
  EXPECT_DOUBLE_EQ(o.maxshrink, 0.5);
  EXPECT_EQ(o.patience, 0);
  a.observer_kwargs = {{"maxshrink", 2.0}};
  EXPECT_THROW(ObserverOptions::from_args(a, "t"), UserError);
  a.observer_kwargs = {{"bogus", 1}};
  EXPECT_THROW(ObserverOptions::from_args(a, "t"), UserError);
  auto f = quant::parse_quant_args({{"num_bits", 8}, {"type", "float"}, {"strategy", "channel"}, {"observer", "mse"}}, "t");
  EXPECT_THROW(ObserverOptions::from_args(f, "t"), UserError);  // float weights: not yet
  a = int4("hist");
  EXPECT_THROW(ObserverOptions::from_args(a, "t"), UserError);
  std::vector<float> bad = {1.0f, NAN, 0, 0, 0, 0, 0, 0};
  EXPECT_THROW(rtn_quantize_observed(bad.data(), DType::F32, 1, 8, int4("mse"), "w"), UserError);
}
