// Whole runs of F16/BF16/F32 elements to float32, vectorised (the matmul tiles and the
// embedding lookup use it; element-wise load_as_f32 is for cold paths).
#pragma once
#include <cstddef>

#include "core/dtype.h"

namespace lowbit {

// dst[i] = src[offset + i] as float32 for i in [0, n). `t` is F16, BF16, F32 or F64.
void to_f32(const void* src, DType t, size_t offset, size_t n, float* dst);

}  // namespace lowbit
