// The scale searches and rounding helpers that several of ggml's block types share
// (ggml-quants.c), reproduced operation for operation so that lowbit's encoders write the
// bytes llama-quantize writes. Private to numerics/: the legacy types (ggml_legacy.cc) and the
// k-quants / IQ4_XS (ggml_kquants.cc) build on them.
//
// Bit-exactness rules followed here (ggml-base is C built with -O3 for baseline x86-64: no FMA,
// no reassociation): every expression keeps ggml's operand order and float (never double)
// arithmetic; sums accumulate in element order; ties break as ggml's comparisons do.
#pragma once
#include <bit>
#include <cstdint>

namespace lowbit::ggml_detail {

// ggml's non-linear 4-bit codebook (kvalues_iq4nl), shared by IQ4_NL and IQ4_XS.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};
// E2M1 values doubled (kvalues_mxfp4): bit 3 is the sign; MXFP4 and NVFP4 scale by half.
inline constexpr int8_t kFp4DoubledValues[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                                 0, -1, -2, -3, -4, -6, -8, -12};

// ggml's nearest_int: adding 1.5 * 2^23 leaves round(x) (ties to even) in the low mantissa
// bits. Valid for |x| < 2^22, as in ggml; outside that it returns what ggml's bits give.
inline int nearest_int(float x) {
  const float biased = x + 12582912.f;
  return int((std::bit_cast<uint32_t>(biased) & 0x007fffffu)) - 0x00400000;
}

// A C cast float -> int as x86 executes it (cvttss2si): truncation toward zero, and the
// "integer indefinite" INT32_MIN for NaN and out-of-range values. ggml casts to int8_t/uint8_t
// through it, keeping the low byte, so blocks whose 1/d overflows encode as ggml's do.
inline int32_t truncate_like_x86(float x) {
  if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
  return int32_t(x);
}

// ggml's best_index_int8: the index of the codebook entry nearest to x (values ascending),
// found by bisection; at an exact midpoint the upper entry wins.
inline int nearest_code_index(const int8_t* values, int n, float x) {
  if (x <= values[0]) return 0;
  if (x >= values[n - 1]) return n - 1;
  int lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < values[mid]) hi = mid;
    else lo = mid;
  }
  return x - values[hi - 1] < values[hi] - x ? hi - 1 : hi;
}

// make_qx_quants: symmetric ("type-0") scale search. Levels l in [-nmax, nmax-1] are written
// to L as l + nmax. Weights: qw when given, else by rmse_type (1: x^2, 2: 1, 3: |x|,
// 4: sqrt|x|). rmse_type 0 is plain rounding at -nmax/max (returns 1/iscale); a negative
// rmse_type stops after the first weighted fit. Otherwise 18 nearby inverse scales are tried
// and the one with the largest sum(wxl)^2 / sum(wl^2) wins. Returns the least-squares scale;
// 0 and all L = 0 for a block whose largest |x| is below 1e-15.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// make_qkx3_quants: asymmetric ("type-1") scale and min search, x ~ scale * L + min with
// L in [0, nmax] and min <= 0. Weights default to x^2 when null. nstep + 1 inverse scales
// (rmin + rdelta * is + nmax) / (max - min) are tried, each refit by weighted least squares
// and kept when the weighted error (|err| when use_mad, else err^2) drops. Laux is scratch of
// n codes. Returns the scale; *neg_min receives -min (>= 0), the value to subtract.
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// quantize_row_iq4_nl_impl as quantize_iq4_nl / quantize_iq4_xs call it (ntry = 7): one
// super-block of super_block_size values (32: IQ4_NL, 256: IQ4_XS; at most 256) in blocks
// of 32 on the kIq4nlValues codebook. importance is the super-block's slice of the imatrix
// or null.
// Writes the fp16 scale *d, the packed nibbles qs (super_block_size / 2 bytes; element j of a
// 32-block in the low nibble of byte j, element j + 16 in the high nibble) and, for more than
// one block, the 6-bit block scales (scales_h / scales_l as IQ4_XS packs them; unused for
// IQ4_NL, may be null).
void iq4_nl_quantize_superblock(int super_block_size, const float* x, const float* importance,
                                uint16_t* d, uint8_t* qs, uint16_t* scales_h,
                                uint8_t* scales_l);

}  // namespace lowbit::ggml_detail
