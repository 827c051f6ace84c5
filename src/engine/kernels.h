// Element-wise kernels of the forward pass that are worth vectorising: exp for the
// softmax and SiLU (glibc's expf is scalar; this one is a Cephes-style polynomial within
// ~2 ulp that GCC vectorises), the SwiGLU product and the causal softmax row.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace lowbit::engine {

// e^x for finite x (clamped to the float range: e^-87.3 ... e^88.3).
[[gnu::always_inline]] inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float n = (x * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f;  // round to nearest
  float r = x - n * 0.693359375f;                                      // Cody-Waite: ln 2 in two parts
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * __builtin_bit_cast(float, (int32_t(n) + 127) << 23);  // builtin: inlines into every ISA clone
}

// HF RMSNorm: out = x / sqrt(mean(x^2) + eps) * weight, per row of n; weight is n elements
// of `dtype` (a float dtype). out may alias x.
void rms_norm(const float* x, const void* weight, DType dtype, int64_t rows, int64_t n, double eps, float* out);

// x[i] += y[i] for i in [0, n) (the residual add).
void add_into(float* x, const float* y, int64_t n);

// g[i] = silu(g[i]) * u[i] for i in [0, n).
void silu_mul(float* g, const float* u, int64_t n);

// Softmax over row[0, valid) in place; row[valid, total) set to 0 (the causal mask).
void softmax_masked(float* row, int64_t valid, int64_t total);

}  // namespace lowbit::engine
