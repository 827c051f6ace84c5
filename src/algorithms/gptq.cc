#include "algorithms/gptq.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/formats.h"
#include "numerics/half.h"

// LAPACK (OpenBLAS exports it): Cholesky factorisation and the inverse from it, column-major.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace lowbit::algorithms {

using quant::QuantArgs;

GptqOptions::ActOrder gptq_actorder(const QuantArgs& a, const std::string& where) {
  if (!a.actorder) return GptqOptions::ActOrder::None;
  if (*a.actorder == "static" || *a.actorder == "weight") return GptqOptions::ActOrder::Static;
  throw UserError(quant::actorder_group_removed(where));
}

namespace {

// The upper Cholesky factor U of (H + lambda I)^-1 (so that (H + lambda I)^-1 = U^T U), row-major
// [n, n] float, as GPTQ needs it: row j from the diagonal on is [H_F^-1]_{j, j:} / sqrt([H_F^-1]_jj).
// One n x n double buffer is all the memory it takes (a 7B down_proj's: 1.6 GB): H in double,
// factorised and inverted in place; the lower Cholesky factor L of the inverse, column-major, is
// U = L^T row-major at the same indices, converted to float in place (float k only overwrites
// doubles below k, already read). False if H + lambda I is not positive definite.
class InverseCholesky {
 public:
  explicit InverseCholesky(int n) : n_(n), buf_(size_t(n) * size_t(n) * sizeof(double)) {}
  // `fill(a)` writes the symmetric H (lower triangle at least, column-major = row-major) into a.
  template <class Fill>
  bool factor(const Fill& fill, double lambda) {
    double* a = reinterpret_cast<double*>(buf_.data());
    fill(a);
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
  const float* u() const { return reinterpret_cast<const float*>(buf_.data()); }

 private:
  int n_;
  std::vector<uint8_t> buf_;
};

// Quantizes column values with a weight's fixed scales, in float32 as compressed-tensors'
// fake_quantize does for GPTQ's float32 weight: the quotient is not rounded to the model
// dtype; the dequantized value is (the decoder's, except NVFP4's float32 product).
class ColumnQuantizer {
 public:
  explicit ColumnQuantizer(const QuantizedWeight& q) : q_(q), is_int_(q.is_int()) {
    const int64_t slots = q.slots();
    scale_.resize(size_t(slots));
    zp_.assign(size_t(slots), 0.0f);
    for (int64_t s = 0; s < slots; ++s) {
      scale_[size_t(s)] = q.has_global_scale ? q.scale_at(s) / q.global_scale : q.scale_at(s);
      if (!q.zero_points.empty()) zp_[size_t(s)] = float(q.zero_points[size_t(s)]);
    }
    if (is_int_) {
      const int bits = int(q.element) - int(Format::INT2) + 2;
      qmax_ = float((1 << (bits - 1)) - 1);
      qmin_ = -qmax_ - 1;
    } else {
      fp4_ = q.element == Format::FP4_E2M1;
      lim_ = fp4_ ? 6.0f : 448.0f;
    }
  }
  // Sets qmin for restricted-range int args.
  void set_int_range(float qmin, float qmax) { qmin_ = qmin, qmax_ = qmax; }

  // Quantizes x (row r, original column c): returns the dequantized value, stores the code.
  float quantize(float x, int64_t r, int64_t c, int8_t* code) const {
    const size_t s = size_t(q_.slot_of(r, c));
    const float scale = scale_[s];
    if (is_int_) {
      const float zp = zp_[s];
      float v = x / scale + zp;
      v = std::min(std::max(v, qmin_), qmax_);
      const float qi = std::nearbyint(v);
      *code = int8_t(qi);
      return round_to_dtype((qi - zp) * scale, q_.dense_dtype);
    }
    const float v = std::min(std::max(x / scale, -lim_), lim_);
    const uint8_t e = fp4_ ? fp4_e2m1_encode(v) : fp8_e4m3_encode(v);
    *code = int8_t(e);
    const float value = (fp4_ ? fp4_e2m1_decode(e) : fp8_e4m3_decode(e)) * scale;
    return q_.has_global_scale ? value : round_to_dtype(value, q_.dense_dtype);
  }

 private:
  const QuantizedWeight& q_;
  bool is_int_, fp4_ = false;
  float qmin_ = 0, qmax_ = 0, lim_ = 0;
  std::vector<float> scale_, zp_;
};

}  // namespace

GptqResult gptq_quantize(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                         const float* hessian, const GptqOptions& o, const std::string& name,
                         std::optional<float> shared_amax) {
  if (o.block_size < 1) throw UserError(name + ": GPTQ block_size must be positive");
  if (!(o.dampening_frac >= 0)) throw UserError(name + ": GPTQ dampening_frac must be >= 0");
  if (cols > (int64_t(1) << 31) - 1) throw UserError(name + ": too many columns for GPTQ");
  // The observer's parameters (and the RTN codes, the fallback): min-max, or for mse /
  // imatrix_mse the searched ranges, weighted by E[x^2] = diag(H) / 2 per input channel.
  GptqResult res;
  std::vector<float> importance(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) importance[size_t(c)] = hessian[size_t(c * cols + c)];
  res.weight = rtn_quantize_observed(w, dtype, rows, cols, a, name, shared_amax, importance.data());
  QuantizedWeight& q = res.weight;
  ColumnQuantizer quantizer(q);
  if (q.is_int()) quantizer.set_int_range(float(a.qmin()), float(a.qmax()));
  const int n = int(cols);

  // Hessian in double for the factorisation; the sweep order (act-order: descending diag(H),
  // ties by column, as a stable sort) and dead columns (no input: H_jj = 1, w_j = 0).
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (o.actorder == GptqOptions::ActOrder::Static)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t x, int64_t y) {
      return hessian[size_t(x) * size_t(cols) + size_t(x)] > hessian[size_t(y) * size_t(cols) + size_t(y)];
    });
  std::vector<float> wt(size_t(cols) * size_t(rows));  // W^T in sweep order: column j is a contiguous row
  double diag_sum = 0;
  for (int64_t j = 0; j < cols; ++j) {
    const double d = hessian[size_t(perm[size_t(j)] * cols + perm[size_t(j)])];
    if (!std::isfinite(d)) throw UserError(name + ": the calibration Hessian has NaN or Inf");
    const bool dead = d == 0;
    diag_sum += dead ? 1.0 : d;
    for (int64_t r = 0; r < rows; ++r)
      wt[size_t(j * rows + r)] = dead ? 0.0f : load_as_f32(w, size_t(r * cols + perm[size_t(j)]), dtype);
  }
  const double mean_diag = diag_sum / double(cols);

  // Damping raised step by step until H + lambda I is positive definite; RTN if it never is.
  std::vector<double> fracs = {o.dampening_frac};
  for (double f = std::max(o.dampening_frac, 1e-3) * 2; f < 1.0; f *= 2.5) fracs.push_back(f);
  fracs.push_back(1.0);
  // H in sweep order, in double: the lower triangle column-major (row-major j >= i), the only
  // part LAPACK's "L" routines read.
  auto fill = [&](double* a) {
    for (int64_t i = 0; i < cols; ++i) {
      const float* hrow = hessian + perm[size_t(i)] * cols;
      double* arow = a + i * cols;
      for (int64_t j = i; j < cols; ++j) arow[j] = hrow[perm[size_t(j)]];
      if (arow[i] == 0) arow[i] = 1;  // dead column
    }
  };
  InverseCholesky inv(n);
  bool ok = false;
  for (double frac : fracs)
    if ((ok = inv.factor(fill, frac * mean_diag))) {
      res.dampening_frac = frac;
      break;
    }
  if (!ok) {
    res.rtn_fallback = true;
    res.note = "the Hessian is not positive definite at any dampening up to 1.0 (too few or too uniform calibration "
               "samples?); kept round-to-nearest";
    return res;
  }
  if (res.dampening_frac != o.dampening_frac)
    res.note = "Hessian not positive definite at dampening_frac " + std::to_string(o.dampening_frac) + "; used " +
               std::to_string(res.dampening_frac);

  // The sweep: blocks of B columns; each column quantized with its fixed scales, its error
  // spread over the block's later columns at once (row-independent, so rows run in parallel),
  // then over the remaining columns with one GEMM.
  const float* u = inv.u();
  const int64_t B = o.block_size;
  std::vector<float> err(size_t(B) * size_t(rows));
  double loss = 0;
  for (int64_t i1 = 0; i1 < cols; i1 += B) {
    const int64_t i2 = std::min(cols, i1 + B), count = i2 - i1;
#pragma omp parallel for schedule(static) reduction(+ : loss)
    for (int64_t r0 = 0; r0 < rows; r0 += 64) {
      const int64_t r1 = std::min(rows, r0 + 64);
      double l = 0;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t j = i1 + i, col = perm[size_t(j)];
        const float d = u[size_t(j * cols + j)];
        float* wj = wt.data() + j * rows;
        float* ej = err.data() + i * rows;
        for (int64_t r = r0; r < r1; ++r) {
          const float x = wj[r];
          const float deq = quantizer.quantize(x, r, col, &q.codes[size_t(r * cols + col)]);
          const float e = (x - deq) / d;
          ej[r] = e;
          l += double(x - deq) * double(x - deq) / (double(d) * double(d));
        }
        for (int64_t c = j + 1; c < i2; ++c) {
          const float uc = u[size_t(j * cols + c)];
          float* wc = wt.data() + c * rows;
          for (int64_t r = r0; r < r1; ++r) wc[r] -= ej[r] * uc;
        }
      }
      loss += l;
    }
    if (i2 < cols)  // W^T[i2:, :] -= U[i1:i2, i2:]^T * Err[0:count, :]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(cols - i2), int(rows), int(count), -1.0f,
                  u + i1 * cols + i2, int(cols), err.data(), int(rows), 1.0f, wt.data() + i2 * rows, int(rows));
  }
  res.loss = loss / 2;
  const ErrorStats e = quantization_error(w, dtype, q);
  double norm = 0;
#pragma omp parallel for schedule(static) reduction(+ : norm)
  for (int64_t i = 0; i < rows * cols; ++i) norm += double(load_as_f32(w, size_t(i), dtype)) * load_as_f32(w, size_t(i), dtype);
  q.norm_sq = norm;
  q.error_sq = e.relative_error * e.relative_error * norm;
  return res;
}

}  // namespace lowbit::algorithms
