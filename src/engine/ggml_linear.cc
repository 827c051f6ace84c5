#include "engine/ggml_linear.h"

#include <string>

#include "core/error.h"
#include "numerics/ggml_quants.h"

namespace lowbit::engine {

GgmlLinear::GgmlLinear(const uint8_t* blocks, GgmlType type, int64_t in, int64_t out)
    : Linear(in, out), blocks_(blocks), type_(type) {
  const auto rb = ggml_row_bytes(type, in);
  if (!rb)
    throw UserError("a row of " + std::to_string(in) + " values is not a whole number of " +
                    std::string(ggml_traits(type).name) + " blocks");
  row_bytes_ = *rb;
  ggml_codec(type);  // a type without a decoder fails here, not in the middle of a matmul
}

void GgmlLinear::rows_f32(int64_t r0, int64_t r1, float* dst) const {
  const GgmlCodec& c = ggml_codec(type_);
  // Rows in parallel, as DenseLinear's: a many-token product decodes its whole tile here.
#pragma omp parallel for schedule(static) if (r1 - r0 > 1)
  for (int64_t r = r0; r < r1; ++r) c.dequantize(blocks_ + uint64_t(r) * row_bytes_, dst + (r - r0) * in(), in());
}

}  // namespace lowbit::engine
