#include "algorithms/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/half.h"
#include "quant/presets.h"
#include "quant/quant_args.h"

using namespace lowbit;
using namespace lowbit::algorithms;

namespace {
quant::QuantArgs args_of(const char* preset) { return *quant::preset_scheme(preset, {"Linear"})->weights; }

quant::QuantArgs int_group(int bits, int group, bool sym = true) {
  return quant::parse_quant_args({{"num_bits", bits}, {"type", "int"}, {"symmetric", sym}, {"strategy", "group"},
                                  {"group_size", group}},
                                 "test");
}

std::vector<uint8_t> random_weights(DType dt, int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<uint8_t> w(size_t(n) * dtype_size(dt));
  for (int64_t i = 0; i < n; ++i) store_from_f32(w.data(), size_t(i), dt, nd(g));
  return w;
}

// Correlated inputs: x = A z with a random mixing matrix, so H = X^T X is far from diagonal.
std::vector<float> correlated_inputs(int64_t tokens, int64_t k, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> mix(size_t(k * k)), x(size_t(tokens * k));
  for (auto& m : mix) m = nd(g) * 0.3f;
  for (int64_t i = 0; i < k; ++i) mix[size_t(i * k + i)] += 1.0f + float(i % 7);  // uneven channel scales
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<float> z(static_cast<size_t>(k));
    for (auto& v : z) v = nd(g);
    for (int64_t i = 0; i < k; ++i) {
      double s = 0;
      for (int64_t j = 0; j < k; ++j) s += double(mix[size_t(i * k + j)]) * z[size_t(j)];
      x[size_t(t * k + i)] = float(s);
    }
  }
  return x;
}

std::vector<float> hessian_of(const std::vector<float>& x, int64_t tokens, int64_t k) {
  std::vector<float> h(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t t = 0; t < tokens; ++t) s += double(x[size_t(t * k + i)]) * x[size_t(t * k + j)];
      h[size_t(i * k + j)] = float(2 * s / double(tokens));
    }
  return h;
}

// sum over tokens and rows of ((W - Q) x)^2: the output error GPTQ minimises.
double output_error(const void* w, DType dt, const QuantizedWeight& q, const std::vector<float>& x, int64_t tokens) {
  std::vector<float> dq(size_t(q.rows * q.cols));
  dequantize_rows_f32(q, 0, q.rows, dq.data());
  double e = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < q.rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < q.cols; ++c)
        s += (double(load_as_f32(w, size_t(r * q.cols + c), dt)) - dq[size_t(r * q.cols + c)]) * x[size_t(t * q.cols + c)];
      e += s * s;
    }
  return e;
}

size_t same_codes(const QuantizedWeight& a, const QuantizedWeight& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.codes.size(); ++i) n += a.codes[i] == b.codes[i];
  return n;
}
}  // namespace

TEST(Gptq, DiagonalHessianIsRoundToNearest) {
  // No off-diagonal curvature, no error feedback: GPTQ's codes are RTN's. Exactly so for F32
  // weights; BF16 weights differ only where RTN's quotient, rounded to BF16 as
  // compressed-tensors computes in the model dtype, crosses a rounding boundary that GPTQ's
  // float32 quotient does not (llm-compressor's GPTQ quantizes its float32 copy the same way).
  const int64_t rows = 48, cols = 256;
  std::vector<float> h(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) h[size_t(i * cols + i)] = 1.0f + float(i % 5);
  for (const char* preset : {"W4A16", "W4A16_ASYM", "W8A16", "FP8_DYNAMIC", "MXFP4A16", "NVFP4A16"}) {
    const auto a = args_of(preset);
    const auto w = random_weights(DType::F32, rows * cols, 7);
    const auto rtn = rtn_quantize(w.data(), DType::F32, rows, cols, a, "w");
    for (auto order : {GptqOptions::ActOrder::None, GptqOptions::ActOrder::Static}) {
      GptqOptions o;
      o.actorder = order;
      const GptqResult g = gptq_quantize(w.data(), DType::F32, rows, cols, a, h.data(), o, "w");
      EXPECT_FALSE(g.rtn_fallback);
      EXPECT_EQ(g.weight.codes, rtn.codes) << preset;
      EXPECT_EQ(g.weight.scales, rtn.scales) << preset;
    }
    // BF16: RTN's quotient has 8 significant bits, so int8 codes above 64 move by at most one
    // step; 4-bit codes almost never.
    const auto wb = random_weights(DType::BF16, rows * cols, 7);
    const auto rb = rtn_quantize(wb.data(), DType::BF16, rows, cols, a, "w");
    const GptqResult gb = gptq_quantize(wb.data(), DType::BF16, rows, cols, a, h.data(), GptqOptions{}, "w");
    EXPECT_GE(double(same_codes(gb.weight, rb)), (a.num_bits == 4 ? 0.99 : 0.85) * double(rb.codes.size())) << preset;
    if (a.type == quant::QType::Int)
      for (size_t i = 0; i < rb.codes.size(); ++i) ASSERT_LE(std::abs(gb.weight.codes[i] - rb.codes[i]), 1) << preset;
  }
}

TEST(Gptq, MatchesTheUnblockedObsReferenceForEveryBlockSize) {
  // An independent reference: the paper's column-by-column OBS update with an explicit inverse
  // Hessian downdated after each column (no Cholesky, no lazy batches), in double.
  const int64_t rows = 16, cols = 64, tokens = 256;
  const auto x = correlated_inputs(tokens, cols, 3);
  const auto h = hessian_of(x, tokens, cols);
  const auto a = int_group(4, 16);
  const auto w = random_weights(DType::F32, rows * cols, 11);
  const auto rtn = rtn_quantize(w.data(), DType::F32, rows, cols, a, "w");
  // Reference, natural column order, dampening 0.01.
  std::vector<double> hinv(size_t(cols * cols));
  {
    std::vector<double> m(size_t(cols * cols)), inv(size_t(cols * cols), 0.0);
    double mean = 0;
    for (int64_t i = 0; i < cols; ++i) mean += h[size_t(i * cols + i)];
    mean /= double(cols);
    for (size_t i = 0; i < m.size(); ++i) m[i] = h[i];
    for (int64_t i = 0; i < cols; ++i) m[size_t(i * cols + i)] += 0.01 * mean, inv[size_t(i * cols + i)] = 1;
    for (int64_t c = 0; c < cols; ++c) {  // Gauss-Jordan
      const double p = m[size_t(c * cols + c)];
      for (int64_t j = 0; j < cols; ++j) m[size_t(c * cols + j)] /= p, inv[size_t(c * cols + j)] /= p;
      for (int64_t r = 0; r < cols; ++r) {
        if (r == c) continue;
        const double f = m[size_t(r * cols + c)];
        for (int64_t j = 0; j < cols; ++j)
          m[size_t(r * cols + j)] -= f * m[size_t(c * cols + j)], inv[size_t(r * cols + j)] -= f * inv[size_t(c * cols + j)];
      }
    }
    hinv = inv;
  }
  QuantizedWeight ref = rtn;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> wr(static_cast<size_t>(cols)), hi = hinv;
    for (int64_t c = 0; c < cols; ++c) wr[size_t(c)] = load_as_f32(w.data(), size_t(r * cols + c), DType::F32);
    for (int64_t j = 0; j < cols; ++j) {
      const float s = rtn.scale_at(rtn.slot_of(r, j));
      const double qv = std::nearbyint(std::clamp(float(wr[size_t(j)]) / s, -8.0f, 7.0f));
      ref.codes[size_t(r * cols + j)] = int8_t(qv);
      const double delta = (wr[size_t(j)] - qv * s) / hi[size_t(j * cols + j)];
      for (int64_t c = j + 1; c < cols; ++c) wr[size_t(c)] -= delta * hi[size_t(j * cols + c)];
      const double hjj = hi[size_t(j * cols + j)];
      std::vector<double> row(hi.begin() + j * cols, hi.begin() + (j + 1) * cols);
      for (int64_t p = 0; p < cols; ++p)
        for (int64_t q2 = 0; q2 < cols; ++q2) hi[size_t(p * cols + q2)] -= row[size_t(p)] * row[size_t(q2)] / hjj;
    }
  }
  for (int block : {1, 3, 16, 128}) {
    GptqOptions o;
    o.block_size = block;
    o.actorder = GptqOptions::ActOrder::None;
    const GptqResult g = gptq_quantize(w.data(), DType::F32, rows, cols, a, h.data(), o, "w");
    EXPECT_GE(double(same_codes(g.weight, ref)), 0.99 * double(ref.codes.size())) << "block " << block;
  }
}

TEST(Gptq, ErrorFeedbackLowersTheOutputErrorOfEveryScheme) {
  const int64_t rows = 32, cols = 128, tokens = 512;
  const auto x = correlated_inputs(tokens, cols, 5);
  const auto h = hessian_of(x, tokens, cols);
  for (const char* preset : {"W4A16", "W4A16_ASYM", "W8A16", "FP8_DYNAMIC", "MXFP4A16", "NVFP4A16"}) {
    const auto a = preset[0] == 'W' && preset[1] == '4' ? int_group(4, 32, preset[5] != '_') : args_of(preset);
    const auto w = random_weights(DType::BF16, rows * cols, 13);
    const auto rtn = rtn_quantize(w.data(), DType::BF16, rows, cols, a, "w");
    for (auto order : {GptqOptions::ActOrder::None, GptqOptions::ActOrder::Static}) {
      GptqOptions o;
      o.actorder = order;
      const GptqResult g = gptq_quantize(w.data(), DType::BF16, rows, cols, a, h.data(), o, "w");
      const double eg = output_error(w.data(), DType::BF16, g.weight, x, tokens);
      const double er = output_error(w.data(), DType::BF16, rtn, x, tokens);
      EXPECT_LT(eg, 0.9 * er) << preset << " actorder " << int(order) << ": GPTQ " << eg << " RTN " << er;
      EXPECT_GT(g.loss, 0);
      EXPECT_EQ(g.weight.scales, rtn.scales);  // fixed before the sweep, as llm-compressor fixes them
    }
  }
}

TEST(Gptq, IndefiniteHessianRaisesDampingThenFallsBackToRtn) {
  const int64_t rows = 4, cols = 2;
  const auto a = quant::parse_quant_args({{"num_bits", 4}, {"type", "int"}, {"strategy", "channel"}}, "t");
  const auto w = random_weights(DType::F32, rows * cols, 1);
  // Eigenvalues 2.1 and -0.1 (relative to mean diag 1): PD from lambda > 0.1 on.
  const float slightly[] = {1.0f, 1.1f, 1.1f, 1.0f};
  GptqResult g = gptq_quantize(w.data(), DType::F32, rows, cols, a, slightly, GptqOptions{}, "w");
  EXPECT_FALSE(g.rtn_fallback);
  EXPECT_GT(g.dampening_frac, 0.1);
  EXPECT_NE(g.note.find("not positive definite"), std::string::npos) << g.note;
  // Eigenvalues 4 and -2: no dampening up to 1.0 helps; round-to-nearest, said so.
  const float hopeless[] = {1.0f, 3.0f, 3.0f, 1.0f};
  g = gptq_quantize(w.data(), DType::F32, rows, cols, a, hopeless, GptqOptions{}, "w");
  EXPECT_TRUE(g.rtn_fallback);
  EXPECT_FALSE(g.note.empty());
  EXPECT_EQ(g.weight.codes, rtn_quantize(w.data(), DType::F32, rows, cols, a, "w").codes);
}

TEST(Gptq, DeadColumnsAreZeroedAndBadInputRefused) {
  const int64_t rows = 8, cols = 32;
  const auto a = int_group(4, 32);
  const auto w = random_weights(DType::F32, rows * cols, 2);
  std::vector<float> h(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) h[size_t(i * cols + i)] = i == 5 ? 0.0f : 1.0f;  // column 5 never sees input
  const GptqResult g = gptq_quantize(w.data(), DType::F32, rows, cols, a, h.data(), GptqOptions{}, "w");
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(g.weight.codes[size_t(r * cols + 5)], 0) << r;
  h[0] = NAN;
  EXPECT_THROW(gptq_quantize(w.data(), DType::F32, rows, cols, a, h.data(), GptqOptions{}, "w"), UserError);
  auto grouped = a;
  grouped.actorder = "group";
  EXPECT_THROW(gptq_actorder(grouped, "t"), UserError);
  grouped.actorder = "weight";
  EXPECT_EQ(gptq_actorder(grouped, "t"), GptqOptions::ActOrder::Static);
}
