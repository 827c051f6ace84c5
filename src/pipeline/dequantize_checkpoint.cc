#include "pipeline/dequantize_checkpoint.h"

#include <map>

#include "core/error.h"
#include "export/checkpoint_info.h"
#include "export/compressed_tensors.h"
#include "pipeline/stream.h"
#include "quant/schemes.h"

namespace lowbit::pipeline {

QuantizeSummary dequantize_checkpoint(const io::ModelDir& in, const QuantizeOptions& opts) {
  const std::string label = (in.path() / "config.json").string();
  if (!in.config().contains("quantization_config")) throw UserError(label + ": no quantization_config (already dense)");
  model::Architecture arch = model::architecture_from_config(in.config(), label);
  quant::Recipe recipe = exporter::recipe_from_quantization_config(in.config()["quantization_config"], label);
  quant::Plan plan = quant::make_plan(arch, recipe);

  std::map<std::string, const quant::QuantScheme*> quantized;  // module -> scheme
  for (const auto& c : plan.linears)
    if (c.group >= 0) quantized[c.module->path] = &recipe.config_groups[size_t(c.group)].second;

  QuantizeSummary sum;
  std::vector<StreamStep> steps;
  for (const auto& c : plan.linears) {
    if (c.group < 0) continue;
    const std::string module = c.module->path;
    const quant::QuantScheme& scheme = *quantized[module];
    const QuantLayout layout = exporter::read_quantized_layout(in, module, scheme);  // validated before writing
    if (layout.rows != c.module->out_features || layout.cols != c.module->in_features)
      throw UserError(in.path().string() + ": module " + module + ": stored shape does not match config.json");
    StreamStep s{{module + ".weight", layout.dense_dtype, {layout.rows, layout.cols}, nullptr}, 0, {}};
    s.input_bytes = uint64_t(layout.rows * layout.cols) * dtype_size(layout.dense_dtype);
    s.produce = [&, module](exporter::CheckpointWriter& w) {
      const QuantizedWeight q = exporter::read_quantized(in, module, scheme);
      std::vector<uint8_t> dense(size_t(q.rows * q.cols) * dtype_size(q.dense_dtype));
      dequantize(q, dense.data());
      w.write_dense(module + ".weight", dense.data(), dense.size());
      ++sum.quantized_modules;
    };
    steps.push_back(std::move(s));
  }
  for (const auto& n : in.tensor_names()) {
    auto dot = n.rfind('.');
    const std::string mod = dot == std::string::npos ? "" : n.substr(0, dot);
    const std::string suffix = dot == std::string::npos ? n : n.substr(dot + 1);
    if (quantized.count(mod) && quant::is_compressed_tensor_suffix(suffix)) continue;
    const io::TensorRef& r = in.at(n);
    StreamStep s{{n, r.info->dtype, r.info->shape, nullptr}, r.info->nbytes(), {}};
    s.produce = [&, n](exporter::CheckpointWriter& w) {
      const io::TensorRef& t = in.at(n);
      w.write_dense(n, t.data(), t.info->nbytes());
      t.release();
      ++sum.copied_tensors;
    };
    steps.push_back(std::move(s));
  }
  exporter::CheckpointMetadata meta;
  meta.config = in.config();
  meta.auxiliary_files = in.auxiliary_files();
  write_checkpoint(steps, meta, opts, "dequantize", sum);
  return sum;
}

}  // namespace lowbit::pipeline
