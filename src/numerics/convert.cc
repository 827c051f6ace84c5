#include "numerics/convert.h"

#include <cstdint>
#include <cstring>

#include "core/isa.h"
#include "numerics/half.h"

namespace lowbit {

namespace {
LOWBIT_KERNEL(void, bf16_run, (const uint16_t* s, size_t n, float* d), (s, n, d)) {
  for (size_t i = 0; i < n; ++i) d[i] = std::bit_cast<float>(uint32_t(s[i]) << 16);
}

LOWBIT_KERNEL(void, f16_run, (const uint16_t* s, size_t n, float* d), (s, n, d)) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  // The x86-64-v3/v4 variants turn this into vcvtph2ps (exact for every value).
  const _Float16* h = reinterpret_cast<const _Float16*>(s);
  for (size_t i = 0; i < n; ++i) d[i] = float(h[i]);
#else
  for (size_t i = 0; i < n; ++i) d[i] = fp16_to_f32(s[i]);
#endif
}
}  // namespace

void to_f32(const void* src, DType t, size_t offset, size_t n, float* dst) {
  switch (t) {
    case DType::BF16: bf16_run(static_cast<const uint16_t*>(src) + offset, n, dst); break;
    case DType::F16: f16_run(static_cast<const uint16_t*>(src) + offset, n, dst); break;
    case DType::F32: std::memcpy(dst, static_cast<const float*>(src) + offset, n * sizeof(float)); break;
    default:
      for (size_t i = 0; i < n; ++i) dst[i] = load_as_f32(src, offset + i, t);
  }
}

}  // namespace lowbit
