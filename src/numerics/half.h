// BF16 and FP16 <-> FP32 conversions, round-to-nearest-even, as PyTorch casts do.
// Header-only so the quantization kernels inline them.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"

namespace lowbit {

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// RNE; NaN stays a (quiet) NaN, overflow goes to Inf, exactly like torch's float->bfloat16.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float fp16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: value = mant * 2^-24
      float f = float(mant) * 0x1p-24f;
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(u);
}

// RNE with subnormals, overflow to Inf, NaN preserved (quiet).
inline uint16_t f32_to_fp16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520 -> Inf
  if (a < 0x38800000u) {                                   // below 2^-14: subnormal or zero
    // Scale so that one fp16 subnormal ulp (2^-24) is 1.0 and let FP32 RNE do the rounding.
    float v = std::bit_cast<float>(a) * 0x1p24f;
    uint32_t m = static_cast<uint32_t>(std::nearbyint(v));
    return uint16_t(sign | m);  // m == 0x400 correctly becomes the smallest normal
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
  return uint16_t(sign | ((r - 0x38000000u) >> 13));
}

// Round a float to the precision of a model dtype (identity for F32) - used to
// emulate PyTorch arithmetic in bf16/fp16 bit-exactly. Branch-free so that the
// quantization loops vectorise; the inputs there are finite (checked beforehand),
// and for finite values this equals the round trip through f32_to_bf16 / f32_to_fp16.
inline float round_to_dtype(float f, DType t) {
  switch (t) {
    case DType::BF16: {
      uint32_t u = std::bit_cast<uint32_t>(f);
      u += 0x7fffu + ((u >> 16) & 1u);
      return std::bit_cast<float>(u & 0xffff0000u);
    }
    case DType::F16:
#if defined(__GNUC__) && !defined(__clang__)
      return float(static_cast<_Float16>(f));  // RNE, subnormals, overflow to inf (F16C in the AVX2 clones)
#else
      return fp16_to_f32(f32_to_fp16(f));  // clang 14 has no x86 _Float16
#endif
    default: return f;
  }
}

// Smallest x with 1 + x != 1 in the dtype (torch.finfo(dtype).eps).
inline float dtype_eps(DType t) {
  switch (t) {
    case DType::BF16: return 0x1p-7f;
    case DType::F16: return 0x1p-10f;
    default: return 0x1p-23f;
  }
}

// Load one element of a float tensor (F16/BF16/F32) as float.
inline float load_as_f32(const void* base, size_t i, DType t) {
  switch (t) {
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::F16: return fp16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::F32: return static_cast<const float*>(base)[i];
    case DType::F64: return float(static_cast<const double*>(base)[i]);
    default: return NAN;
  }
}

// Store a float into a F16/BF16/F32 element (RNE).
inline void store_from_f32(void* base, size_t i, DType t, float v) {
  switch (t) {
    case DType::BF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16(v); break;
    case DType::F16: static_cast<uint16_t*>(base)[i] = f32_to_fp16(v); break;
    case DType::F32: static_cast<float*>(base)[i] = v; break;
    case DType::F64: static_cast<double*>(base)[i] = v; break;
    default: break;
  }
}

}  // namespace lowbit
