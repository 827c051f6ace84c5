// Where the forward pass gets its weights: asked module by module (Hugging Face module
// paths from the architecture), so the engine never sees how a checkpoint names or stores
// them. A source may be a checkpoint folder, a GGUF file, or the quantized weights the
// calibration pipeline has just made.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "engine/linear.h"
#include "model/architecture.h"

namespace lowbit::engine {

struct TensorView {
  const void* data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // The weight of a module that is not a Linear (RMSNorm, the embedding), as stored (a float
  // dtype); UserError if the source lacks it.
  virtual TensorView dense_weight(const model::Module& m) const = 0;
  // A Linear with its bias, dense or quantized (the source decides); for a tied lm_head the
  // embedding matrix.
  virtual std::unique_ptr<Linear> linear(const model::Module& m) const = 0;
  // The engine is done with a module's weights for now (Residency::OneLayer after each
  // layer): a source backed by a memory map drops those pages, so memory stays one layer.
  virtual void release(const model::Module& m) const {}
};

}  // namespace lowbit::engine
