// bench_gemm: this machine's peaks and the engine's two GEMMs at calibration's shapes.
// Peaks: 10 independent chains of 512-bit float32 FMAs, and of vdpbf16ps (AVX512-BF16), on every
// thread. GEMMs: C[M, N] = A[M, K] B[N, K]^T as the engine's Linear runs them: OpenBLAS sgemm on
// float32, and gemm_bf16 (A and B rounded to BF16, float32 sums; B packed once, as a layer's
// weights are packed once per layer). Prints GFLOP/s and the share of the matching peak (the
// float32 one, 256-bit on an AVX2 machine, where gemm_bf16 runs through sgemm).
//
//   build/bench_gemm [--m 512] [--reps 5]      (threads: OMP_NUM_THREADS)
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 false positive in _mm512_reduce_add_ps
#include <cblas.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/gemm_bf16.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

#if defined(__GNUC__) && defined(__x86_64__)
#define LOWBIT_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
[[gnu::target("avx512f")]] double peak_fp32(long iters) {
  float sink = 0;
  const double t = now();
#pragma omp parallel reduction(+ : sink)
  {
#define INIT(i) __m512 a##i = _mm512_set1_ps(float(i) * 1e-9f);
    LOWBIT_CHAINS(INIT)
    const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-9f);
    for (long it = 0; it < iters; ++it) {
#define FMA(i) a##i = _mm512_fmadd_ps(a##i, b, c);
      LOWBIT_CHAINS(FMA)
      __asm__ volatile("" ::: "memory");
    }
#define SUM(i) sink += _mm512_reduce_add_ps(a##i);
    LOWBIT_CHAINS(SUM)
  }
  const double dt = now() - t;
  if (sink == 42) std::puts("");
  return omp_get_max_threads() * double(iters) * 10 * 32 / dt / 1e9;
}

// The same on 256-bit registers (AVX2 + FMA machines: their float32 peak).
[[gnu::target("avx2,fma")]] double peak_fp32_avx2(long iters) {
  float sink = 0;
  const double t = now();
#pragma omp parallel reduction(+ : sink)
  {
#define INIT8(i) __m256 a##i = _mm256_set1_ps(float(i) * 1e-9f);
    LOWBIT_CHAINS(INIT8)
    const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-9f);
    for (long it = 0; it < iters; ++it) {
#define FMA8(i) a##i = _mm256_fmadd_ps(a##i, b, c);
      LOWBIT_CHAINS(FMA8)
      __asm__ volatile("" ::: "memory");
    }
    float lanes[8];
#define SUM8(i) _mm256_storeu_ps(lanes, a##i); for (float l : lanes) sink += l;
    LOWBIT_CHAINS(SUM8)
  }
  const double dt = now() - t;
  if (sink == 42) std::puts("");
  return omp_get_max_threads() * double(iters) * 10 * 16 / dt / 1e9;
}

[[gnu::target("avx512f,avx512bf16")]] double peak_bf16(long iters) {
  float sink = 0;
  const double t = now();
#pragma omp parallel reduction(+ : sink)
  {
    LOWBIT_CHAINS(INIT)
    const __m512bh b = __m512bh(_mm512_set1_epi16(0x3f80)), c = __m512bh(_mm512_set1_epi16(0x3000));
    for (long it = 0; it < iters; ++it) {
#define DOT(i) a##i = _mm512_dpbf16_ps(a##i, b, c);
      LOWBIT_CHAINS(DOT)
      __asm__ volatile("" ::: "memory");
    }
    LOWBIT_CHAINS(SUM)
  }
  const double dt = now() - t;
  if (sink == 42) std::puts("");
  return omp_get_max_threads() * double(iters) * 10 * 64 / dt / 1e9;  // 16 lanes x 2 products x 2 FLOP
}
#endif

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  int64_t M = 512;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--m" && i + 1 < argc) M = std::stoll(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_gemm [--m 512] [--reps 5]   (threads: OMP_NUM_THREADS)\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  double fp32 = 0, bf16 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) fp32 = peak_fp32(20000000);
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) fp32 = peak_fp32_avx2(20000000);
  if (__builtin_cpu_supports("avx512bf16")) bf16 = peak_bf16(20000000);
#endif
  std::printf("%d threads; peak float32 FMA %.1f GFLOP/s, peak vdpbf16ps %.1f GFLOP/s; gemm_bf16 %s\n",
              omp_get_max_threads(), fp32, bf16,
              lowbit::engine::bf16_dot_products_native() ? "native (vdpbf16ps)" : "via sgemm (no AVX512-BF16 here)");
  std::printf("%6s %6s %6s %14s %8s %14s %8s %8s\n", "M", "N", "K", "sgemm GFLOP/s", "of peak", "bf16 GFLOP/s",
              "of peak", "speedup");
  const int64_t shapes[][2] = {{576, 576},    {192, 576},    {1536, 576},  {576, 1536},
                               {4096, 4096}, {11008, 4096}, {4096, 11008}};
  for (const auto& s : shapes) {
    const int64_t N = s[0], K = s[1];
    const auto a = random_values(size_t(M * K), 1), b = random_values(size_t(N * K), 2);
    std::vector<float> c(size_t(M * N));
    const double flops = 2.0 * double(M) * double(N) * double(K);
    auto best = [&](auto&& f) {
      double t = 1e30;
      for (int r = 0; r < reps; ++r) {
        const double t0 = now();
        f();
        t = std::min(t, now() - t0);
      }
      return flops / t / 1e9;
    };
    const double sg = best([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, a.data(), int(K), b.data(),
                  int(K), 0.0f, c.data(), int(N));
    });
    const auto packed = lowbit::engine::pack_bf16_rows(b.data(), N, K);
    const double bg = best([&] { lowbit::engine::gemm_bf16(a.data(), M, packed, c.data(), N); });
    std::printf("%6lld %6lld %6lld %14.1f %7.0f%% %14.1f %7.0f%% %7.2fx\n", (long long)M, (long long)N, (long long)K, sg,
                fp32 > 0 ? 100 * sg / fp32 : 0.0, bg, bf16 > 0 ? 100 * bg / bf16 : fp32 > 0 ? 100 * bg / fp32 : 0.0,
                bg / sg);
  }
}
