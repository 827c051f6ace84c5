// Weights for the forward pass straight from a compressed-tensors (or dense) checkpoint
// folder: dense tensors from the memory map, quantized Linears (any format lowbit writes)
// decoded tile by tile inside the matmul. Maps the engine's modules to tensor names.
#pragma once
#include <optional>

#include "engine/weight_source.h"
#include "io/model_dir.h"
#include "quant/plan.h"

namespace lowbit::exporter {

class CheckpointWeights : public engine::WeightSource {
 public:
  // `dir` and `arch` must outlive this.
  CheckpointWeights(const io::ModelDir& dir, const model::Architecture& arch);
  engine::TensorView dense_weight(const model::Module& m) const override;
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override;
  void release(const model::Module& m) const override;

 private:
  engine::TensorView float_tensor(const std::string& name) const;
  const io::ModelDir& dir_;
  const model::Architecture& arch_;
  quant::Recipe recipe_;
  std::optional<quant::Plan> plan_;
};

}  // namespace lowbit::exporter
