// A Linear whose weight is ggml blocks (a GGUF tensor's bytes, or what GPTQ onto a ggml type
// made), decoded to float32 row by row inside the matmul by ggml's own decoder, never as a
// dense copy. Rows are whole blocks, so any row range decodes on its own.
#pragma once
#include <cstdint>

#include "core/ggml_types.h"
#include "engine/linear.h"

namespace lowbit::engine {

class GgmlLinear : public Linear {
 public:
  // `blocks` (out rows of ggml_row_bytes(type, in) bytes) must outlive this. UserError when a
  // row is not a whole number of the type's blocks.
  GgmlLinear(const uint8_t* blocks, GgmlType type, int64_t in, int64_t out);
  void rows_f32(int64_t r0, int64_t r1, float* dst) const override;

 private:
  const uint8_t* blocks_;
  GgmlType type_;
  uint64_t row_bytes_;
};

}  // namespace lowbit::engine
