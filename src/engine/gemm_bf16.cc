#include "engine/gemm_bf16.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <memory>

#include "core/isa.h"
#include "numerics/half.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define LOWBIT_HAVE_AVX512BF16_KERNEL 1
#endif

namespace lowbit::engine {

namespace {
constexpr int kPanel = 32;  // columns of C per panel: two zmm registers of float32
constexpr int kRows = 8;    // rows of C per micro-tile: 8 x 2 accumulators

// BF16, nearest even (NaN stays NaN, as f32_to_bf16); denormals flushed to zero here, as
// vdpbf16ps would treat them on input. Branch-free, so the packing loops vectorise.
inline uint32_t bf16_bits(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t h = (u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded;
  return (h & 0x7f80u) == 0 ? h & 0x8000u : h;
}

void pack_pairs(const float* row, int64_t k, uint32_t* out, int64_t stride) {
  for (int64_t p = 0; p < (k + 1) / 2; ++p) {
    const uint32_t lo = bf16_bits(row[2 * p]), hi = 2 * p + 1 < k ? bf16_bits(row[2 * p + 1]) : 0;
    out[p * stride] = lo | hi << 16;
  }
}

// One row of A into consecutive pairs (the hot packing: every product packs its activations).
LOWBIT_KERNEL(void, pack_row, (const float* row, int64_t k, uint32_t* out), (row, k, out)) {
  const int64_t full = k / 2;
  for (int64_t p = 0; p < full; ++p) out[p] = bf16_bits(row[2 * p]) | bf16_bits(row[2 * p + 1]) << 16;
  if (k % 2) out[full] = bf16_bits(row[k - 1]);
}

float ftz(float x) { return std::fabs(x) < FLT_MIN ? std::copysign(0.0f, x) : x; }

// The portable kernel: one row of A against one panel, lane by lane as vdpbf16ps adds.
LOWBIT_KERNEL(void, panel_row_emulated, (const uint32_t* a, const uint32_t* panel, int64_t pairs, float* acc),
              (a, panel, pairs, acc)) {
  for (int j = 0; j < kPanel; ++j) acc[j] = 0.0f;
  for (int64_t p = 0; p < pairs; ++p) {
    const uint32_t av = a[p];
    const float a_hi = std::bit_cast<float>(av & 0xffff0000u), a_lo = std::bit_cast<float>(av << 16);
    const uint32_t* b = panel + p * kPanel;
    for (int j = 0; j < kPanel; ++j) {
      acc[j] = ftz(acc[j] + a_hi * std::bit_cast<float>(b[j] & 0xffff0000u));
      acc[j] = ftz(acc[j] + a_lo * std::bit_cast<float>(b[j] << 16));
    }
  }
}

#ifdef LOWBIT_HAVE_AVX512BF16_KERNEL
template <int R>
[[gnu::target("avx512f,avx512bw,avx512bf16")]] void tile_native(const uint32_t* a, int64_t pairs,
                                                                  const uint32_t* panel, float* c, int64_t ldc,
                                                                  int cols, float alpha, bool accumulate) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = _mm512_setzero_ps(), acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512i b0 = _mm512_loadu_si512(panel + p * kPanel), b1 = _mm512_loadu_si512(panel + p * kPanel + 16);
    for (int r = 0; r < R; ++r) {
      const __m512i av = _mm512_set1_epi32(int(a[r * pairs + p]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], __m512bh(av), __m512bh(b0));
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], __m512bh(av), __m512bh(b1));
    }
  }
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xffff) : cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
  if (accumulate) {
    const __m512 al = _mm512_set1_ps(alpha);
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + r * ldc), _mm512_mul_ps(al, acc[r][0]));
      acc[r][1] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + r * ldc + 16), _mm512_mul_ps(al, acc[r][1]));
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][1]);
  }
}

using TileFn = void (*)(const uint32_t*, int64_t, const uint32_t*, float*, int64_t, int, float, bool);
constexpr TileFn kTiles[kRows + 1] = {nullptr,         tile_native<1>, tile_native<2>, tile_native<3>, tile_native<4>,
                                      tile_native<5>, tile_native<6>, tile_native<7>, tile_native<8>};
#endif

}  // namespace

bool bf16_dot_products_native() {
#ifdef LOWBIT_HAVE_AVX512BF16_KERNEL
  static const bool native = [] {
    __builtin_cpu_init();
    return active_isa() == Isa::V4 && __builtin_cpu_supports("avx512bf16");
  }();
  return native;
#else
  return false;
#endif
}

PackedBf16 pack_bf16_rows(const float* b, int64_t n, int64_t k) {
  return pack_bf16_rows(b, n, k, bf16_default_path());
}

PackedBf16 pack_bf16_rows(const float* b, int64_t n, int64_t k, Bf16Path layout_for) {
  PackedBf16 out;
  out.n = n, out.k = k;
  if (layout_for == Bf16Path::Sgemm) {
    out.rows.resize(size_t(n * k));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n * k; ++i) out.rows[size_t(i)] = std::bit_cast<float>(bf16_bits(b[i]) << 16);
    return out;
  }
  const int64_t pairs = out.pairs(), panels = out.panels();
  out.data.assign(size_t(panels * pairs * kPanel), 0u);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r)
    pack_pairs(b + r * k, k, out.data.data() + (r / kPanel) * pairs * kPanel + r % kPanel, kPanel);
  return out;
}

namespace {
// What a tile writes: c = sum, or c += alpha * sum.
struct Store {
  float alpha = 1.0f;
  bool accumulate = false;
};

// C tiles of `ap` (A packed by rows: M x pairs dwords) against the panels of `b`; with `upper`,
// only tiles that reach on or above the diagonal (C square, ldc >= n).
void run(const uint32_t* ap, int64_t M, const PackedBf16& b, float* c, int64_t ldc, Store st, bool upper,
         [[maybe_unused]] bool native) {
  const int64_t pairs = b.pairs(), panels = b.panels(), blocks = (M + kRows - 1) / kRows;
  // Tasks panel-major, so a thread's consecutive tasks reuse one panel of B from its cache.
  std::vector<int64_t> tasks;
  tasks.reserve(size_t(panels * blocks));
  for (int64_t panel = 0; panel < panels; ++panel)
    for (int64_t blk = 0; blk < blocks; ++blk)
      if (!upper || blk * kRows < (panel + 1) * kPanel) tasks.push_back(panel * blocks + blk);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < tasks.size(); ++i) {
    const int64_t t = tasks[i], panel = t / blocks, m0 = (t % blocks) * kRows, rows = std::min<int64_t>(kRows, M - m0);
    const int cols = int(std::min<int64_t>(kPanel, b.n - panel * kPanel));
    const uint32_t* bpan = b.data.data() + panel * pairs * kPanel;
    float* ct = c + m0 * ldc + panel * kPanel;
#ifdef LOWBIT_HAVE_AVX512BF16_KERNEL
    if (native) {
      kTiles[rows](ap + m0 * pairs, pairs, bpan, ct, ldc, cols, st.alpha, st.accumulate);
      continue;
    }
#endif
    float acc[kPanel];
    for (int64_t r = 0; r < rows; ++r) {
      panel_row_emulated(ap + (m0 + r) * pairs, bpan, pairs, acc);
      float* cr = ct + r * ldc;
      for (int j = 0; j < cols; ++j) cr[j] = st.accumulate ? cr[j] + st.alpha * acc[j] : acc[j];
    }
  }
}

void gemm(const float* a, int64_t M, const PackedBf16& packed, float* c, int64_t ldc, bool native) {
  if (M <= 0 || packed.n <= 0) return;
  PackedBf16 repacked;
  if (packed.data.empty()) repacked = pack_bf16_rows(packed.rows.data(), packed.n, packed.k, Bf16Path::Emulated);
  const PackedBf16& b = packed.data.empty() ? repacked : packed;
  std::unique_ptr<uint32_t[]> ap(new uint32_t[size_t(M * b.pairs())]);  // every dword written below
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) pack_row(a + m * b.k, b.k, ap.get() + m * b.pairs());
  run(ap.get(), M, b, c, ldc, Store{}, false, native);
}

void syrk(const float* x, int64_t T, int64_t K, float alpha, float* c, bool native) {
  if (T <= 0 || K <= 0) return;
  // Both sides are X^T [K, T], paired along the tokens: row i of A is channel i.
  PackedBf16 b;
  b.n = K, b.k = T;
  const int64_t pairs = b.pairs();
  std::vector<uint32_t> ap(size_t(K * pairs));
  b.data.assign(size_t(b.panels() * pairs * kPanel), 0u);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < pairs; ++p) {
    const float* r0 = x + 2 * p * K;
    const float* r1 = 2 * p + 1 < T ? r0 + K : nullptr;
    for (int64_t i = 0; i < K; ++i) {
      const uint32_t v = bf16_bits(r0[i]) | (r1 ? bf16_bits(r1[i]) : 0u) << 16;
      ap[size_t(i * pairs + p)] = v;
      b.data[size_t((i / kPanel) * pairs * kPanel + p * kPanel + i % kPanel)] = v;
    }
  }
  run(ap.data(), K, b, c, K, Store{alpha, true}, true, native);
}

// x rounded to BF16 (as float32 values; denormals flushed as above).
std::vector<float> rounded(const float* x, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = std::bit_cast<float>(bf16_bits(x[i]) << 16);
  return out;
}

// The sgemm path (B unpacked from its panels if it was packed for the other paths).
void gemm_sgemm(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc) {
  if (M <= 0 || b.n <= 0) return;
  const int64_t pairs = b.pairs(), k = b.k;
  std::vector<float> bf(b.rows.empty() ? size_t(b.n * k) : 0);
#pragma omp parallel for schedule(static) if (b.rows.empty())
  for (int64_t n = 0; n < (b.rows.empty() ? b.n : 0); ++n) {
    const uint32_t* col = b.data.data() + (n / kPanel) * pairs * kPanel + n % kPanel;
    float* row = bf.data() + n * k;
    for (int64_t p = 0; p < pairs; ++p) {
      const uint32_t v = col[p * kPanel];
      row[2 * p] = std::bit_cast<float>(v << 16);
      if (2 * p + 1 < k) row[2 * p + 1] = std::bit_cast<float>(v & 0xffff0000u);
    }
  }
  const std::vector<float> ar = rounded(a, M * k);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(b.n), int(k), 1.0f, ar.data(), int(k),
              b.rows.empty() ? bf.data() : b.rows.data(), int(k), 0.0f, c, int(ldc));
}

void syrk_sgemm(const float* x, int64_t T, int64_t K, float alpha, float* c) {
  if (T <= 0 || K <= 0) return;
  const std::vector<float> xr = rounded(x, T * K);
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(K), int(T), alpha, xr.data(), int(K), 1.0f, c, int(K));
}
}  // namespace

Bf16Path bf16_default_path() { return bf16_dot_products_native() ? Bf16Path::Native : Bf16Path::Sgemm; }

void gemm_bf16(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc, Bf16Path path) {
  if (path == Bf16Path::Sgemm) return gemm_sgemm(a, M, b, c, ldc);
  gemm(a, M, b, c, ldc, path == Bf16Path::Native && bf16_dot_products_native());
}

void syrk_bf16_upper(const float* x, int64_t T, int64_t K, float alpha, float* c, Bf16Path path) {
  if (path == Bf16Path::Sgemm) return syrk_sgemm(x, T, K, alpha, c);
  syrk(x, T, K, alpha, c, path == Bf16Path::Native && bf16_dot_products_native());
}

void gemm_bf16(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc) {
  gemm_bf16(a, M, b, c, ldc, bf16_default_path());
}

void syrk_bf16_upper(const float* x, int64_t T, int64_t K, float alpha, float* c) {
  syrk_bf16_upper(x, T, K, alpha, c, bf16_default_path());
}

}  // namespace lowbit::engine
