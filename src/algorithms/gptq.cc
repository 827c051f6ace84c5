#include "algorithms/gptq.h"


#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "algorithms/gptq_solver.h"
#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/formats.h"
#include "numerics/half.h"

namespace lowbit::algorithms {

using quant::QuantArgs;

GptqOptions::ActOrder gptq_actorder(const QuantArgs& a, const std::string& where) {
  if (!a.actorder) return GptqOptions::ActOrder::None;
  if (*a.actorder == "static" || *a.actorder == "weight") return GptqOptions::ActOrder::Static;
  throw UserError(quant::actorder_group_removed(where));
}

namespace {

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
  detail::check_gptq_options(o, cols, name);
  // The observer's parameters (and the RTN codes, the fallback): min-max, or for mse /
  // imatrix_mse the searched ranges, weighted by E[x^2] = diag(H) / 2 per input channel.
  GptqResult res;
  std::vector<float> importance(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) importance[size_t(c)] = hessian[size_t(c * cols + c)];
  res.weight = rtn_quantize_observed(w, dtype, rows, cols, a, name, shared_amax, importance.data());
  QuantizedWeight& q = res.weight;
  ColumnQuantizer quantizer(q);
  if (q.is_int()) quantizer.set_int_range(float(a.qmin()), float(a.qmax()));

  detail::GptqSetup setup = detail::gptq_setup(w, dtype, rows, cols, hessian, o, name);
  res.dampening_frac = setup.dampening_frac;
  res.note = setup.note;
  if (!setup.inv) {
    res.rtn_fallback = true;
    return res;
  }
  res.loss = detail::gptq_sweep(setup, rows, cols, o.block_size, [&](float x, int64_t r, int64_t col) {
    return quantizer.quantize(x, r, col, &q.codes[size_t(r * cols + col)]);
  });
  const ErrorStats e = quantization_error(w, dtype, q);
  double norm = 0;
#pragma omp parallel for schedule(static) reduction(+ : norm)
  for (int64_t i = 0; i < rows * cols; ++i) norm += double(load_as_f32(w, size_t(i), dtype)) * load_as_f32(w, size_t(i), dtype);
  q.norm_sq = norm;
  q.error_sq = e.relative_error * e.relative_error * norm;
  return res;
}

}  // namespace lowbit::algorithms
