#include "engine/kernels.h"

#include <algorithm>
#include <cmath>

#include "core/isa.h"
#include "numerics/half.h"

namespace lowbit::engine {

namespace {
LOWBIT_KERNEL(void, silu_mul_run, (float* g, const float* u, int64_t n), (g, u, n)) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + fast_exp(-g[i])) * u[i];
}
LOWBIT_KERNEL(void, softmax_run, (float* row, int64_t valid, int64_t total), (row, valid, total)) {
  float mx = -INFINITY;
  for (int64_t s = 0; s < valid; ++s) mx = std::max(mx, row[s]);
  float sum = 0;
  for (int64_t s = 0; s < valid; ++s) {
    row[s] = fast_exp(row[s] - mx);
    sum += row[s];
  }
  const float inv = 1.0f / sum;
  for (int64_t s = 0; s < valid; ++s) row[s] *= inv;
  for (int64_t s = valid; s < total; ++s) row[s] = 0.0f;
}
}  // namespace

void softmax_masked(float* row, int64_t valid, int64_t total) { softmax_run(row, valid, total); }

void rms_norm(const float* x, const void* w, DType dt, int64_t rows, int64_t n, double eps, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * xr[i];
    const float inv = float(1.0 / std::sqrt(ss / double(n) + eps));
    for (int64_t i = 0; i < n; ++i) out[r * n + i] = xr[i] * inv * load_as_f32(w, size_t(i), dt);
  }
}

void add_into(float* x, const float* y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void silu_mul(float* g, const float* u, int64_t n) {
  constexpr int64_t kChunk = 1 << 14;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n; b += kChunk) silu_mul_run(g + b, u + b, std::min(kChunk, n - b));
}


}  // namespace lowbit::engine
