// What every GPTQ run shares, whatever grid it quantizes to (compressed-tensors' scales in
// gptq.cc, a ggml type's blocks in gptq_ggml.cc): the sweep order, the damped inverse
// Cholesky factor of the Hessian, and the blocked column sweep with its error feedback
// (private to algorithms/).
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "algorithms/gptq.h"
#include "core/dtype.h"

namespace lowbit::algorithms::detail {

// The upper Cholesky factor U of (H + lambda I)^-1 (so that (H + lambda I)^-1 = U^T U), row-major
// [n, n] float, as GPTQ needs it: row j from the diagonal on is [H_F^-1]_{j, j:} / sqrt([H_F^-1]_jj).
// One n x n double buffer is all the memory it takes (a 7B down_proj's: 1.6 GB).
class InverseCholesky {
 public:
  explicit InverseCholesky(int n) : n_(n), buf_(size_t(n) * size_t(n) * sizeof(double)) {}
  // `a` gets the symmetric H in double (the lower triangle column-major, at least) from `fill`;
  // false if H + lambda I is not positive definite.
  template <class Fill>
  bool factor(const Fill& fill, double lambda) {
    fill(reinterpret_cast<double*>(buf_.data()));
    return factor_filled(lambda);
  }
  const float* u() const { return reinterpret_cast<const float*>(buf_.data()); }

 private:
  bool factor_filled(double lambda);
  int n_;
  std::vector<uint8_t> buf_;
};

// A weight ready for the sweep: W^T in sweep order and the factor of its damped Hessian.
struct GptqSetup {
  std::vector<int64_t> perm;  // sweep position -> original column (act order: descending diag(H))
  std::vector<float> wt;      // W^T in sweep order [cols, rows]; dead columns (H_jj = 0) zeroed
  std::unique_ptr<InverseCholesky> inv;  // null when no damping made H positive definite
  double dampening_frac = 0;
  std::string note;  // a raised damping or the fallback, for warnings ("" if nothing to say)
};

// UserError naming `name` for a block size below 1, a negative damping or too many columns.
void check_gptq_options(const GptqOptions& o, int64_t cols, const std::string& name);

// Throws UserError naming `name` for bad options or a non-finite Hessian. Damping is raised
// step by step until H + lambda I is positive definite; setup.inv is null if it never is.
GptqSetup gptq_setup(const void* w, DType dtype, int64_t rows, int64_t cols, const float* hessian, const GptqOptions& o,
                     const std::string& name);

// The sweep: blocks of `block` columns; each column quantized by `quantize(x, row, column)`
// (the dequantized value it chose), its error spread over the block's later columns at once
// (rows in parallel), then over the remaining columns with one GEMM. `before_block(i1, i2)` runs
// first for each block of sweep positions [i1, i2): every column from i1 on then holds all the
// feedback of the columns before it. Returns GPTQ's loss, sum (w - q)^2 / d^2 / 2 (as
// llm-compressor logs it).
inline void no_hook(int64_t, int64_t) {}
template <class Quantize, class BeforeBlock = decltype(no_hook)>
double gptq_sweep(GptqSetup& s, int64_t rows, int64_t cols, int64_t block, const Quantize& quantize,
                  const BeforeBlock& before_block = no_hook) {
  const float* u = s.inv->u();
  std::vector<float> err(size_t(block) * size_t(rows));
  float* wt = s.wt.data();
  double loss = 0;
  for (int64_t i1 = 0; i1 < cols; i1 += block) {
    const int64_t i2 = std::min(cols, i1 + block), count = i2 - i1;
    before_block(i1, i2);
#pragma omp parallel for schedule(static) reduction(+ : loss)
    for (int64_t r0 = 0; r0 < rows; r0 += 64) {
      const int64_t r1 = std::min(rows, r0 + 64);
      double l = 0;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t j = i1 + i, col = s.perm[size_t(j)];
        const float d = u[size_t(j * cols + j)];
        float* wj = wt + j * rows;
        float* ej = err.data() + i * rows;
        for (int64_t r = r0; r < r1; ++r) {
          const float x = wj[r];
          const float deq = quantize(x, r, col);
          ej[r] = (x - deq) / d;
          l += double(x - deq) * double(x - deq) / (double(d) * double(d));
        }
        for (int64_t c = j + 1; c < i2; ++c) {
          const float uc = u[size_t(j * cols + c)];
          float* wc = wt + c * rows;
          for (int64_t r = r0; r < r1; ++r) wc[r] -= ej[r] * uc;
        }
      }
      loss += l;
    }
    if (i2 < cols)  // W^T[i2:, :] -= U[i1:i2, i2:]^T * Err[0:count, :]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(cols - i2), int(rows), int(count), -1.0f,
                  u + i1 * cols + i2, int(cols), err.data(), int(rows), 1.0f, wt + i2 * rows, int(rows));
  }
  return loss / 2;
}

}  // namespace lowbit::algorithms::detail
