#include "numerics/formats.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>

namespace lowbit {

namespace {
// name, bits, float, e, m, bias, inf, nan, max, min normal, min subnormal, used for
const FormatTraits kTable[] = {
    {Format::BF16, "bf16", 16, true, 8, 7, 127, true, true, 3.3895313892515355e38, 1.1754943508222875e-38,
     9.183549615799121e-41, "native weights of most LLMs; scales of int/fp8 schemes"},
    {Format::FP16, "fp16", 16, true, 5, 10, 15, true, true, 65504.0, 6.103515625e-05, 5.960464477539063e-08,
     "native weights of older LLMs"},
    {Format::FP8_E4M3, "fp8_e4m3", 8, true, 4, 3, 7, false, true, 448.0, 0.015625, 0.001953125,
     "FP8 / FP8_DYNAMIC / FP8_BLOCK weights and activations, MXFP8 elements, NVFP4 block scales"},
    {Format::FP8_E5M2, "fp8_e5m2", 8, true, 5, 2, 15, true, true, 57344.0, 6.103515625e-05, 1.52587890625e-05,
     "gradients; MXFP8 (E5M2 variant); KV cache in some engines"},
    {Format::FP6_E2M3, "fp6_e2m3", 6, true, 2, 3, 1, false, false, 7.5, 1.0, 0.125, "MXFP6 elements"},
    {Format::FP6_E3M2, "fp6_e3m2", 6, true, 3, 2, 3, false, false, 28.0, 0.25, 0.0625,
     "MXFP6 elements (wider range)"},
    {Format::FP4_E2M1, "fp4_e2m1", 4, true, 2, 1, 1, false, false, 6.0, 1.0, 0.5,
     "MXFP4 and NVFP4 elements"},
    {Format::E8M0, "e8m0", 8, false, 8, 0, 127, false, true, 1.7014118346046923e38, 5.877471754111438e-39,
     5.877471754111438e-39, "MX block scales (powers of two)"},
    {Format::INT2, "int2", 2, false, 0, 0, 0, false, false, 1, 1, 1, "extreme weight-only (W2A16)"},
    {Format::INT3, "int3", 3, false, 0, 0, 0, false, false, 3, 1, 1, "weight-only (W3A16)"},
    {Format::INT4, "int4", 4, false, 0, 0, 0, false, false, 7, 1, 1,
     "W4A16 / W4A16_ASYM weights (group 128): the size sweet spot"},
    {Format::INT5, "int5", 5, false, 0, 0, 0, false, false, 15, 1, 1, "weight-only (W5A16)"},
    {Format::INT6, "int6", 6, false, 0, 0, 0, false, false, 31, 1, 1, "weight-only (W6A16)"},
    {Format::INT7, "int7", 7, false, 0, 0, 0, false, false, 63, 1, 1, "weight-only (W7A16)"},
    {Format::INT8, "int8", 8, false, 0, 0, 0, false, false, 127, 1, 1,
     "W8A16 weights; W8A8 weights and activations"},
};

inline float pow2(int k) {  // exact 2^k for k in [-149, 127]
  if (k >= -126) return std::bit_cast<float>(uint32_t(k + 127) << 23);
  return std::bit_cast<float>(uint32_t(1) << (k + 149));
}

}  // namespace

std::span<const FormatTraits> all_formats() { return kTable; }

const FormatTraits& traits(Format f) { return kTable[static_cast<size_t>(f)]; }

const FormatTraits* find_format(const std::string& name) {
  std::string n;
  for (char c : name) n += char(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTable)
    if (n == t.name) return &t;
  return nullptr;
}

float decode_minifloat(uint8_t code, const FormatTraits& f) {
  const int e = f.exp_bits, m = f.man_bits;
  const uint32_t sign = (code >> (e + m)) & 1u;
  const uint32_t ef = (code >> m) & ((1u << e) - 1);
  const uint32_t mf = code & ((1u << m) - 1);
  float v;
  if (f.has_inf && ef == (1u << e) - 1) {  // IEEE-like (E5M2): all-ones exponent is inf/nan
    v = mf == 0 ? INFINITY : NAN;
  } else if (f.has_nan && !f.has_inf && ef == (1u << e) - 1 && mf == (1u << m) - 1) {
    v = NAN;  // E4M3FN: only S.1111.111 is NaN
  } else if (ef == 0) {
    v = float(mf) * pow2(1 - f.bias - m);
  } else {
    v = float((1u << m) | mf) * pow2(int(ef) - f.bias - m);
  }
  return sign ? -v : v;
}

uint8_t encode_minifloat(float x, const FormatTraits& f, Overflow mode) {
  const int e = f.exp_bits, m = f.man_bits;
  const uint8_t sign = std::signbit(x) ? uint8_t(1u << (e + m)) : 0;
  const uint8_t max_code = uint8_t(((f.has_inf ? (1u << e) - 2 : (1u << e) - 1) << m) |
                                   (f.has_nan && !f.has_inf ? (1u << m) - 2 : (1u << m) - 1));
  const uint8_t nan_code = f.has_inf ? uint8_t(((1u << e) - 1) << m | (1u << (m - 1)))
                                     : uint8_t(((1u << e) - 1) << m | ((1u << m) - 1));
  if (std::isnan(x)) return f.has_nan ? uint8_t(sign | nan_code) : 0;
  float a = std::fabs(x);
  const int emin = 1 - f.bias;
  // Exponent of a (float subnormals are far below every minifloat's range).
  int ea = int((std::bit_cast<uint32_t>(a) >> 23) & 0xff) - 127;
  int eq = std::max(ea, emin) - m;  // the quantum is 2^eq
  float r = std::nearbyint(a * pow2(-eq));  // exact scaling, then RNE
  auto overflow = [&]() -> uint8_t {
    if (mode == Overflow::Saturate || (!f.has_inf && !f.has_nan)) return uint8_t(sign | max_code);
    if (f.has_inf) return uint8_t(sign | (((1u << e) - 1) << m));
    return uint8_t(sign | nan_code);
  };
  if (std::isinf(a) || ea > 127 - 1) return overflow();
  if (double(r) * double(pow2(eq)) > f.max_finite) return overflow();
  if (r == 0.0f) return sign;
  uint32_t ri = uint32_t(r);
  int ef = std::max(ea, emin) + f.bias;
  if (ri >= (2u << m)) {  // rounding carried into the next binade
    ri >>= 1;
    ef += 1;
  }
  if (ri < (1u << m)) return uint8_t(sign | ri);  // subnormal (exponent field 0)
  return uint8_t(sign | (uint32_t(ef) << m) | (ri - (1u << m)));
}

float e8m0_decode(uint8_t e) {
  if (e == 255) return NAN;
  return pow2(int(e) - 127);
}

uint8_t e8m0_from_scale(float scale) {
  if (!(scale > 0.0f)) return 0;
  int e = 127 + int(std::floor(std::log2(scale)));
  return uint8_t(std::clamp(e, 0, 254));
}

}  // namespace lowbit
