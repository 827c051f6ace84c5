#include "algorithms/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "algorithms/gptq_ggml.h"
#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/ggml_quants.h"
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

// The paper's column-by-column OBS update with an explicit inverse Hessian downdated after each
// column (no Cholesky, no lazy batches), in double, natural column order, dampening 0.01:
// `quantize(x, row, column)` returns the dequantized value it picks for x.
template <class Quantize>
void obs_reference(const void* w, int64_t rows, int64_t cols, const std::vector<float>& h, const Quantize& quantize) {
  std::vector<double> hinv;
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
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> wr(static_cast<size_t>(cols)), hi = hinv;
    for (int64_t c = 0; c < cols; ++c) wr[size_t(c)] = load_as_f32(w, size_t(r * cols + c), DType::F32);
    for (int64_t j = 0; j < cols; ++j) {
      const double delta = (wr[size_t(j)] - quantize(wr[size_t(j)], r, j)) / hi[size_t(j * cols + j)];
      for (int64_t c = j + 1; c < cols; ++c) wr[size_t(c)] -= delta * hi[size_t(j * cols + c)];
      const double hjj = hi[size_t(j * cols + j)];
      std::vector<double> row(hi.begin() + j * cols, hi.begin() + (j + 1) * cols);
      for (int64_t p = 0; p < cols; ++p)
        for (int64_t q2 = 0; q2 < cols; ++q2) hi[size_t(p * cols + q2)] -= row[size_t(p)] * row[size_t(q2)] / hjj;
    }
  }
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
    if (a.type == quant::QType::Int) {
      for (size_t i = 0; i < rb.codes.size(); ++i) ASSERT_LE(std::abs(gb.weight.codes[i] - rb.codes[i]), 1) << preset;
    }
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
  QuantizedWeight ref = rtn;
  obs_reference(w.data(), rows, cols, h, [&](double x, int64_t r, int64_t j) {
    const float sc = rtn.scale_at(rtn.slot_of(r, j));
    const double qv = std::nearbyint(std::clamp(float(x) / sc, -8.0f, 7.0f));
    ref.codes[size_t(r * cols + j)] = int8_t(qv);
    return qv * sc;
  });
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

// ---- GPTQ onto ggml block types ----

namespace {

const GgmlType kGgmlGptqTypes[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                   GgmlType::Q8_0, GgmlType::IQ4_NL, GgmlType::Q2_K, GgmlType::Q3_K,
                                   GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS};

bool is_k_quant(GgmlType t) { return t >= GgmlType::Q2_K && t <= GgmlType::Q6_K; }

std::vector<float> decode_rows(GgmlType t, const std::vector<uint8_t>& blocks, int64_t rows, int64_t cols) {
  std::vector<float> out(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    ggml_dequantize(t, blocks.data() + size_t(r) * *ggml_row_bytes(t, cols), out.data() + r * cols, cols);
  return out;
}

// What llama-quantize --imatrix writes: ggml's search on the original rows.
std::vector<uint8_t> ggml_search_blocks(GgmlType t, const std::vector<uint8_t>& w, int64_t rows, int64_t cols,
                                        const float* importance) {
  std::vector<float> x(size_t(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i) x[size_t(i)] = load_as_f32(w.data(), size_t(i), DType::F32);
  std::vector<uint8_t> y(size_t(rows) * *ggml_row_bytes(t, cols));
  ggml_quantize_rows(t, x.data(), y.data(), rows, cols, importance);
  return y;
}

double output_error_dense(const std::vector<uint8_t>& w, const std::vector<float>& dq, int64_t rows, int64_t cols,
                          const std::vector<float>& x, int64_t tokens) {
  double e = 0;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c)
        s += (double(load_as_f32(w.data(), size_t(r * cols + c), DType::F32)) - dq[size_t(r * cols + c)]) *
             x[size_t(t * cols + c)];
      e += s * s;
    }
  return e;
}

// Correlated inputs, their Hessian and llama-imatrix's importance E[x^2] = diag(H) / 2.
struct Inputs {
  std::vector<float> x, h, importance;
};
Inputs calibrated_inputs(int64_t tokens, int64_t cols, unsigned seed) {
  Inputs in{correlated_inputs(tokens, cols, seed), {}, std::vector<float>(static_cast<size_t>(cols))};
  in.h = hessian_of(in.x, tokens, cols);
  for (int64_t i = 0; i < cols; ++i) in.importance[size_t(i)] = in.h[size_t(i * cols + i)] / 2;
  return in;
}

}  // namespace

TEST(GptqGgml, DiagonalHessianKeepsTheSearchsBlocks) {
  // No off-diagonal curvature, no error feedback: each level is the nearest on its block's grid,
  // which is how ggml rounds the k-quants' final levels, so the bytes are llama-quantize's with
  // the same importance, whether the search runs before the sweep or inside it (on values no
  // feedback changed). The legacy and IQ4 searches pick their last levels with an unrounded
  // scale; there GPTQ's nearest levels are never farther from the weight than ggml's. (Searched
  // inside the sweep, one block at a time, Q4_0/Q4_1/Q5_0/Q5_1 weigh by the block's mean square
  // where ggml takes the row's: other scales, so they are left out of that check.)
  const int64_t rows = 8, cols = 512;
  std::vector<float> h(size_t(cols * cols), 0.0f), importance(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) h[size_t(i * cols + i)] = importance[size_t(i)] = 1.0f + float(i % 5);
  const auto w = random_weights(DType::F32, rows * cols, 21);
  for (GgmlType t : kGgmlGptqTypes) {
    SCOPED_TRACE(ggml_traits(t).name);
    const auto search = ggml_search_blocks(t, w, rows, cols, importance.data());
    for (auto scales : {GgmlScales::Before, GgmlScales::During})
      for (auto order : {GptqOptions::ActOrder::None, GptqOptions::ActOrder::Static}) {
        GptqOptions o;
        o.actorder = order;
        const GgmlGptqResult g =
            gptq_quantize_ggml(w.data(), DType::F32, rows, cols, t, h.data(), importance.data(), o, "w", scales);
        ASSERT_FALSE(g.rtn_fallback);
        ASSERT_EQ(g.blocks.size(), search.size());
        if (is_k_quant(t)) {
          EXPECT_EQ(g.blocks, search) << int(scales);
          continue;
        }
        if (scales == GgmlScales::During && t >= GgmlType::Q4_0 && t <= GgmlType::Q5_1) continue;
        const auto a = decode_rows(t, g.blocks, rows, cols), b = decode_rows(t, search, rows, cols);
        for (int64_t i = 0; i < rows * cols; ++i) {
          const float v = load_as_f32(w.data(), size_t(i), DType::F32);
          ASSERT_LE(std::fabs(v - a[size_t(i)]), std::fabs(v - b[size_t(i)]) * (1 + 1e-6f) + 1e-9f) << i;
        }
      }
  }
}

TEST(GptqGgml, SearchInsideTheSweepBeforeAnyFeedbackIsTheSearchBefore) {
  // One sweep block over every column: the search inside the sweep sees the original weight.
  const int64_t rows = 8, cols = 256, tokens = 256;
  const Inputs in = calibrated_inputs(tokens, cols, 4);
  const auto& h = in.h;
  const auto& importance = in.importance;
  const auto w = random_weights(DType::F32, rows * cols, 8);
  GptqOptions o;
  o.block_size = int(cols);
  for (GgmlType t : kGgmlGptqTypes) {
    if (t >= GgmlType::Q4_0 && t <= GgmlType::Q5_1) continue;  // (their row-wide mean square, above)
    SCOPED_TRACE(ggml_traits(t).name);
    const auto before = gptq_quantize_ggml(w.data(), DType::F32, rows, cols, t, h.data(), importance.data(), o, "w",
                                           GgmlScales::Before);
    const auto during = gptq_quantize_ggml(w.data(), DType::F32, rows, cols, t, h.data(), importance.data(), o, "w",
                                           GgmlScales::During);
    EXPECT_EQ(before.blocks, during.blocks);
  }
}

TEST(GptqGgml, ErrorFeedbackBeatsTheImatrixSearchOnEveryType) {
  // The same scales as llama-quantize --imatrix, better levels: the output error on correlated
  // inputs drops for every type (the importance is E[x^2], diag(H) / 2, as llama-imatrix's).
  const int64_t rows = 16, cols = 256, tokens = 512;
  const Inputs in = calibrated_inputs(tokens, cols, 5);
  const auto& x = in.x;
  const auto& h = in.h;
  const auto& importance = in.importance;
  const auto w = random_weights(DType::F32, rows * cols, 13);
  for (GgmlType t : kGgmlGptqTypes) {
    SCOPED_TRACE(ggml_traits(t).name);
    const double es = output_error_dense(w, decode_rows(t, ggml_search_blocks(t, w, rows, cols, importance.data()), rows, cols),
                                         rows, cols, x, tokens);
    for (auto scales : {GgmlScales::Before, GgmlScales::During})
    for (auto order : {GptqOptions::ActOrder::None, GptqOptions::ActOrder::Static}) {
      GptqOptions o;
      o.actorder = order;
      const GgmlGptqResult g =
          gptq_quantize_ggml(w.data(), DType::F32, rows, cols, t, h.data(), importance.data(), o, "w", scales);
      const double eg = output_error_dense(w, decode_rows(t, g.blocks, rows, cols), rows, cols, x, tokens);
      EXPECT_LT(eg, 0.9 * es) << "scales " << int(scales) << " actorder " << int(order) << ": GPTQ " << eg
                              << ", search " << es;
      EXPECT_GT(g.loss, 0);
      EXPECT_GT(g.error_sq, 0);
    }
  }
}

TEST(GptqGgml, MatchesTheUnblockedObsReferenceOnTheBlocksGrid) {
  // The same independent OBS reference as for compressed-tensors scales, quantizing each value to
  // the nearest level of its block's grid searched before the sweep (the search's blocks, each
  // position's candidates enumerated from the decoder's values over the whole level range).
  const int64_t rows = 8, cols = 256, tokens = 256;
  const Inputs in = calibrated_inputs(tokens, cols, 3);
  const auto& h = in.h;
  const auto& importance = in.importance;
  const auto w = random_weights(DType::F32, rows * cols, 11);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::IQ4_XS, GgmlType::Q4_0}) {
    SCOPED_TRACE(ggml_traits(t).name);
    const auto search = ggml_search_blocks(t, w, rows, cols, importance.data());
    const int64_t bs = ggml_traits(t).block_size, bb = ggml_traits(t).type_size;
    const GgmlCodec& codec = ggml_codec(t);
    // Each position's candidate values, by brute force over the level range.
    std::vector<std::vector<float>> candidates(size_t(rows * cols));
    std::vector<GgmlLevels> lv(static_cast<size_t>(bs));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < cols / bs; ++b) {
        codec.block_levels(search.data() + size_t(r) * *ggml_row_bytes(t, cols) + size_t(b * bb), lv.data());
        for (int64_t i = 0; i < bs; ++i)
          for (int l = lv[size_t(i)].lo; l <= lv[size_t(i)].hi; ++l)
            candidates[size_t(r * cols + b * bs + i)].push_back(lv[size_t(i)].value(l));
      }
    std::vector<float> ref(size_t(rows * cols));
    obs_reference(w.data(), rows, cols, h, [&](double v, int64_t r, int64_t j) {
      const auto& c = candidates[size_t(r * cols + j)];
      double best = c[0];
      for (float q : c)
        if (std::fabs(v - q) < std::fabs(v - best)) best = q;
      ref[size_t(r * cols + j)] = float(best);
      return best;
    });
    for (int block : {1, 32, 256}) {
      GptqOptions o;
      o.block_size = block;
      o.actorder = GptqOptions::ActOrder::None;
      const auto g = decode_rows(t, gptq_quantize_ggml(w.data(), DType::F32, rows, cols, t, h.data(), importance.data(), o,
                                                       "w", GgmlScales::Before).blocks,
                                 rows, cols);
      size_t same = 0;
      for (size_t i = 0; i < g.size(); ++i) same += g[i] == ref[i];
      EXPECT_GE(double(same), 0.98 * double(g.size())) << "block " << block;
    }
  }
}

TEST(GptqGgml, BadInputIsAUserError) {
  const int64_t rows = 2, cols = 256;
  std::vector<float> h(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) h[size_t(i * cols + i)] = 1;
  auto w = random_weights(DType::F32, rows * cols, 1);
  EXPECT_THROW(gptq_quantize_ggml(w.data(), DType::F32, rows, cols, GgmlType::F16, h.data(), nullptr, {}, "w"), UserError);
  EXPECT_THROW(gptq_quantize_ggml(w.data(), DType::F32, rows, cols, GgmlType::MXFP4, h.data(), nullptr, {}, "w"), UserError);
  EXPECT_THROW(gptq_quantize_ggml(w.data(), DType::F32, rows, 128, GgmlType::Q4_K, h.data(), nullptr, {}, "w"), UserError);
  store_from_f32(w.data(), 5, DType::F32, std::nanf(""));
  EXPECT_THROW(gptq_quantize_ggml(w.data(), DType::F32, rows, cols, GgmlType::Q4_0, h.data(), nullptr, {}, "w"), UserError);
}
