// One table of number formats. Each row carries the traits (bits, exponent and
// mantissa widths, bias, range, inf/nan, block size and scale format for block
// formats) and the table drives encode/decode, so no format is a switch repeated
// in ten places.
//
// Rounding and overflow:
// * Every encoder rounds to nearest, ties to even (IEEE 754, PyTorch casts, OCP MX v1.0 §5.3).
// * Overflow::Saturate clamps to ±max_finite: the OCP MX "saturating" conversion and what
//   compressed-tensors gets by clamping before every cast. This is what quantization uses.
// * Overflow::Torch mimics PyTorch's casts: float8_e4m3fn (no inf) turns overflow into NaN,
//   float8_e5m2 into ±inf. FP6/FP4 have neither, so they saturate in both modes.
// * NaN encodes to the format's NaN where it has one, else to +0 (MX FP6/FP4 have no NaN;
//   lowbit refuses NaN weights before they get here).
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

namespace lowbit {

enum class Format {
  BF16, FP16, FP8_E4M3, FP8_E5M2, FP6_E2M3, FP6_E3M2, FP4_E2M1, E8M0,
  INT2, INT3, INT4, INT5, INT6, INT7, INT8,
};

enum class Overflow { Saturate, Torch };

struct FormatTraits {
  Format id;
  const char* name;       // "fp8_e4m3"
  int bits;
  bool is_float;          // false: INT-N (two's complement) and E8M0 (exponent only)
  int exp_bits, man_bits, bias;
  bool has_inf, has_nan;
  double max_finite, min_normal, min_subnormal;  // positive magnitudes (INT: max, 1, 1)
  const char* used_for;
};

std::span<const FormatTraits> all_formats();
const FormatTraits& traits(Format f);
const FormatTraits* find_format(const std::string& name);  // case-insensitive; nullptr if unknown

// Minifloats of at most 8 bits (FP8, FP6, FP4): code in the low `bits` bits.
uint8_t encode_minifloat(float x, const FormatTraits& f, Overflow mode = Overflow::Saturate);
float decode_minifloat(uint8_t code, const FormatTraits& f);

// Fast paths used by the quantizers (same results as the generic functions), inline and
// branch-free so the compiler vectorises the loops that call them.

namespace detail {
// All-ones when b, else zero: selects written as masks so that GCC vectorises them.
inline uint32_t mask_if(bool b) { return 0u - uint32_t(b); }
inline uint32_t select(uint32_t m, uint32_t a, uint32_t b) { return (a & m) | (b & ~m); }
}  // namespace detail

// Saturating RNE. E4M3's normal codes are f32's top bits re-biased (127 -> 7) with the
// mantissa rounded from 23 to 3 bits; subnormal codes are contiguous below 2^-6.
inline uint8_t fp8_e4m3_encode(float x) {
  using detail::mask_if;
  using detail::select;
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (u >> 24) & 0x80u;
  const uint32_t a = u & 0x7fffffffu;
  // RNE of a * 2^9 by the 1.5 * 2^23 trick: the sum's low mantissa bits are the rounded value.
  const uint32_t sub = std::bit_cast<uint32_t>(std::bit_cast<float>(a) * 512.0f + 12582912.0f) - 0x4B400000u;
  const uint32_t rounded = a + 0x7ffffu + ((a >> 20) & 1u);
  const uint32_t normal = (rounded >> 20) - (120u << 3);
  uint32_t code = select(mask_if(a < 0x3c800000u), sub, normal);
  code = select(mask_if(a >= 0x43e00000u), 0x7eu, code);  // >= 448: saturate
  code = select(mask_if(a > 0x7f800000u), 0x7fu, code);   // NaN
  return uint8_t(sign | code);
}

inline float fp8_e4m3_decode(uint8_t c) {
  using detail::mask_if;
  using detail::select;
  const uint32_t cc = c, e = (cc >> 3) & 15u, m = cc & 7u;
  const uint32_t normal = ((e + 120u) << 23) | (m << 20);
  const uint32_t sub = std::bit_cast<uint32_t>(float(m) * 0x1p-9f);
  uint32_t bits = select(mask_if(e == 0), sub, normal);
  bits = select(mask_if((cc & 0x7fu) == 0x7fu), 0x7fc00000u, bits);
  return std::bit_cast<float>(bits | ((cc & 0x80u) << 24));
}

// Saturating RNE onto 0, .5, 1, 1.5, 2, 3, 4, 6 (ties to the even mantissa: 0.25->0,
// 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4); sign in bit 3. NaN -> 0.
inline uint8_t fp4_e2m1_encode(float x) {
  const float a = std::fabs(x);
  const uint32_t i = uint32_t(a > 0.25f) + uint32_t(a >= 0.75f) + uint32_t(a > 1.25f) + uint32_t(a >= 1.75f) +
                     uint32_t(a > 2.5f) + uint32_t(a >= 3.5f) + uint32_t(a > 5.0f);
  const uint32_t sign = (std::bit_cast<uint32_t>(x) >> 28) & 8u;
  return uint8_t((sign | i) & detail::mask_if(x == x));
}

inline float fp4_e2m1_decode(uint8_t c) {
  const uint32_t cc = c, i = cc & 7u;
  // i >= 2: 2^((i >> 1) - 1) * (1 + (i & 1) / 2); i < 2: i / 2 (0 or 0.5 = 0x3f000000).
  const uint32_t normal = (((i >> 1) + 126u) << 23) | ((i & 1u) << 22);
  const uint32_t small = 0x3f000000u & detail::mask_if(i == 1);
  const uint32_t bits = detail::select(detail::mask_if(i < 2), small, normal);
  return std::bit_cast<float>(bits | ((cc & 8u) << 28));
}

// E8M0: byte e means 2^(e-127); 255 is NaN.
float e8m0_decode(uint8_t e);
// compressed-tensors' storage of a power-of-two scale: 127 + floor(log2(scale)).
uint8_t e8m0_from_scale(float scale);

}  // namespace lowbit
