// A checkpoint ready to run: folder, architecture, weights and the forward pass, kept
// together because the network points into the weights, which point into the folder.
#pragma once
#include <memory>
#include <string>

#include "export/checkpoint_weights.h"
#include "io/model_dir.h"
#include "engine/transformer.h"

namespace lowbit::cli {

struct LoadedModel {
  std::unique_ptr<io::ModelDir> dir;
  model::Architecture arch;
  std::unique_ptr<exporter::CheckpointWeights> weights;
  std::unique_ptr<engine::Transformer> net;
};

LoadedModel load_model(const std::string& path);

}  // namespace lowbit::cli
