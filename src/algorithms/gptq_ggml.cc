#include "algorithms/gptq_ggml.h"

#include <cstring>

#include "algorithms/gptq_solver.h"
#include "core/error.h"
#include "numerics/convert.h"
#include "numerics/formats.h"
#include "numerics/ggml_quants.h"
#include "numerics/scan.h"

namespace lowbit::algorithms {

namespace {

// Every ggml type's levels change at most every 16 values (k-quant sub-blocks of 16 or 32,
// legacy blocks of 32), so one GgmlLevels per 16 values holds a weight's whole grid.
constexpr int64_t kLevelRun = 16;

}  // namespace

GgmlGptqResult gptq_quantize_ggml(const void* w, DType dtype, int64_t rows, int64_t cols, GgmlType type,
                                  const float* hessian, const float* importance, const GptqOptions& o,
                                  const std::string& name, GgmlScales scales) {
  const GgmlCodec& codec = ggml_codec(type);
  const GgmlTypeTraits& gt = ggml_traits(type);
  if (!codec.block_levels)
    throw UserError(name + ": GPTQ does not run on " + std::string(gt.name) +
                    " (no per-block levels to re-pick; it is written as it is quantized)");
  const auto row_bytes = ggml_row_bytes(type, cols);
  if (!row_bytes || cols % kLevelRun != 0)
    throw UserError(name + ": a row of " + std::to_string(cols) + " values is not a whole number of " +
                    std::string(gt.name) + " blocks");
  if (const int64_t bad = find_non_finite(w, rows * cols, dtype); bad >= 0)
    throw UserError(name + ": NaN or Inf at flat index " + std::to_string(bad));
  detail::check_gptq_options(o, cols, name);

  // 1. The search's blocks for the original weight: the scales (GgmlScales::Before), and the fallback.
  GgmlGptqResult res;
  {
    std::vector<float> x(size_t(rows * cols));
    to_f32(w, dtype, 0, size_t(rows * cols), x.data());
    res.blocks.resize(size_t(rows) * *row_bytes);
    ggml_quantize_rows(type, x.data(), res.blocks.data(), rows, cols, importance);  // (types that ignore it, ignore it)
  }
  const int64_t bs = gt.block_size, bb = gt.type_size, blocks_per_row = cols / bs;

  // 2. Their grids, one GgmlLevels per run of 16 values.
  const int64_t runs = cols / kLevelRun;
  std::vector<GgmlLevels> grid(size_t(rows * runs));
  auto block_of = [&](int64_t r, int64_t b) { return res.blocks.data() + size_t(r) * *row_bytes + size_t(b * bb); };
  auto fill_grid = [&](int64_t r, int64_t b, std::vector<GgmlLevels>& lv) {
    codec.block_levels(block_of(r, b), lv.data());
    for (int64_t i = 0; i < bs; i += kLevelRun) grid[size_t(r * runs + (b * bs + i) / kLevelRun)] = lv[size_t(i)];
  };
#pragma omp parallel
  {
    std::vector<GgmlLevels> lv(static_cast<size_t>(bs));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks_per_row; ++b) fill_grid(r, b, lv);
  }

  // 3. The sweep: each value's level re-picked on its run's grid; with GgmlScales::During, each
  // block searched again on the error-fed values when the sweep first reaches one of its columns.
  detail::GptqSetup setup = detail::gptq_setup(w, dtype, rows, cols, hessian, o, name);
  res.dampening_frac = setup.dampening_frac;
  res.note = setup.note;
  std::vector<uint8_t> levels(size_t(rows * cols));
  if (!setup.inv) {
    res.rtn_fallback = true;
  } else {
    std::vector<int64_t> position(static_cast<size_t>(cols));  // original column -> sweep position
    for (int64_t j = 0; j < cols; ++j) position[size_t(setup.perm[size_t(j)])] = j;
    std::vector<char> searched(size_t(blocks_per_row), scales == GgmlScales::Before);
    const float* wt = setup.wt.data();
    auto search_reached = [&](int64_t i1, int64_t i2) {
      std::vector<int64_t> reached;
      for (int64_t j = i1; j < i2; ++j)
        if (const int64_t b = setup.perm[size_t(j)] / bs; !searched[size_t(b)]) searched[size_t(b)] = 1, reached.push_back(b);
      if (reached.empty()) return;
#pragma omp parallel
      {
        std::vector<float> x(static_cast<size_t>(bs));
        std::vector<GgmlLevels> lv(static_cast<size_t>(bs));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t b : reached) {
            for (int64_t i = 0; i < bs; ++i) x[size_t(i)] = wt[size_t(position[size_t(b * bs + i)] * rows + r)];
            codec.quantize_row(x.data(), block_of(r, b), bs, importance && codec.uses_importance ? importance + b * bs : nullptr);
            fill_grid(r, b, lv);
          }
      }
    };
    res.loss = detail::gptq_sweep(
        setup, rows, cols, o.block_size,
        [&](float x, int64_t r, int64_t c) {
          const GgmlLevels& g = grid[size_t(r * runs + c / kLevelRun)];
          const int l = g.nearest(x);
          levels[size_t(r * cols + c)] = uint8_t(l);
          return g.value(l);
        },
        search_reached);
    // 4. The levels into the blocks (scales untouched).
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks_per_row; ++b)
        codec.pack_levels(levels.data() + size_t(r * cols + b * bs), block_of(r, b));
  }

  // The error against the original weight, from the blocks as the decoder reads them.
  double err = 0, norm = 0;
#pragma omp parallel reduction(+ : err, norm)
  {
    std::vector<float> dq(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      ggml_dequantize(type, res.blocks.data() + size_t(r) * *row_bytes, dq.data(), cols);
      for (int64_t c = 0; c < cols; ++c) {
        const double v = load_as_f32(w, size_t(r * cols + c), dtype), d = v - dq[size_t(c)];
        err += d * d;
        norm += v * v;
      }
    }
  }
  res.error_sq = err;
  res.norm_sq = norm;
  return res;
}

}  // namespace lowbit::algorithms
