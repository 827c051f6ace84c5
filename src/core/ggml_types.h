// ggml's tensor types as GGUF files number them: one row per type (id, name, elements per
// block, bytes per block), as ggml's type-traits table holds them. The GGUF reader sizes and
// validates tensors with it; numerics/ggml_quants.h holds each type's encoder and decoder.
// Only ids that mean the same thing in every llama.cpp build are listed (ids >= 42 differ
// between forks: never written, never read).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lowbit {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;  // as ggml_type_name() spells it: "q4_K", "bf16", ...
  int64_t block_size;     // elements per block (1 for plain types)
  int64_t type_size;      // bytes per block
  bool quantized;
};

std::span<const GgmlTypeTraits> ggml_type_table();
// The row of a type id read from a file; nullopt for an unknown, removed or fork-specific id.
std::optional<GgmlTypeTraits> find_ggml_type(uint32_t id);
const GgmlTypeTraits& ggml_traits(GgmlType t);
std::optional<GgmlType> ggml_type_from_name(std::string_view name);  // case-insensitive: "Q4_K", "q4_k"
// Bytes of one row of ne0 elements; nullopt when ne0 is not a multiple of the block size.
std::optional<uint64_t> ggml_row_bytes(GgmlType t, int64_t ne0);

}  // namespace lowbit
