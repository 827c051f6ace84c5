#include "engine/gemm_bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "numerics/half.h"

using namespace lowbit;

namespace {
std::vector<float> random_values(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}
float bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// Every path this CPU can run: the default one (Native or Sgemm), the emulation, and sgemm.
std::vector<engine::Bf16Path> paths() {
  std::vector<engine::Bf16Path> out{engine::Bf16Path::Emulated, engine::Bf16Path::Sgemm};
  if (engine::bf16_dot_products_native()) out.push_back(engine::Bf16Path::Native);
  return out;
}
}  // namespace

TEST(GemmBf16, DefaultPathIsNativeWhereTheCpuAllowsElseSgemm) {
  EXPECT_EQ(engine::bf16_default_path(),
            engine::bf16_dot_products_native() ? engine::Bf16Path::Native : engine::Bf16Path::Sgemm);
}

TEST(GemmBf16, SmallProductByHand) {
  // BF16 keeps 8 significant bits: 1 + 2^-9 rounds to 1; 3 + 2^-6 is exact; 3 + 2^-7 is a tie
  // that rounds to even, 3.
  const std::vector<float> a = {1.0f + 1.0f / 512, 2.0f, 3.015625f, 3.0078125f};
  const std::vector<float> b = {0.5f, 0.25f, 1.0f, 0.0f, -1.0f, 0.0f, 2.0f, 1.0f};  // B [2, 4]
  const engine::PackedBf16 p = engine::pack_bf16_rows(b.data(), 2, 4);
  for (const auto path : paths()) {
    float c[2] = {9, 9};
    engine::gemm_bf16(a.data(), 1, p, c, 2, path);
    EXPECT_EQ(c[0], 0.5f + 0.5f + 3.015625f) << int(path);
    EXPECT_EQ(c[1], -1.0f + 2 * 3.015625f + 3.0f) << int(path);
  }
}

TEST(GemmBf16, EqualsADoubleReferenceOnBf16InputsAtEveryEdgeShape) {
  for (const auto path : paths())
  for (const auto layout : {engine::Bf16Path::Emulated, engine::Bf16Path::Sgemm})  // B in pairs, or in rows
  for (int64_t M : {1, 7, 8, 9, 17})
    for (int64_t N : {1, 31, 32, 33, 70})
      for (int64_t K : {1, 2, 3, 64, 129}) {
        const auto a = random_values(M * K, uint32_t(M * 1000 + N * 10 + K));
        const auto b = random_values(N * K, uint32_t(K * 1000 + N), 0.1f);
        const engine::PackedBf16 p = engine::pack_bf16_rows(b.data(), N, K, layout);
        const int64_t ldc = N + 3;
        std::vector<float> c(size_t(M * ldc), -7.0f);
        engine::gemm_bf16(a.data(), M, p, c.data(), ldc, path);
        for (int64_t m = 0; m < M; ++m) {
          for (int64_t n = 0; n < N; ++n) {
            double want = 0, mag = 0;
            for (int64_t k = 0; k < K; ++k) {
              const double t = double(bf16(a[size_t(m * K + k)])) * double(bf16(b[size_t(n * K + k)]));
              want += t, mag += std::fabs(t);
            }
            // float32 accumulation of exact products: error below K ulps of the magnitude sum.
            ASSERT_NEAR(c[size_t(m * ldc + n)], want, 1e-7 * double(K + 1) * mag + 1e-30)
                << M << "x" << N << "x" << K << " at " << m << "," << n << " path " << int(path);
          }
          for (int64_t n = N; n < ldc; ++n) ASSERT_EQ(c[size_t(m * ldc + n)], -7.0f) << "wrote past N";
        }
      }
}

TEST(GemmBf16, NativeAndPortablePathsAreBitIdentical) {
  if (!engine::bf16_dot_products_native()) GTEST_SKIP() << "no AVX512-BF16 here (or LOWBIT_ISA caps it)";
  const int64_t M = 45, N = 77, K = 1537;
  auto a = random_values(M * K, 1);
  auto b = random_values(N * K, 2, 0.05f);
  a[5] = 1e-39f, b[7] = -1e-39f, a[9] = 3e38f;  // a denormal each side (flushed) and a huge value
  const engine::PackedBf16 p = engine::pack_bf16_rows(b.data(), N, K);
  std::vector<float> native(size_t(M * N)), portable(size_t(M * N));
  engine::gemm_bf16(a.data(), M, p, native.data(), N, engine::Bf16Path::Native);
  engine::gemm_bf16(a.data(), M, p, portable.data(), N, engine::Bf16Path::Emulated);
  for (size_t i = 0; i < native.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(native[i]), std::bit_cast<uint32_t>(portable[i])) << i;
}

TEST(SyrkBf16, AddsTwiceXTransposeXToTheUpperTriangle) {
  for (const auto path : paths())
  for (int64_t T : {1, 2, 5, 64})
    for (int64_t K : {1, 9, 32, 70}) {
      const auto x = random_values(T * K, uint32_t(T * 100 + K));
      std::vector<float> c(size_t(K * K));
      for (int64_t i = 0; i < K * K; ++i) c[size_t(i)] = float(i % 7) - 3.0f;  // accumulated onto
      const std::vector<float> before = c;
      engine::syrk_bf16_upper(x.data(), T, K, 2.0f, c.data(), path);
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = i; j < K; ++j) {
          double sum = 0, mag = 0;
          for (int64_t t = 0; t < T; ++t) {
            const double p = double(bf16(x[size_t(t * K + i)])) * double(bf16(x[size_t(t * K + j)]));
            sum += p, mag += std::fabs(p);
          }
          const double want = double(before[size_t(i * K + j)]) + 2 * sum;
          ASSERT_NEAR(c[size_t(i * K + j)], want, 1e-7 * double(T + 2) * (2 * mag + 4)) << T << "x" << K << " " << i << "," << j << " path " << int(path);
        }
    }
}

TEST(SyrkBf16, NativeAndPortablePathsAreBitIdentical) {
  if (!engine::bf16_dot_products_native()) GTEST_SKIP() << "no AVX512-BF16 here (or LOWBIT_ISA caps it)";
  const int64_t T = 77, K = 101;
  const auto x = random_values(T * K, 3);
  std::vector<float> native(size_t(K * K), 0.5f), portable = native;
  for (int rep = 0; rep < 2; ++rep) {
    engine::syrk_bf16_upper(x.data(), T, K, 2.0f, native.data(), engine::Bf16Path::Native);
    engine::syrk_bf16_upper(x.data(), T, K, 2.0f, portable.data(), engine::Bf16Path::Emulated);
  }
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i; j < K; ++j)
      ASSERT_EQ(std::bit_cast<uint32_t>(native[size_t(i * K + j)]), std::bit_cast<uint32_t>(portable[size_t(i * K + j)]));
}
