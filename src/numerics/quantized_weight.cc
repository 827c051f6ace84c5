#include "numerics/quantized_weight.h"

#include <algorithm>
#include <cmath>

#include "core/isa.h"

namespace lowbit {

QuantizedWeight::QuantizedWeight(const QuantLayout& layout) : QuantLayout(layout) {
  scales.assign(size_t(slots()) * dtype_size(scale_dtype), 0);
  if (has_zero_points) zero_points.assign(size_t(slots()), 0);
  codes.assign(size_t(rows * cols), 0);
}

float QuantizedWeight::scale_at(int64_t i) const {
  if (scale_dtype == DType::U8) return e8m0_decode(scales[size_t(i)]);
  if (scale_dtype == DType::F8_E4M3) return fp8_e4m3_decode(scales[size_t(i)]);
  return load_as_f32(scales.data(), size_t(i), scale_dtype);
}

namespace {
// NVFP4's effective scale is weight_scale / global (float32), as compressed-tensors divides.
inline float effective_scale(const QuantizedWeight& q, int64_t slot) {
  return q.has_global_scale ? q.scale_at(slot) / q.global_scale : q.scale_at(slot);
}

inline float element_value(Format f, uint8_t code) {
  return f == Format::FP8_E4M3 ? fp8_e4m3_decode(code) : fp4_e2m1_decode(uint8_t(code & 15));
}

// Element (r, c) decompressed exactly as compressed-tensors does: ints as (q - zp) * scale
// and floats as value * scale, each rounded to the dense dtype.
inline float dequantized_at(const QuantizedWeight& q, int64_t r, int64_t c) {
  const int64_t s = q.slot_of(r, c);
  const uint8_t code = uint8_t(q.codes[size_t(r * q.cols + c)]);
  if (q.is_int()) {
    const int zp = q.zero_points.empty() ? 0 : q.zero_points[size_t(s)];
    return round_to_dtype(float(int8_t(code) - zp) * q.scale_at(s), q.dense_dtype);
  }
  return round_to_dtype(element_value(q.element, code) * effective_scale(q, s), q.dense_dtype);
}

ErrorStats stats_of(double err, double norm) {
  ErrorStats s;
  s.relative_error = norm > 0 ? std::sqrt(err / norm) : 0.0;
  s.snr_db = err > 0 ? 10.0 * std::log10(norm / err) : INFINITY;
  return s;
}

// Runs of codes sharing one scale slot, decoded with the dtype switch hoisted out of the
// loop; same arithmetic as dequantized_at (checked against it in the tests).
template <DType MD>
struct RunDecoder {
  LOWBIT_MEMBER_KERNEL(void, ints, (const int8_t* c, int64_t n, float scale, float zp, float* out),
                       (c, n, scale, zp, out)) {
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_dtype((float(c[i]) - zp) * scale, MD);
  }
  LOWBIT_MEMBER_KERNEL(void, floats, (const int8_t* c, int64_t n, const float* lut, float scale, float* out),
                       (c, n, lut, scale, out)) {
    for (int64_t i = 0; i < n; ++i) out[i] = round_to_dtype(lut[uint8_t(c[i])] * scale, MD);
  }
};

template <DType MD>
void decode_rows(const QuantizedWeight& q, int64_t r0, int64_t r1, float* out) {
  const bool is_int = q.is_int();
  float lut[256] = {};
  if (!is_int)
    for (int c = 0; c < 256; ++c) lut[c] = element_value(q.element, uint8_t(c));
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
        RunDecoder<MD>::floats(codes, n, lut, effective_scale(q, s), o);
      }
    }
  }
}
}  // namespace

void dequantize(const QuantizedWeight& q, void* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) store_from_f32(out, size_t(r * q.cols + c), q.dense_dtype, dequantized_at(q, r, c));
}

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

}  // namespace lowbit
