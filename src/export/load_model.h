// A checkpoint ready to run: its folder, architecture, weights and the forward pass, held
// together because each points into the one before.
#pragma once
#include <filesystem>
#include <memory>

#include "engine/transformer.h"
#include "export/checkpoint_weights.h"
#include "io/model_dir.h"
#include "model/architecture.h"

namespace lowbit::exporter {

struct LoadedModel {
  std::unique_ptr<io::ModelDir> dir;
  model::Architecture arch;
  std::unique_ptr<CheckpointWeights> weights;
  std::unique_ptr<engine::Transformer> net;
};

// Opens a model folder (dense or compressed-tensors); UserError for anything it cannot run.
std::unique_ptr<LoadedModel> load_model(const std::filesystem::path& path,
                                        engine::Residency residency = engine::Residency::AllLayers);

}  // namespace lowbit::exporter
