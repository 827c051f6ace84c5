// C[M, N] = A[M, K] B[N, K]^T with A and B rounded to BF16 and the products summed in float32:
// the arithmetic of a BF16 model's matmuls (as PyTorch runs llm-compressor's calibration), at
// twice the float32 FMA rate on CPUs with AVX512-BF16 (vdpbf16ps). Elsewhere, or with
// LOWBIT_ISA below x86-64-v4, the same instruction's arithmetic runs in float32 code, so the
// result is bit-identical on every machine: a BF16 x BF16 product is exact in float32, and each
// lane adds its pair's odd product, then its even one, flushing denormals as vdpbf16ps does.
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::engine {

// B packed for the kernel: panels of 32 rows of B (columns of C); in each panel, for each pair of
// K indices (k, k+1), 32 dwords holding bf16(B[n][k]) | bf16(B[n][k+1]) << 16. K is padded to even
// and N to a multiple of 32 with zeros.
struct PackedBf16 {
  int64_t n = 0, k = 0;
  std::vector<uint32_t> data;
  int64_t pairs() const { return (k + 1) / 2; }
  int64_t panels() const { return (n + 31) / 32; }
};

// Packs rows [0, n) of B, given as float32 row-major [n, k] (rounded to BF16, nearest even).
PackedBf16 pack_bf16_rows(const float* b, int64_t n, int64_t k);

// c[m * ldc + j] = sum_k bf16(a[m * k + k']) * B[j][k'] for m < M, j < b.n (overwrites c).
void gemm_bf16(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc);

// c[i * K + j] += alpha * sum_t bf16(x[t * K + i]) bf16(x[t * K + j]) for j >= i: X^T X of x [T, K],
// the upper triangle of c [K, K] (other entries may change too; only the upper triangle is
// meaningful). The sum over t runs from zero, then is added: as a Hessian accumulates per sample.
void syrk_bf16_upper(const float* x, int64_t T, int64_t K, float alpha, float* c);

// The portable paths whatever the CPU (for tests: they must equal the native ones bit for bit).
void gemm_bf16_portable(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc);
void syrk_bf16_upper_portable(const float* x, int64_t T, int64_t K, float alpha, float* c);

// Whether gemm_bf16 runs vdpbf16ps here (AVX512-BF16 present and LOWBIT_ISA allows x86-64-v4).
bool bf16_dot_products_native();

}  // namespace lowbit::engine
