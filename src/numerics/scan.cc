#include "numerics/scan.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/isa.h"
#include "numerics/half.h"

namespace lowbit {

namespace {
// An IEEE value is non-finite iff its exponent field is all ones.
template <class U, U kExpMask>
struct ExpScan {
  LOWBIT_MEMBER_KERNEL(bool, any_all_ones, (const U* p, uint64_t n), (p, n)) {
    U acc = 0;
    for (uint64_t i = 0; i < n; ++i) acc |= U((p[i] & kExpMask) == kExpMask);
    return acc != 0;
  }
};

template <class U, U kExpMask>
int64_t first_bad(const U* p, uint64_t n) {
  constexpr uint64_t kChunk = 1 << 16;
  for (uint64_t b = 0; b < n; b += kChunk) {
    uint64_t len = std::min(kChunk, n - b);
    if (!ExpScan<U, kExpMask>::any_all_ones(p + b, len)) continue;
    for (uint64_t i = b; i < b + len; ++i)
      if ((p[i] & kExpMask) == kExpMask) return int64_t(i);
  }
  return -1;
}
}  // namespace

int64_t find_non_finite(const void* data, uint64_t n, DType t) {
  switch (t) {
    case DType::BF16: return first_bad<uint16_t, 0x7f80>(static_cast<const uint16_t*>(data), n);
    case DType::F16: return first_bad<uint16_t, 0x7c00>(static_cast<const uint16_t*>(data), n);
    case DType::F32: return first_bad<uint32_t, 0x7f800000u>(static_cast<const uint32_t*>(data), n);
    case DType::F64:
      return first_bad<uint64_t, 0x7ff0000000000000ull>(static_cast<const uint64_t*>(data), n);
    default: return -1;
  }
}

float tensor_amax(const void* w, DType dtype, uint64_t n, const std::string& name) {
  int64_t bad = find_non_finite(w, n, dtype);
  if (bad >= 0) throw UserError(name + ": NaN or Inf at flat index " + std::to_string(bad));
  float m = 0;
#pragma omp parallel for schedule(static) reduction(max : m)
  for (int64_t i = 0; i < int64_t(n); ++i) m = std::max(m, std::fabs(load_as_f32(w, size_t(i), dtype)));
  return m;
}

}  // namespace lowbit
