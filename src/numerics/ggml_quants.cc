#include "numerics/ggml_quants.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "numerics/ggml_iq4.h"
#include "numerics/ggml_quants_internal.h"
#include "numerics/ggml_search.h"
#include "numerics/half.h"

namespace lowbit {
namespace ggml_detail {

void quantize_row_f32(const float* x, uint8_t* y, int64_t n, const float*) {
  std::memcpy(y, x, size_t(n) * 4);
}
void dequantize_f32(const uint8_t* x, float* y, int64_t n) { std::memcpy(y, x, size_t(n) * 4); }

namespace {
// A row of a 16-bit float type, one value at a time through `to` / `from`.
template <uint16_t (*to)(float)>
void quantize_row_16(const float* x, uint8_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = to(x[i]);
    std::memcpy(y + 2 * i, &h, 2);
  }
}
template <float (*from)(uint16_t)>
void dequantize_16(const uint8_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, x + 2 * i, 2);
    y[i] = from(h);
  }
}
}  // namespace

// ggml converts with the hardware's round-to-nearest-even (F16C), as f32_to_fp16 does.
void quantize_row_f16(const float* x, uint8_t* y, int64_t n, const float*) { quantize_row_16<f32_to_fp16>(x, y, n); }
void dequantize_f16(const uint8_t* x, float* y, int64_t n) { dequantize_16<fp16_to_f32>(x, y, n); }

// ggml_fp32_to_bf16: RNE, NaN made quiet - the same bits as f32_to_bf16.
void quantize_row_bf16(const float* x, uint8_t* y, int64_t n, const float*) { quantize_row_16<f32_to_bf16>(x, y, n); }
void dequantize_bf16(const uint8_t* x, float* y, int64_t n) { dequantize_16<bf16_to_f32>(x, y, n); }

}  // namespace ggml_detail

namespace {

using namespace ggml_detail;

// One row per type lowbit encodes; ids, names and sizes are core/ggml_types.h's rows.
const GgmlCodec kCodecs[] = {
    {GgmlType::F32, quantize_row_f32, dequantize_f32, false, nullptr, nullptr},
    {GgmlType::F16, quantize_row_f16, dequantize_f16, false, nullptr, nullptr},
    {GgmlType::BF16, quantize_row_bf16, dequantize_bf16, false, nullptr, nullptr},
    {GgmlType::Q4_0, quantize_row_q4_0, dequantize_q4_0, true, levels_q4_0, pack_q4_0},
    {GgmlType::Q4_1, quantize_row_q4_1, dequantize_q4_1, true, levels_q4_1, pack_q4_1},
    {GgmlType::Q5_0, quantize_row_q5_0, dequantize_q5_0, true, levels_q5_0, pack_q5_0},
    {GgmlType::Q5_1, quantize_row_q5_1, dequantize_q5_1, true, levels_q5_1, pack_q5_1},
    {GgmlType::Q8_0, quantize_row_q8_0, dequantize_q8_0, false, levels_q8_0, pack_q8_0},
    {GgmlType::IQ4_NL, quantize_row_iq4_nl, dequantize_iq4_nl, true, levels_iq4_nl, pack_iq4_nl},
    {GgmlType::MXFP4, quantize_row_mxfp4, dequantize_mxfp4, false, nullptr, nullptr},
    {GgmlType::Q2_K, quantize_row_q2_k, dequantize_q2_k, true, levels_q2_k, pack_q2_k},
    {GgmlType::Q3_K, quantize_row_q3_k, dequantize_q3_k, true, levels_q3_k, pack_q3_k},
    {GgmlType::Q4_K, quantize_row_q4_k, dequantize_q4_k, true, levels_q4_k, pack_q4_k},
    {GgmlType::Q5_K, quantize_row_q5_k, dequantize_q5_k, true, levels_q5_k, pack_q5_k},
    {GgmlType::Q6_K, quantize_row_q6_k, dequantize_q6_k, true, levels_q6_k, pack_q6_k},
    {GgmlType::IQ4_XS, quantize_row_iq4_xs, dequantize_iq4_xs, true, levels_iq4_xs, pack_iq4_xs},
};

}  // namespace

int GgmlLevels::nearest(float x) const {
  if (step == 0) return std::clamp(offset, lo, hi);
  if (table) return iq4_nearest_code(x / step);  // the one codebook with a table (IQ4)
  // Clamped in float first: nearest_int is exact only below 2^22, and an error-fed value can sit
  // far outside a sub-block with a tiny scale.
  const float v = std::clamp((x + shift) / step, float(lo - offset - 1), float(hi - offset + 1));
  return std::clamp(nearest_int(v) + offset, lo, hi);
}

const GgmlCodec* find_ggml_codec(GgmlType t) {
  for (const auto& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

const GgmlCodec& ggml_codec(GgmlType t) {
  if (const GgmlCodec* c = find_ggml_codec(t)) return *c;
  throw UserError("GGUF type " + std::string(ggml_traits(t).name) + " is not supported by lowbit");
}

void ggml_quantize_rows(GgmlType t, const float* src, uint8_t* dst, int64_t nrows, int64_t ne0,
                        const float* importance) {
  const GgmlCodec& c = ggml_codec(t);
  const auto row_bytes = ggml_row_bytes(t, ne0);
  if (!row_bytes)
    throw UserError("a row of " + std::to_string(ne0) + " values is not a whole number of " +
                    std::string(ggml_traits(t).name) + " blocks");
  const float* w = c.uses_importance ? importance : nullptr;
#pragma omp parallel for schedule(dynamic, 1) if (nrows > 1)
  for (int64_t r = 0; r < nrows; ++r) c.quantize_row(src + r * ne0, dst + r * *row_bytes, ne0, w);
}

void ggml_dequantize(GgmlType t, const uint8_t* src, float* dst, int64_t n) {
  const GgmlCodec& c = ggml_codec(t);
  if (!ggml_row_bytes(t, n)) throw UserError("not a whole number of GGUF blocks");
  c.dequantize(src, dst, n);
}

}  // namespace lowbit
