#include "algorithms/gptq_solver.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "numerics/formats.h"

// LAPACK (OpenBLAS exports it): Cholesky factorisation and the inverse from it, column-major.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace lowbit::algorithms::detail {

// H in double, factorised and inverted in place; the lower Cholesky factor L of the inverse,
// column-major, is U = L^T row-major at the same indices, converted to float in place (float k
// only overwrites doubles below k, already read).
bool InverseCholesky::factor_filled(double lambda) {
  double* a = reinterpret_cast<double*>(buf_.data());
  const int n = n_;
  for (int i = 0; i < n; ++i) a[size_t(i) * n + i] += lambda;
  int info = 0;
  dpotrf_("L", &n, a, &n, &info);
  if (info != 0) return false;
  dpotri_("L", &n, a, &n, &info);  // the lower triangle (column-major) of (H + lambda I)^-1
  if (info != 0) return false;
  dpotrf_("L", &n, a, &n, &info);  // its lower factor: L(i, j) = a[j n + i] = U(j, i)
  if (info != 0) return false;
  uint8_t* bytes = buf_.data();
  for (size_t k = 0; k < size_t(n) * size_t(n); ++k) {
    double v;
    std::memcpy(&v, bytes + k * sizeof(double), sizeof v);
    const float f = k % size_t(n) >= k / size_t(n) ? float(v) : 0.0f;  // upper part of row k / n
    std::memcpy(bytes + k * sizeof(float), &f, sizeof f);
  }
  return true;
}

void check_gptq_options(const GptqOptions& o, int64_t cols, const std::string& name) {
  if (o.block_size < 1) throw UserError(name + ": GPTQ block_size must be positive");
  if (!(o.dampening_frac >= 0)) throw UserError(name + ": GPTQ dampening_frac must be >= 0");
  if (cols > (int64_t(1) << 31) - 1) throw UserError(name + ": too many columns for GPTQ");
}

GptqSetup gptq_setup(const void* w, DType dtype, int64_t rows, int64_t cols, const float* hessian, const GptqOptions& o,
                     const std::string& name) {
  check_gptq_options(o, cols, name);
  GptqSetup s;
  // The sweep order (act-order: descending diag(H), ties by column, as a stable sort) and dead
  // columns (no input: H_jj = 1, w_j = 0).
  s.perm.resize(size_t(cols));
  std::iota(s.perm.begin(), s.perm.end(), 0);
  if (o.actorder == GptqOptions::ActOrder::Static)
    std::stable_sort(s.perm.begin(), s.perm.end(), [&](int64_t x, int64_t y) {
      return hessian[size_t(x) * size_t(cols) + size_t(x)] > hessian[size_t(y) * size_t(cols) + size_t(y)];
    });
  s.wt.resize(size_t(cols) * size_t(rows));  // column j of W (sweep order) is a contiguous row
  double diag_sum = 0;
  for (int64_t j = 0; j < cols; ++j) {
    const int64_t c = s.perm[size_t(j)];
    const double d = hessian[size_t(c * cols + c)];
    if (!std::isfinite(d)) throw UserError(name + ": the calibration Hessian has NaN or Inf");
    const bool dead = d == 0;
    diag_sum += dead ? 1.0 : d;
    for (int64_t r = 0; r < rows; ++r) s.wt[size_t(j * rows + r)] = dead ? 0.0f : load_as_f32(w, size_t(r * cols + c), dtype);
  }
  const double mean_diag = diag_sum / double(cols);

  // Damping raised step by step until H + lambda I is positive definite.
  std::vector<double> fracs = {o.dampening_frac};
  for (double f = std::max(o.dampening_frac, 1e-3) * 2; f < 1.0; f *= 2.5) fracs.push_back(f);
  fracs.push_back(1.0);
  // H in sweep order, in double: the lower triangle column-major (row-major j >= i), the only
  // part LAPACK's "L" routines read.
  auto fill = [&](double* a) {
    for (int64_t i = 0; i < cols; ++i) {
      const float* hrow = hessian + s.perm[size_t(i)] * cols;
      double* arow = a + i * cols;
      for (int64_t j = i; j < cols; ++j) arow[j] = hrow[s.perm[size_t(j)]];
      if (arow[i] == 0) arow[i] = 1;  // dead column
    }
  };
  s.inv = std::make_unique<InverseCholesky>(int(cols));
  for (double frac : fracs)
    if (s.inv->factor(fill, frac * mean_diag)) {
      s.dampening_frac = frac;
      if (frac != o.dampening_frac)
        s.note = "Hessian not positive definite at dampening_frac " + std::to_string(o.dampening_frac) + "; used " +
                 std::to_string(frac);
      return s;
    }
  s.inv.reset();
  s.note = "the Hessian is not positive definite at any dampening up to 1.0 (too few or too uniform calibration "
           "samples?); kept round-to-nearest";
  return s;
}

}  // namespace lowbit::algorithms::detail
