#include "export/checkpoint_info.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "export/compressed_tensors.h"
#include "quant/schemes.h"

namespace lowbit::exporter {

using nlohmann::json;

quant::Recipe recipe_from_quantization_config(const json& qc, const std::string& label) {
  if (!qc.is_object()) throw UserError(label + ": quantization_config is not an object");
  if (qc.value("quant_method", "") != "compressed-tensors")
    throw UserError(label + ": quant_method '" + qc.value("quant_method", "") + "' is not compressed-tensors");
  if (qc.value("quantization_status", "compressed") != "compressed")
    throw UserError(label + ": quantization_status '" + qc.value("quantization_status", "") +
                    "' (only compressed checkpoints are supported)");
  quant::Recipe r;
  if (!qc.contains("config_groups") || !qc["config_groups"].is_object())
    throw UserError(label + ": quantization_config has no config_groups");
  for (auto it = qc["config_groups"].begin(); it != qc["config_groups"].end(); ++it)
    r.config_groups.emplace_back(it.key(),
                                 quant::parse_quant_scheme(it.value(), label + ": config_groups." + it.key()));
  if (qc.contains("ignore") && qc["ignore"].is_array())
    for (const auto& i : qc["ignore"]) r.ignore.push_back(i.get<std::string>());
  return r;
}

namespace {
uint64_t bytes_of(const io::ModelDir& d, const std::string& name) {
  const io::TensorRef* r = d.find(name);
  return r ? r->info->nbytes() : 0;
}
}  // namespace

CheckpointInfo inspect_checkpoint(const io::ModelDir& dir) {
  CheckpointInfo info;
  const std::string label = (dir.path() / "config.json").string();
  model::Architecture arch = model::architecture_from_config(dir.config(), label);
  info.architecture = arch.name;
  info.layers = arch.num_layers;
  info.hidden = arch.hidden;
  info.vocab = arch.vocab;
  info.tied_embeddings = arch.tied_embeddings;
  info.shards = int(dir.shards().size());
  info.file_bytes = dir.weight_bytes_on_disk();
  for (const auto& n : dir.tensor_names()) {
    const auto* t = dir.find(n)->info;
    info.dtype_bytes[std::string(dtype_name(t->dtype))] += t->nbytes();
    info.tensor_bytes += t->nbytes();
  }
  std::optional<quant::Plan> plan;
  quant::Recipe recipe;
  info.format = "dense";
  if (dir.config().contains("quantization_config")) {
    info.quantization_config = dir.config()["quantization_config"];
    recipe = recipe_from_quantization_config(info.quantization_config, label);
    plan = quant::make_plan(arch, recipe);
    info.format = info.quantization_config.value("format", "unknown");
  }
  // Parameters: every tensor of the dense model, with quantized weights counted as N*K.
  for (const auto& p : arch.params) {
    int64_t n = 1;
    for (auto d : p.shape) n *= d;
    info.parameters += n;
  }
  uint64_t lin_bytes = 0;
  int64_t lin_weights = 0;
  for (const auto* m : arch.linears()) {
    LinearInfo li;
    li.path = m->path;
    li.weights = m->in_features * m->out_features;
    const quant::ModuleChoice* c = plan ? plan->find(m->path) : nullptr;
    if (c && c->group >= 0) {
      const auto& [gname, scheme] = recipe.config_groups[size_t(c->group)];
      li.group = gname;
      li.scheme = quant::describe(scheme);
      for (const char* suffix : quant::compressed_tensor_suffixes()) li.bytes += bytes_of(dir, m->path + "." + suffix);
      const quant::SchemeFormat* f = quant::find_scheme_format(scheme);
      if (!f || !dir.find(m->path + "." + f->codes_suffix))
        throw UserError(dir.path().string() + ": quantized module " + m->path + " has no " +
                        (f ? f->codes_suffix : "weight") + " tensor");
    } else {
      const io::TensorRef* w = dir.find(m->path + ".weight");
      if (!w && m->path == "lm_head" && arch.tied_embeddings) continue;  // shares the embedding
      if (!w) throw UserError(dir.path().string() + ": tensor " + m->path + ".weight is missing");
      li.scheme = std::string(dtype_name(w->info->dtype));
      li.bytes = w->info->nbytes();
    }
    lin_bytes += li.bytes;
    lin_weights += li.weights;
    info.linears.push_back(li);
  }
  info.linear_bits_per_weight = lin_weights ? 8.0 * double(lin_bytes) / double(lin_weights) : 0;
  info.bits_per_parameter = info.parameters ? 8.0 * double(info.tensor_bytes) / double(info.parameters) : 0;
  return info;
}

json to_json(const CheckpointInfo& i) {
  json j;
  j["architecture"] = i.architecture;
  j["layers"] = i.layers;
  j["hidden_size"] = i.hidden;
  j["vocab_size"] = i.vocab;
  j["tied_embeddings"] = i.tied_embeddings;
  j["parameters"] = i.parameters;
  j["dtype_bytes"] = i.dtype_bytes;
  j["tensor_bytes"] = i.tensor_bytes;
  j["file_bytes"] = i.file_bytes;
  j["shards"] = i.shards;
  j["format"] = i.format;
  j["quantization_config"] = i.quantization_config;
  j["linear_bits_per_weight"] = i.linear_bits_per_weight;
  j["bits_per_parameter"] = i.bits_per_parameter;
  json mods = json::array();
  for (const auto& l : i.linears)
    mods.push_back({{"module", l.path}, {"scheme", l.scheme}, {"group", l.group}, {"weights", l.weights},
                    {"bytes", l.bytes}});
  j["linears"] = mods;
  return j;
}

std::string to_text(const CheckpointInfo& i) {
  std::ostringstream o;
  char buf[256];
  o << "architecture   " << i.architecture << " (" << i.layers << " layers, hidden " << i.hidden << ", vocab "
    << i.vocab << (i.tied_embeddings ? ", tied embeddings" : "") << ")\n";
  std::snprintf(buf, sizeof buf, "%.3f M", double(i.parameters) / 1e6);
  o << "parameters     " << buf << "\n";
  o << "format         " << i.format << "\n";
  o << "on disk        " << Progress::human_bytes(double(i.file_bytes)) << " in " << i.shards << " shard(s)\n";
  o << "dtypes        ";
  for (const auto& [d, b] : i.dtype_bytes) o << " " << d << " " << Progress::human_bytes(double(b)) << ";";
  o << "\n";
  std::snprintf(buf, sizeof buf, "%.3f", i.linear_bits_per_weight);
  o << "Linear bits/w  " << buf << " (weights plus scales and zero points)\n";
  std::snprintf(buf, sizeof buf, "%.3f", i.bits_per_parameter);
  o << "bits/param     " << buf << " (whole checkpoint)\n";
  // Summarise modules by scheme, then list each Linear.
  std::map<std::string, int> by_scheme;
  for (const auto& l : i.linears) by_scheme[l.scheme]++;
  o << "Linear modules " << i.linears.size() << ":";
  for (const auto& [s, n] : by_scheme) o << " " << n << " " << s << ";";
  o << "\n";
  for (const auto& l : i.linears) {
    std::snprintf(buf, sizeof buf, "  %-44s %-34s %10s  %.2f bits/w\n", l.path.c_str(), l.scheme.c_str(),
                  Progress::human_bytes(double(l.bytes)).c_str(), l.weights ? 8.0 * double(l.bytes) / double(l.weights) : 0.0);
    o << buf;
  }
  return o.str();
}

}  // namespace lowbit::exporter
