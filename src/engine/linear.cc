#include "engine/linear.h"

#include <cblas.h>

#include <algorithm>

#include "core/isa.h"
#include "engine/gemm_bf16.h"
#include "numerics/convert.h"
#include "numerics/half.h"

namespace lowbit::engine {

namespace {
// Rows of W decoded per sgemm call: about 4M floats (16 MB), so a layer takes a few large
// BLAS calls instead of many small ones, and memory stays bounded for any K.
int64_t tile_rows(int64_t out, int64_t in) {
  return std::min(out, std::max<int64_t>(64, (int64_t(4) << 20) / std::max<int64_t>(in, 1)));
}

LOWBIT_KERNEL(float, dot, (const float* a, const float* b, int64_t n), (a, b, n)) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}
}  // namespace

// A few tokens (generation): memory-bound, so each thread decodes a small block of rows
// into a cache-sized buffer and takes dot products, instead of one big tile and sgemm.
void Linear::forward_few(const float* x, int64_t tokens, float* y) const {
  constexpr int64_t kRows = 32;
  const int64_t blocks = (out_ + kRows - 1) / kRows;
#pragma omp parallel
  {
    std::vector<float> buf(size_t(kRows * in_));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * kRows, r1 = std::min(out_, r0 + kRows);
      rows_f32(r0, r1, buf.data());
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = r0; r < r1; ++r) y[t * out_ + r] = dot(buf.data() + (r - r0) * in_, x + t * in_, in_);
    }
  }
}

void Linear::forward(const float* x, int64_t tokens, float* y) const {
  if (tokens <= 4) {
    forward_few(x, tokens, y);
    add_bias(tokens, y);
    return;
  }
  const int64_t rows = tile_rows(out_, in_);
  if (bf16_products_) {
    const auto& tiles = packed_tiles();
    for (size_t t = 0; t < tiles.size(); ++t) gemm_bf16(x, tokens, tiles[t], y + int64_t(t) * rows, out_);
    add_bias(tokens, y);
    return;
  }
  std::vector<float> tile(size_t(rows * in_));
  for (int64_t r0 = 0; r0 < out_; r0 += rows) {
    const int64_t r1 = std::min(out_, r0 + rows), n = r1 - r0;
    rows_f32(r0, r1, tile.data());
    // y[:, r0:r1] = x [T, K] * tile^T [K, n]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(tokens), int(n), int(in_), 1.0f, x, int(in_),
                tile.data(), int(in_), 0.0f, y + r0, int(out_));
  }
  add_bias(tokens, y);
}

const std::vector<PackedBf16>& Linear::packed_tiles() const {
  std::lock_guard<std::mutex> lock(pack_mutex_);
  if (packed_.empty()) {
    const int64_t rows = tile_rows(out_, in_);
    std::vector<float> tile(size_t(rows * in_));
    for (int64_t r0 = 0; r0 < out_; r0 += rows) {
      const int64_t r1 = std::min(out_, r0 + rows);
      rows_f32(r0, r1, tile.data());
      packed_.push_back(pack_bf16_rows(tile.data(), r1 - r0, in_));
    }
  }
  return packed_;
}

void Linear::add_bias(int64_t tokens, float* y) const {
  if (bias_) {
    std::vector<float> b(static_cast<size_t>(out_));
    to_f32(bias_, bias_dtype_, 0, size_t(out_), b.data());
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t o = 0; o < out_; ++o) y[t * out_ + o] += b[size_t(o)];
  }
}

void DenseLinear::rows_f32(int64_t r0, int64_t r1, float* dst) const {
  const int64_t k = in();
#pragma omp parallel for schedule(static)
  for (int64_t r = r0; r < r1; ++r) to_f32(data_, dtype_, size_t(r * k), size_t(k), dst + (r - r0) * k);
}

}  // namespace lowbit::engine
