// ggml's scale searches (ggml-quants.c), shared by the k-quants, the legacy types' importance
// paths and IQ4: each picks the integer levels and the scale of a small group of weights. The
// arithmetic is ggml's, operation for operation in float, so the chosen levels and scales are
// bit-identical to llama-quantize's (private to numerics/).
#pragma once
#include <bit>
#include <climits>
#include <cstdint>

namespace lowbit::ggml_detail {

// A group whose largest |x| is below this is all zero (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// ggml's nearest_int: adding 1.5 * 2^23 leaves round(x) (ties to even) in the low mantissa
// bits. Exact for |x| < 2^22; beyond that it returns the same wrapped bits ggml does.
inline int nearest_int(float x) {
  const float biased = x + 12582912.f;
  return int(std::bit_cast<uint32_t>(biased) & 0x007fffffu) - 0x00400000;
}

// A C cast float -> int as x86 executes it (cvttss2si): truncation toward zero, and the
// "integer indefinite" INT32_MIN for NaN and out-of-range values. ggml casts to int8_t/uint8_t
// through it, keeping the low byte, so blocks whose 1/d overflows encode as ggml's do.
inline int32_t truncate_like_x86(float x) {
  if (!(x >= -2147483648.0f && x < 2147483648.0f)) return INT32_MIN;
  return int32_t(x);
}

// Symmetric ("type-0") levels l in [-nmax, nmax-1], stored in L as l + nmax, and their scale
// x ~ scale * l (make_qx_quants with rmse_type 1). The largest |x| maps to -nmax, then 18 nearby
// inverse scales are tried, keeping the one whose weighted least-squares fit is best. weights
// may be null: then each weight is x^2. Returns the least-squares scale (0 for an all-zero group).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Q3_K's variant without importance (make_q3_quants, do_rmse): weights x^2, one rounding at
// -nmax/max, then up to 5 passes of coordinate descent on single levels. L as make_qx_quants.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric ("type-1") levels L in [0, nmax] with x ~ scale * L - the_min (make_qkx2_quants;
// make_qkx3_quants is the same search with weights given). Inverse scales
// (rmin + rdelta * is + nmax) / (max - min), is = 0..nstep, each refitted by 2x2 weighted least
// squares, kept when the weighted error (|err| with use_mad, else err^2) drops. Laux is scratch
// of n levels. Returns the scale; *the_min >= 0 is the offset subtracted on decode.
float make_qkx_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                      float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                      bool use_mad);

// Unsigned levels in [0, nmax] for non-negative x (a super-block's sub-block scales or mins),
// weighted by weights (make_qp_quants): nine inverse scales around nmax/max, then up to 5
// passes of coordinate descent. Returns the super-block scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace lowbit::ggml_detail
