// Weights for the forward pass straight from a checkpoint folder: dense tensors from the
// memory map, quantized Linears (any compressed-tensors format lowbit writes) decoded
// tile by tile inside the matmul.
#pragma once
#include <optional>

#include "io/model_dir.h"
#include "engine/transformer.h"
#include "quant/plan.h"

namespace lowbit::exporter {

class CheckpointWeights : public engine::WeightSource {
 public:
  CheckpointWeights(const io::ModelDir& dir, const model::Architecture& arch);
  engine::TensorView tensor(const std::string& name) const override;
  bool has_tensor(const std::string& name) const override;
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override;

 private:
  const io::ModelDir& dir_;
  quant::Recipe recipe_;
  std::optional<quant::Plan> plan_;
};

}  // namespace lowbit::exporter
