// C[M, N] = A[M, K] B[N, K]^T with A and B rounded to BF16 and the products summed in float32:
// the arithmetic of a BF16 model's matmuls (as PyTorch runs llm-compressor's calibration), at
// twice the float32 FMA rate on CPUs with AVX512-BF16 (vdpbf16ps). Elsewhere, or with
// LOWBIT_ISA below x86-64-v4, the BF16-rounded operands go through sgemm: the same precision
// (a BF16 x BF16 product is exact in float32; sums in float32), the sums in another order, at
// the float32 FMA rate. The instruction's exact arithmetic in float32 code (each lane adds its
// pair's odd product, then its even one, flushing denormals) is kept for the tests: it runs at
// a fifth of sgemm's rate on AVX2, too slow to calibrate with.
#pragma once
#include <cstdint>
#include <vector>

namespace lowbit::engine {

// How the products run: vdpbf16ps; its arithmetic emulated in float32 code (bit-identical to
// it, for tests); or the BF16-rounded operands through sgemm / ssyrk.
enum class Bf16Path { Native, Emulated, Sgemm };

// B packed for the kernel: panels of 32 rows of B (columns of C); in each panel, for each pair of
// K indices (k, k+1), 32 dwords holding bf16(B[n][k]) | bf16(B[n][k+1]) << 16. K is padded to even
// and N to a multiple of 32 with zeros.
// For the sgemm path, B is kept instead as `rows`: row-major [n, k] float32 holding the BF16
// values. (Each path takes either layout; the other costs a conversion per product.)
struct PackedBf16 {
  int64_t n = 0, k = 0;
  std::vector<uint32_t> data;
  std::vector<float> rows;
  int64_t pairs() const { return (k + 1) / 2; }
  int64_t panels() const { return (n + 31) / 32; }
};

// Packs rows [0, n) of B, given as float32 row-major [n, k] (rounded to BF16, nearest even), in
// the layout of the path this CPU takes by default.
PackedBf16 pack_bf16_rows(const float* b, int64_t n, int64_t k);
PackedBf16 pack_bf16_rows(const float* b, int64_t n, int64_t k, Bf16Path layout_for);

// c[m * ldc + j] = sum_k bf16(a[m * k + k']) * B[j][k'] for m < M, j < b.n (overwrites c).
void gemm_bf16(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc);

// c[i * K + j] += alpha * sum_t bf16(x[t * K + i]) bf16(x[t * K + j]) for j >= i: X^T X of x [T, K],
// the upper triangle of c [K, K] (other entries may change too; only the upper triangle is
// meaningful). The sum over t runs from zero, then is added: as a Hessian accumulates per sample.
void syrk_bf16_upper(const float* x, int64_t T, int64_t K, float alpha, float* c);

// The path the two functions above take here: Native where the CPU allows, else Sgemm.
Bf16Path bf16_default_path();
// Whether gemm_bf16 runs vdpbf16ps here (AVX512-BF16 present and LOWBIT_ISA allows x86-64-v4).
bool bf16_dot_products_native();

// The same products along a chosen path (Native only where bf16_dot_products_native()).
void gemm_bf16(const float* a, int64_t M, const PackedBf16& b, float* c, int64_t ldc, Bf16Path path);
void syrk_bf16_upper(const float* x, int64_t T, int64_t K, float alpha, float* c, Bf16Path path);

}  // namespace lowbit::engine
