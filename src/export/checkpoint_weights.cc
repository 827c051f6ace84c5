#include "export/checkpoint_weights.h"

#include "core/error.h"
#include "engine/quantized_linear.h"
#include "export/checkpoint_info.h"
#include "export/compressed_tensors.h"

namespace lowbit::exporter {

CheckpointWeights::CheckpointWeights(const io::ModelDir& dir, const model::Architecture& arch)
    : dir_(dir), arch_(arch) {
  if (dir.config().contains("quantization_config")) {
    recipe_ = recipe_from_quantization_config(dir.config()["quantization_config"],
                                              (dir.path() / "config.json").string());
    plan_ = quant::make_plan(arch, recipe_);
  }
}

engine::TensorView CheckpointWeights::float_tensor(const std::string& name) const {
  const io::TensorRef& r = dir_.at(name);
  if (!dtype_is_float(r.info->dtype))
    throw UserError(dir_.path().string() + ": tensor " + name + " has dtype " + std::string(dtype_name(r.info->dtype)) +
                    " (expected a float tensor)");
  return {r.data(), r.info->dtype, r.info->shape};
}

engine::TensorView CheckpointWeights::dense_weight(const model::Module& m) const { return float_tensor(m.path + ".weight"); }

void CheckpointWeights::release(const model::Module& m) const {
  for (const char* suffix : {"weight", "bias"})
    if (const io::TensorRef* r = dir_.find(m.path + "." + suffix)) r->release();
}

std::unique_ptr<engine::Linear> CheckpointWeights::linear(const model::Module& m) const {
  std::unique_ptr<engine::Linear> out;
  const quant::ModuleChoice* c = plan_ ? plan_->find(m.path) : nullptr;
  if (c && c->group >= 0) {
    out = std::make_unique<engine::QuantizedLinear>(
        read_quantized(dir_, m.path, recipe_.config_groups[size_t(c->group)].second));
  } else if (!dir_.find(m.path + ".weight") && m.path == "lm_head" && arch_.tied_embeddings) {
    // A tied head is the embedding matrix.
    engine::TensorView e = float_tensor("model.embed_tokens.weight");
    out = std::make_unique<engine::DenseLinear>(e.data, e.dtype, m.in_features, m.out_features);
  } else {
    engine::TensorView w = float_tensor(m.path + ".weight");
    if (w.shape != std::vector<int64_t>{m.out_features, m.in_features})
      throw UserError(dir_.path().string() + ": tensor " + m.path + ".weight has an unexpected shape");
    out = std::make_unique<engine::DenseLinear>(w.data, w.dtype, m.in_features, m.out_features);
  }
  if (m.has_bias) {
    engine::TensorView b = float_tensor(m.path + ".bias");
    out->set_bias(b.data, b.dtype);
  }
  return out;
}

}  // namespace lowbit::exporter
