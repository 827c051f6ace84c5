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
  int block_size;          // elements sharing one scale in its block format (0: none)
  const char* scale_format;  // the block scale's format ("e8m0", "fp8_e4m3", "")
  const char* used_for;
};

std::span<const FormatTraits> all_formats();
const FormatTraits& traits(Format f);
const FormatTraits* find_format(const std::string& name);  // case-insensitive; nullptr if unknown

// Minifloats of at most 8 bits (FP8, FP6, FP4): code in the low `bits` bits.
uint8_t encode_minifloat(float x, const FormatTraits& f, Overflow mode = Overflow::Saturate);
float decode_minifloat(uint8_t code, const FormatTraits& f);

// Fast paths used by the quantizers (same results as the generic functions).
uint8_t fp8_e4m3_encode(float x);  // saturating, RNE
float fp8_e4m3_decode(uint8_t code);
uint8_t fp4_e2m1_encode(float x);  // saturating, RNE; sign in bit 3
float fp4_e2m1_decode(uint8_t code);

// E8M0: byte e means 2^(e-127); 255 is NaN.
float e8m0_decode(uint8_t e);
// compressed-tensors' storage of a power-of-two scale: 127 + floor(log2(scale)).
uint8_t e8m0_from_scale(float scale);

}  // namespace lowbit
