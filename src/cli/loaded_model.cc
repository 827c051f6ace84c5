#include "cli/loaded_model.h"

namespace lowbit::cli {

LoadedModel load_model(const std::string& path) {
  LoadedModel l;
  l.dir = std::make_unique<io::ModelDir>(path);
  l.arch = model::architecture_from_config(l.dir->config(), (l.dir->path() / "config.json").string());
  l.weights = std::make_unique<exporter::CheckpointWeights>(*l.dir, l.arch);
  l.net = std::make_unique<engine::Transformer>(l.arch, *l.weights);
  return l;
}

}  // namespace lowbit::cli
