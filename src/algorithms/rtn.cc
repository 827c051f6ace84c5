#include "algorithms/rtn.h"

#include <algorithm>
#include <cmath>

#include "algorithms/rtn_internal.h"
#include "core/error.h"
#include "core/target_clones.h"
#include "numerics/half.h"
#include "numerics/scan.h"
#include "quant/qparams.h"

namespace lowbit::algorithms {

using quant::QType;
using quant::QuantArgs;
using quant::Strategy;

namespace {
bool is_mx(const QuantArgs& a) { return a.type == QType::Float && a.strategy == Strategy::Group && a.group_size == 32; }
bool is_nvfp4(const QuantArgs& a) { return a.type == QType::Float && a.strategy == Strategy::TensorGroup; }
}  // namespace

float QuantizedWeight::scale_at(int64_t i) const {
  if (scale_dtype == DType::U8) return e8m0_decode(scales[size_t(i)]);
  if (scale_dtype == DType::F8_E4M3) return fp8_e4m3_decode(scales[size_t(i)]);
  return load_as_f32(scales.data(), size_t(i), scale_dtype);
}

QuantizedWeight empty_layout(const QuantArgs& a, DType md, int64_t rows, int64_t cols) {
  QuantizedWeight q;
  q.rows = rows;
  q.cols = cols;
  if (a.type == QType::Int) q.element = Format(int(Format::INT2) + a.num_bits - 2);
  else q.element = a.num_bits == 8 ? Format::FP8_E4M3 : Format::FP4_E2M1;
  switch (a.strategy) {
    case Strategy::Tensor: q.block_rows = rows, q.block_cols = cols; break;
    case Strategy::Channel: q.block_rows = 1, q.block_cols = cols; break;
    case Strategy::Block: q.block_rows = (*a.block_structure)[0], q.block_cols = (*a.block_structure)[1]; break;
    default: q.block_rows = 1, q.block_cols = *a.group_size; break;
  }
  q.scale_rows = (rows + q.block_rows - 1) / q.block_rows;
  q.scale_cols = (cols + q.block_cols - 1) / q.block_cols;
  q.scale_dtype = is_mx(a) ? DType::U8 : is_nvfp4(a) ? DType::F8_E4M3 : md;
  q.dense_dtype = (is_mx(a) || is_nvfp4(a)) ? DType::BF16 : md;
  return q;
}

namespace detail {
QuantizedWeight shaped(const QuantArgs& a, DType md, int64_t rows, int64_t cols) {
  QuantizedWeight q = empty_layout(a, md, rows, cols);
  q.scales.assign(size_t(q.scale_rows * q.scale_cols) * dtype_size(q.scale_dtype), 0);
  if (!a.symmetric) q.zero_points.assign(size_t(q.scale_rows * q.scale_cols), 0);
  q.codes.assign(size_t(rows * cols), 0);
  return q;
}
}  // namespace detail

static void check_input(const QuantArgs& a, DType dtype, int64_t rows, int64_t cols, const std::string& name) {
  if (dtype != DType::BF16 && dtype != DType::F16 && dtype != DType::F32)
    throw UserError(name + ": cannot quantize dtype " + std::string(dtype_name(dtype)) + " (BF16, F16 or F32)");
  std::string p = quant::shape_problem(a, rows, cols);
  if (!p.empty()) throw UserError(name + ": " + p);
}

QuantizedWeight rtn_quantize(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                             const std::string& name, std::optional<float> shared_amax) {
  check_input(a, dtype, rows, cols, name);
  if (a.type == QType::Int) return detail::quantize_int(w, dtype, rows, cols, a, name);
  return detail::quantize_float(w, dtype, rows, cols, a, name, shared_amax);
}

QuantizedWeight rtn_quantize_reference(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                                       std::optional<float> shared_amax) {
  check_input(a, dtype, rows, cols, "reference");
  if (a.type == QType::Int) return detail::quantize_int_reference(w, dtype, rows, cols, a);
  return detail::quantize_float_reference(w, dtype, rows, cols, a, shared_amax);
}

namespace {
// Element (r, c) decompressed exactly as compressed-tensors does.
inline float dequantized_at(const QuantizedWeight& q, int64_t r, int64_t c) {
  const int64_t s = q.slot_of(r, c);
  const uint8_t code = uint8_t(q.codes[size_t(r * q.cols + c)]);
  if (q.element >= Format::INT2 && q.element <= Format::INT8) {
    int zp = q.zero_points.empty() ? 0 : q.zero_points[size_t(s)];
    return quant::dequantize_int(int8_t(code), q.scale_at(s), zp, q.dense_dtype);
  }
  float e = q.element == Format::FP8_E4M3 ? fp8_e4m3_decode(code) : fp4_e2m1_decode(code);
  // NVFP4: the effective scale is weight_scale / global (float32), as compressed-tensors divides.
  float scale = q.global_scale != 0.0f ? q.scale_at(s) / q.global_scale : q.scale_at(s);
  return round_to_dtype(e * scale, q.dense_dtype);
}
}  // namespace

void dequantize(const QuantizedWeight& q, void* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) store_from_f32(out, size_t(r * q.cols + c), q.dense_dtype, dequantized_at(q, r, c));
}

static ErrorStats stats_of(double err, double norm) {
  ErrorStats s;
  s.relative_error = norm > 0 ? std::sqrt(err / norm) : 0.0;
  s.snr_db = err > 0 ? 10.0 * std::log10(norm / err) : INFINITY;
  return s;
}

namespace {
// Runs of codes sharing one scale slot, decoded with the dtype switch hoisted out of the
// loop; same arithmetic as dequantized_at (checked against it in the tests).
template <DType MD>
struct RunDecoder {
  LOWBIT_TARGET_CLONES
  static void ints(const int8_t* c, int64_t n, float scale, float zp, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_dtype((float(c[i]) - zp) * scale, MD);
  }
  LOWBIT_TARGET_CLONES
  static void floats(const int8_t* c, int64_t n, const float* lut, float scale, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_dtype(lut[uint8_t(c[i])] * scale, MD);
  }
};

template <DType MD>
void decode_rows(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out) {
  const bool is_int = q.element >= Format::INT2 && q.element <= Format::INT8;
  float lut[256] = {};
  if (!is_int)
    for (int c = 0; c < 256; ++c) lut[c] = q.element == Format::FP8_E4M3 ? fp8_e4m3_decode(uint8_t(c)) : fp4_e2m1_decode(uint8_t(c & 15));
#pragma omp parallel for schedule(static)
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t c0 = 0; c0 < q.cols; c0 += q.block_cols) {
      const int64_t n = std::min(q.block_cols, q.cols - c0), s = q.slot_of(r, c0);
      const int8_t* codes = q.codes.data() + r * q.cols + c0;
      float* o = out + (r - r0) * q.cols + c0;
      if (is_int) {
        const float zp = q.zero_points.empty() ? 0.0f : float(q.zero_points[size_t(s)]);
        RunDecoder<MD>::ints(codes, n, q.scale_at(s), zp, o);
      } else {
        const float scale = q.global_scale != 0.0f ? q.scale_at(s) / q.global_scale : q.scale_at(s);
        RunDecoder<MD>::floats(codes, n, lut, scale, o);
      }
    }
  }
}
}  // namespace

void dequantize_rows_f32(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out) {
  switch (q.dense_dtype) {
    case DType::BF16: decode_rows<DType::BF16>(q, r0, r1, out); break;
    case DType::F16: decode_rows<DType::F16>(q, r0, r1, out); break;
    default: decode_rows<DType::F32>(q, r0, r1, out); break;
  }
}

void dequantize_rows_f32_reference(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < q.cols; ++c) out[(r - r0) * q.cols + c] = dequantized_at(q, r, c);
}

ErrorStats quantization_error(const QuantizedWeight& q) { return stats_of(q.error_sq, q.norm_sq); }

ErrorStats quantization_error(const void* w, DType dtype, const QuantizedWeight& q) {
  double err = 0, norm = 0;
#pragma omp parallel for schedule(static) reduction(+ : err, norm)
  for (int64_t r = 0; r < q.rows; ++r) {
    double e = 0, n = 0;
    for (int64_t c = 0; c < q.cols; ++c) {
      double x = load_as_f32(w, size_t(r * q.cols + c), dtype);
      double d = x - double(dequantized_at(q, r, c));
      e += d * d;
      n += x * x;
    }
    err += e;
    norm += n;
  }
  return stats_of(err, norm);
}

float tensor_amax(const void* w, DType dtype, uint64_t n, const std::string& name) {
  int64_t bad = find_non_finite(w, n, dtype);
  if (bad >= 0) throw UserError(name + ": NaN or Inf at flat index " + std::to_string(bad));
  float m = 0;
#pragma omp parallel for schedule(static) reduction(max : m)
  for (int64_t i = 0; i < int64_t(n); ++i) m = std::max(m, std::fabs(load_as_f32(w, size_t(i), dtype)));
  return m;
}

}  // namespace lowbit::algorithms
