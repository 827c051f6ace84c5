#include "export/load_model.h"

namespace lowbit::exporter {

std::unique_ptr<LoadedModel> load_model(const std::filesystem::path& path, engine::Residency residency) {
  auto l = std::make_unique<LoadedModel>();
  l->dir = std::make_unique<io::ModelDir>(path);
  l->arch = model::architecture_from_config(l->dir->config(), (l->dir->path() / "config.json").string());
  l->weights = std::make_unique<CheckpointWeights>(*l->dir, l->arch);
  l->net = std::make_unique<engine::Transformer>(l->arch, *l->weights, residency);
  return l;
}

}  // namespace lowbit::exporter
