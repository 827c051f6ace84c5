// Whole-tensor scans used on every tensor we read.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace lowbit {

// Index of the first NaN/Inf element of a float tensor (F16/BF16/F32/F64), or -1.
// Non-float dtypes return -1.
int64_t find_non_finite(const void* data, uint64_t numel, DType dtype);

// max |w| over a float tensor; NaN/Inf is a UserError naming `name` and the index.
float tensor_amax(const void* w, DType dtype, uint64_t n, const std::string& name);

}  // namespace lowbit
