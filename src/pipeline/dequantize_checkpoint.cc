#include "pipeline/dequantize_checkpoint.h"

#include <map>

#include "core/error.h"
#include "core/interrupt.h"
#include "export/checkpoint_info.h"
#include "export/compressed_tensors.h"
#include "export/sharded_writer.h"
#include "io/atomic_dir.h"
#include "io/file_util.h"
#include "quant/schemes.h"

namespace lowbit::pipeline {

namespace fs = std::filesystem;
using nlohmann::json;

QuantizeSummary dequantize_checkpoint(const io::ModelDir& in, const QuantizeOptions& opts) {
  const std::string label = (in.path() / "config.json").string();
  if (!in.config().contains("quantization_config")) throw UserError(label + ": no quantization_config (already dense)");
  model::Architecture arch = model::architecture_from_config(in.config(), label);
  quant::Recipe recipe = exporter::recipe_from_quantization_config(in.config()["quantization_config"], label);
  quant::Plan plan = quant::make_plan(arch, recipe);

  std::map<std::string, const quant::QuantScheme*> quantized;  // module -> scheme
  for (const auto& c : plan.linears)
    if (c.group >= 0) quantized[c.module->path] = &recipe.config_groups[size_t(c.group)].second;

  struct Item {
    std::string name;
    std::string module;  // non-empty: decompress this module
    io::TensorSpec spec;
  };
  std::vector<Item> items;
  for (const auto& c : plan.linears) {
    if (c.group < 0) continue;
    auto q = exporter::read_quantized(in, c.module->path, recipe.config_groups[size_t(c.group)].second);
    items.push_back({c.module->path + ".weight", c.module->path,
                     {c.module->path + ".weight", q.dense_dtype, {c.module->out_features, c.module->in_features}}});
  }
  for (const auto& n : in.tensor_names()) {
    auto dot = n.rfind('.');
    std::string mod = dot == std::string::npos ? "" : n.substr(0, dot);
    std::string suf = dot == std::string::npos ? n : n.substr(dot + 1);
    if (quantized.count(mod) && quant::is_compressed_tensor_suffix(suf))
      continue;
    const auto* t = in.find(n)->info;
    items.push_back({n, "", {n, t->dtype, t->shape}});
  }

  io::AtomicDir out(opts.output, opts.overwrite);
  exporter::ShardedWriter writer(out.tmp(), opts.max_shard_bytes);
  uint64_t in_bytes = 0;
  for (const auto& it : items) {
    writer.add_unit({it.spec});
    in_bytes += it.spec.nbytes();
  }
  writer.start();
  QuantizeSummary sum;
  Progress progress("dequantize", items.size(), in_bytes, opts.progress);
  for (const auto& it : items) {
    check_interrupted();
    if (!it.module.empty()) {
      auto q = exporter::read_quantized(in, it.module, *quantized[it.module]);
      std::vector<uint8_t> dense(it.spec.nbytes());
      dequantize(q, dense.data());
      writer.write(it.name, dense.data(), dense.size());
      ++sum.quantized_modules;
    } else {
      const auto& r = in.at(it.name);
      writer.write(it.name, r.data(), r.info->nbytes());
      r.release();
      ++sum.copied_tensors;
    }
    progress.advance(1, it.spec.nbytes());
  }
  writer.finish();
  progress.finish();
  json cfg = in.config();
  cfg.erase("quantization_config");
  finish_checkpoint(in, out.tmp(), cfg, in_bytes, writer.total_bytes(), writer.num_shards(), progress.elapsed_seconds(),
                    sum);
  out.commit();
  return sum;
}

}  // namespace lowbit::pipeline
