// Element types as safetensors spells them, and their sizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lowbit {

enum class DType : uint8_t {
  BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2,
};

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "BF16", "F8_E4M3", ...
std::optional<DType> dtype_from_name(std::string_view name);
bool dtype_is_float(DType t);  // F16, BF16, F32, F64 (the dtypes a model's weights come in)

}  // namespace lowbit
