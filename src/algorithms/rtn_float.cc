// Float round-to-nearest: FP8 (tensor, channel, 128x128 block), MXFP8/MXFP4 (E8M0
// scale per 32) and NVFP4 (E4M3 scale per 16 under an FP32 global divisor), with
// compressed-tensors' arithmetic.
#include <cmath>
#include <limits>

#include "algorithms/rtn.h"
#include "algorithms/rtn_internal.h"
#include "core/error.h"
#include "core/isa.h"
#include "numerics/half.h"
#include "quant/qparams.h"

namespace lowbit::algorithms {

using quant::QuantArgs;
using quant::Strategy;

namespace {

enum class Kind { Fp8, Mx, Nvfp4 };

// Which scale arithmetic a layout takes: E8M0 scales are MX, a global divisor is NVFP4.
Kind kind_of(const QuantLayout& q) {
  if (q.has_global_scale) return Kind::Nvfp4;
  if (q.scale_dtype == DType::U8) return Kind::Mx;
  return Kind::Fp8;
}

// Per-slot scale: the value the quotient divides by, and the stored bytes.
struct SlotScale {
  float divisor;      // what the quantizer divides by
  float deq;          // what compressed-tensors multiplies by when it decompresses
};

template <DType MD>
SlotScale make_scale(QuantizedWeight& q, const QuantArgs& a, Kind kind, int64_t slot, float amax) {
  if (kind == Kind::Fp8) {
    float s = quant::fp8_scale(amax, MD);
    store_from_f32(q.scales.data(), size_t(slot), MD, s);
    return {s, s};
  }
  if (kind == Kind::Mx) {
    auto m = quant::mx_scale(amax, MD, a.num_bits);
    q.scales[size_t(slot)] = m.e8m0;
    return {m.scale, e8m0_decode(m.e8m0)};
  }
  auto n = quant::nvfp4_block_scale(amax, q.global_scale, MD);
  q.scales[size_t(slot)] = n.fp8;
  return {n.value / q.global_scale, n.value / q.global_scale};
}

// x / divisor, rounded to the model dtype except for NVFP4 (float32 there, because
// compressed-tensors' float32 global scale promotes the division), clamped, encoded;
// the squared error of the dequantized value (in the dense dtype DD) is accumulated.
// Encodes n weights starting at `begin`, in groups of g sharing scales[k] (g = n for one
// scale); accumulates the squared error of the dequantized values (dense dtype DD).
template <DType MD, DType DD, bool kFp4, bool kRoundQuotient>
struct Encoder {
  LOWBIT_MEMBER_KERNEL(void, run,
                       (const void* w, int64_t begin, int64_t n, int64_t g, const SlotScale* scales, int8_t* out,
                        double* err_sq, double* norm_sq),
                       (w, begin, n, g, scales, out, err_sq, norm_sq)) {
    // Simple passes over an L1-sized chunk: GCC vectorises each of them, but not one fused loop.
    const int64_t chunk = g >= 256 ? 256 : (256 / g) * g;
    const float lim = kFp4 ? 6.0f : 448.0f;
    float x[256], v[256];
    double e_total = 0, n_total = 0;
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t len = std::min(chunk, n - c0);
      int8_t* o = out + c0;
      for (int64_t i = 0; i < len; ++i) x[i] = load_as_f32(w, size_t(begin + c0 + i), MD);
      for (int64_t j0 = 0; j0 < len; j0 += g) {  // one scale per group
        const int64_t jn = std::min(g, len - j0);
        const float div = scales[(c0 + j0) / g].divisor;
        for (int64_t i = j0; i < j0 + jn; ++i) {
          float q = x[i] / div;
          if (kRoundQuotient) q = round_to_dtype(q, MD);
          v[i] = std::min(std::max(q, -lim), lim);
        }
      }
      for (int64_t i = 0; i < len; ++i) o[i] = int8_t(kFp4 ? fp4_e2m1_encode(v[i]) : fp8_e4m3_encode(v[i]));
      for (int64_t j0 = 0; j0 < len; j0 += g) {
        const int64_t jn = std::min(g, len - j0);
        const float deq = scales[(c0 + j0) / g].deq;
        for (int64_t i = j0; i < j0 + jn; ++i) {
          const uint8_t code = uint8_t(o[i]);
          v[i] = round_to_dtype((kFp4 ? fp4_e2m1_decode(code) : fp8_e4m3_decode(code)) * deq, DD);
        }
      }
      float e = 0, nn = 0;
#pragma omp simd reduction(+ : e, nn)
      for (int64_t i = 0; i < len; ++i) {
        const float d = x[i] - v[i];
        e += d * d;
        nn += x[i] * x[i];
      }
      e_total += e;
      n_total += nn;
    }
    *err_sq += e_total;
    *norm_sq += n_total;
  }
};

template <DType MD, DType DD>
void encode_as(const void* w, int64_t begin, int64_t n, int64_t g, const SlotScale* s, bool fp4, bool round,
               int8_t* out, double* e, double* nn) {
  if (fp4 && round) Encoder<MD, DD, true, true>::run(w, begin, n, g, s, out, e, nn);
  else if (fp4) Encoder<MD, DD, true, false>::run(w, begin, n, g, s, out, e, nn);
  else if (round) Encoder<MD, DD, false, true>::run(w, begin, n, g, s, out, e, nn);
  else Encoder<MD, DD, false, false>::run(w, begin, n, g, s, out, e, nn);
}

// The layout decides the variant: FP4 or FP8 elements; the quotient rounded to the model dtype
// unless a float32 global scale promotes the division (NVFP4); the error measured in the
// dtype the format decompresses to (the model dtype, or BF16 for MX and NVFP4).
template <DType MD>
void encode(const void* w, int64_t begin, int64_t n, int64_t g, const SlotScale* s, const QuantLayout& q, int8_t* out,
            double* e, double* nn) {
  const bool fp4 = q.element == Format::FP4_E2M1, round = !q.has_global_scale;
  if (q.dense_dtype == MD) encode_as<MD, MD>(w, begin, n, g, s, fp4, round, out, e, nn);
  else encode_as<MD, DType::BF16>(w, begin, n, g, s, fp4, round, out, e, nn);
}

template <DType MD>
QuantizedWeight quantize_float_impl(const void* w, int64_t rows, int64_t cols, const QuantArgs& a,
                                    const std::string& name, std::optional<float> shared_amax) {
  QuantizedWeight q = detail::shaped(a, MD, rows, cols);
  const Kind kind = kind_of(q);
  detail::BadIndex bad;
  if (kind == Kind::Nvfp4 || a.strategy == Strategy::Tensor) {
    float mn, mx;
    detail::minmax_all<MD>(w, rows, cols, &mn, &mx, bad);
    bad.throw_if_any(w, MD, cols, name);
    float amax = std::max(-mn, mx);
    if (kind == Kind::Nvfp4) q.global_scale = quant::nvfp4_global_scale(shared_amax.value_or(amax), MD);
    if (a.strategy == Strategy::Tensor) {
      SlotScale s = make_scale<MD>(q, a, kind, 0, amax);
      double e = 0, nn = 0;
#pragma omp parallel for schedule(static) reduction(+ : e, nn)
      for (int64_t r = 0; r < rows; ++r)
        encode<MD>(w, r * cols, cols, cols, &s, q, q.codes.data() + r * cols, &e, &nn);
      q.error_sq = e;
      q.norm_sq = nn;
      return q;
    }
  }
  if (a.strategy == Strategy::Block) {
    const int64_t bh = q.block_rows, bw = q.block_cols;
    double e = 0, nn = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : e, nn)
    for (int64_t br = 0; br < q.scale_rows; ++br) {
      const int64_t r0 = br * bh, r1 = std::min(rows, r0 + bh);
      for (int64_t bc = 0; bc < q.scale_cols; ++bc) {
        const int64_t c0 = bc * bw, len = std::min(cols, c0 + bw) - c0;
        float amax = 0;
        bool ok = true;
        for (int64_t r = r0; r < r1 && ok; ++r) {
          float mn, mx;
          ok = detail::minmax<MD>(w, r * cols + c0, len, &mn, &mx, bad);
          amax = std::max(amax, std::max(-mn, mx));
        }
        if (!ok) break;
        SlotScale s = make_scale<MD>(q, a, kind, br * q.scale_cols + bc, amax);
        for (int64_t r = r0; r < r1; ++r)
          encode<MD>(w, r * cols + c0, len, len, &s, q, q.codes.data() + r * cols + c0, &e, &nn);
      }
    }
    bad.throw_if_any(w, MD, cols, name);
    q.error_sq = e;
    q.norm_sq = nn;
    return q;
  }
  // Channel (one slot per row) and groups along the row: a row's scales first, then one run.
  const int64_t g = q.block_cols, per_row = q.scale_cols;
  double e = 0, nn = 0;
#pragma omp parallel reduction(+ : e, nn)
  {
    std::vector<SlotScale> scales(static_cast<size_t>(per_row));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      bool ok = true;
      for (int64_t gi = 0; gi < per_row && ok; ++gi) {
        float mn, mx;
        ok = detail::minmax<MD>(w, r * cols + gi * g, g, &mn, &mx, bad);
        if (ok) scales[size_t(gi)] = make_scale<MD>(q, a, kind, r * per_row + gi, std::max(-mn, mx));
      }
      if (ok) encode<MD>(w, r * cols, cols, g, scales.data(), q, q.codes.data() + r * cols, &e, &nn);
    }
  }
  bad.throw_if_any(w, MD, cols, name);
  q.error_sq = e;
  q.norm_sq = nn;
  return q;
}

}  // namespace

namespace detail {

QuantizedWeight quantize_float(const void* w, DType dtype, int64_t rows, int64_t cols, const QuantArgs& a,
                               const std::string& name, std::optional<float> shared_amax) {
  switch (dtype) {
    case DType::BF16: return quantize_float_impl<DType::BF16>(w, rows, cols, a, name, shared_amax);
    case DType::F16: return quantize_float_impl<DType::F16>(w, rows, cols, a, name, shared_amax);
    default: return quantize_float_impl<DType::F32>(w, rows, cols, a, name, shared_amax);
  }
}

// One element at a time with the generic minifloat encoder: an independent check of the
// fast path's slot bookkeeping, encoders and quotient rounding.
QuantizedWeight quantize_float_reference(const void* w, DType dt, int64_t rows, int64_t cols, const QuantArgs& a,
                                         std::optional<float> shared_amax) {
  QuantizedWeight q = shaped(a, dt, rows, cols);
  const Kind kind = kind_of(q);
  const FormatTraits& f = traits(a.num_bits == 4 ? Format::FP4_E2M1 : Format::FP8_E4M3);
  std::vector<float> amax(size_t(q.scale_rows * q.scale_cols), 0.0f);
  float tensor = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float x = std::fabs(load_as_f32(w, size_t(r * cols + c), dt));
      amax[size_t(q.slot_of(r, c))] = std::max(amax[size_t(q.slot_of(r, c))], x);
      tensor = std::max(tensor, x);
    }
  if (kind == Kind::Nvfp4) q.global_scale = quant::nvfp4_global_scale(shared_amax.value_or(tensor), dt);
  std::vector<float> div(amax.size());
  for (size_t s = 0; s < amax.size(); ++s) {
    switch (dt) {
      case DType::BF16: div[s] = make_scale<DType::BF16>(q, a, kind, int64_t(s), amax[s]).divisor; break;
      case DType::F16: div[s] = make_scale<DType::F16>(q, a, kind, int64_t(s), amax[s]).divisor; break;
      default: div[s] = make_scale<DType::F32>(q, a, kind, int64_t(s), amax[s]).divisor; break;
    }
  }
  const float lim = float(f.max_finite);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = load_as_f32(w, size_t(r * cols + c), dt) / div[size_t(q.slot_of(r, c))];
      if (kind != Kind::Nvfp4) v = round_to_dtype(v, dt);
      v = std::clamp(v, -lim, lim);
      q.codes[size_t(r * cols + c)] = int8_t(encode_minifloat(v, f, Overflow::Saturate));
    }
  return q;
}

}  // namespace detail
}  // namespace lowbit::algorithms
