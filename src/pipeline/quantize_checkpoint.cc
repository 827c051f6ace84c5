#include "pipeline/quantize_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <map>
#include <set>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "export/compressed_tensors.h"
#include "export/sharded_writer.h"
#include "io/atomic_dir.h"
#include "io/file_util.h"
#include "numerics/scan.h"

namespace lowbit::pipeline {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string where(const io::TensorRef& r) {
  return r.file->path().filename().string() + ": tensor " + r.info->name;
}

void check_finite(const io::TensorRef& r) {
  int64_t bad = find_non_finite(r.data(), r.info->numel(), r.info->dtype);
  if (bad >= 0) throw UserError(where(r) + ": NaN or Inf at flat index " + std::to_string(bad));
}

// One step of the output: a quantized Linear, or a tensor copied as it is.
struct Unit {
  const io::TensorRef* source = nullptr;
  std::string out_name;                  // copies: output tensor name
  const quant::ModuleChoice* choice = nullptr;  // quantized modules
  std::vector<io::TensorSpec> specs;
};

// NVFP4: vLLM serves q/k/v and gate/up as one fused layer with one global scale, so
// members of a fused group share the global scale of their combined absolute max.
std::map<std::string, float> fused_global_amax(const io::ModelDir& in, const quant::Plan& plan,
                                               const quant::Recipe& recipe) {
  static const std::vector<std::vector<std::string>> kFused = {{"q_proj", "k_proj", "v_proj"},
                                                               {"gate_proj", "up_proj"}};
  std::map<std::string, float> out;
  for (const auto& c : plan.linears) {
    if (c.group < 0 || recipe.config_groups[size_t(c.group)].second.weights->strategy != quant::Strategy::TensorGroup)
      continue;
    const std::string& p = c.module->path;
    for (const auto& fused : kFused) {
      const std::string& first = fused[0];
      if (p.size() < first.size() || p.compare(p.size() - first.size(), first.size(), first) != 0) continue;
      const std::string parent = p.substr(0, p.size() - first.size());
      float amax = 0;
      std::vector<std::string> members;
      for (const auto& name : fused) {
        const quant::ModuleChoice* m = plan.find(parent + name);
        if (!m || m->group < 0) continue;
        const io::TensorRef& t = in.at(parent + name + ".weight");
        amax = std::max(amax, tensor_amax(t.data(), t.info->dtype, t.info->numel(), where(t)));
        t.release();
        members.push_back(parent + name);
      }
      for (const auto& m : members) out[m] = amax;
    }
  }
  return out;
}

nlohmann::json error_report(const std::vector<ModuleError>& errors, const quant::Recipe& recipe) {
  json mods = json::array();
  double worst = 0, sum = 0;
  for (const auto& e : errors) {
    mods.push_back({{"module", e.module}, {"group", e.group}, {"relative_error", e.relative_error},
                    {"snr_db", std::isfinite(e.snr_db) ? json(e.snr_db) : json(nullptr)}});
    worst = std::max(worst, e.relative_error);
    sum += e.relative_error;
  }
  json groups = json::object();
  for (const auto& [name, s] : recipe.config_groups) groups[name] = quant::to_json(s);
  return {{"config_groups", groups},
          {"modules", mods},
          {"mean_relative_error", errors.empty() ? 0.0 : sum / double(errors.size())},
          {"max_relative_error", worst}};
}

}  // namespace

void validate_checkpoint(const io::ModelDir& in, const model::Architecture& arch) {
  for (const auto& p : arch.params) {
    const io::TensorRef* r = in.find(p.name);
    if (!r)
      throw UserError(in.path().string() + ": tensor " + p.name + " is missing (required by " + arch.name + ")");
    if (r->info->shape != p.shape)
      throw UserError(where(*r) + ": shape " + shape_str(r->info->shape) + " but config.json implies " +
                      shape_str(p.shape));
    if (!dtype_is_float(r->info->dtype))
      throw UserError(where(*r) + ": dtype " + std::string(dtype_name(r->info->dtype)) +
                      " (expected BF16, F16 or F32; is this checkpoint already quantized?)");
  }
}

QuantizeSummary quantize_checkpoint(const io::ModelDir& in, const model::Architecture& arch,
                                    const quant::Recipe& recipe, const quant::Plan& plan,
                                    const QuantizeOptions& opts) {
  validate_checkpoint(in, arch);

  // Plan every output tensor before writing any, in the architecture's order.
  std::map<std::string, const quant::ModuleChoice*> quantized;  // "<module>.weight" -> choice
  for (const auto& c : plan.linears)
    if (c.group >= 0) quantized[c.module->path + ".weight"] = &c;
  std::vector<Unit> units;
  std::set<std::string> planned_inputs;
  bool untie = false;
  auto add_param = [&](const std::string& name) {
    auto q = quantized.find(name);
    const io::TensorRef* src = in.find(name);
    if (q != quantized.end()) {
      if (!src && name == "lm_head.weight" && arch.tied_embeddings) {
        src = &in.at("model.embed_tokens.weight");  // quantizing a tied head unties it
        untie = true;
      }
      const auto& scheme = recipe.config_groups[size_t(q->second->group)].second;
      const auto* m = q->second->module;
      units.push_back({src, "", q->second,
                       exporter::quantized_specs(m->path, scheme, m->out_features, m->in_features,
                                                 src->info->dtype)});
    } else {
      units.push_back({src, name, nullptr, {{name, src->info->dtype, src->info->shape}}});
    }
    planned_inputs.insert(name);
  };
  for (const auto& p : arch.params) add_param(p.name);
  if (arch.tied_embeddings && quantized.count("lm_head.weight")) add_param("lm_head.weight");
  std::vector<std::string> extras;
  for (const auto& n : in.tensor_names())
    if (!planned_inputs.count(n)) extras.push_back(n);
  std::sort(extras.begin(), extras.end());
  for (const auto& n : extras) add_param(n);
  if (!extras.empty())
    log::warn(std::to_string(extras.size()) + " tensor(s) not part of " + arch.name + " copied unchanged (first: " +
              extras[0] + ")");
  if (untie) log::warn("lm_head is tied to model.embed_tokens; quantizing it unties them (tie_word_embeddings=false)");

  uint64_t in_bytes = 0, out_bytes = 0;
  for (const auto& u : units) {
    in_bytes += u.source->info->nbytes();
    for (const auto& s : u.specs) out_bytes += s.nbytes();
  }
  const uint64_t need = out_bytes + (64u << 20);
  const uint64_t avail = io::free_bytes(fs::absolute(opts.output).parent_path());
  if (need > avail)
    throw UserError(fs::absolute(opts.output).parent_path().string() + ": not enough disk space: output needs " +
                    Progress::human_bytes(double(need)) + ", " + Progress::human_bytes(double(avail)) + " free");

  const auto shared_amax = fused_global_amax(in, plan, recipe);

  io::AtomicDir out(opts.output, opts.overwrite);
  exporter::ShardedWriter writer(out.tmp(), opts.max_shard_bytes);
  for (const auto& u : units) writer.add_unit(u.specs);
  writer.start();

  QuantizeSummary sum;
  Progress progress("quantize", units.size(), in_bytes, opts.progress);
  for (const auto& u : units) {
    check_interrupted();
    const io::TensorRef& src = *u.source;
    if (u.choice) {
      const auto& [gname, scheme] = recipe.config_groups[size_t(u.choice->group)];
      const auto* m = u.choice->module;
      auto sh = shared_amax.find(m->path);
      auto q = algorithms::rtn_quantize(src.data(), src.info->dtype, m->out_features, m->in_features, *scheme.weights,
                                        where(src), sh == shared_amax.end() ? std::nullopt : std::optional(sh->second));
      auto err = quantization_error(q);
      sum.errors.push_back({m->path, gname, err.relative_error, err.snr_db});
      for (const auto& t : exporter::quantized_tensors(m->path, scheme, q))
        writer.write(t.spec.name, t.bytes.data(), t.bytes.size());
      ++sum.quantized_modules;
    } else {
      check_finite(src);
      writer.write(u.out_name, src.data(), src.info->nbytes());
      ++sum.copied_tensors;
    }
    src.release();
    progress.advance(1, src.info->nbytes());
  }
  writer.finish();
  progress.finish();

  json cfg = in.config();
  cfg["quantization_config"] = exporter::quantization_config(recipe, plan);
  if (untie) cfg["tie_word_embeddings"] = false;
  io::write_text_file(out.tmp() / "recipe.yaml", quant::recipe_to_yaml(recipe));
  io::write_text_file(out.tmp() / "quantization_report.json", error_report(sum.errors, recipe).dump(2) + "\n");
  finish_checkpoint(in, out.tmp(), cfg, in_bytes, writer.total_bytes(), writer.num_shards(),
                    progress.elapsed_seconds(), sum);
  check_interrupted();
  out.commit();
  return sum;
}

void finish_checkpoint(const io::ModelDir& in, const fs::path& tmp_dir, const json& config, uint64_t input_bytes,
                       uint64_t output_bytes, int shards, double seconds, QuantizeSummary& sum) {
  io::write_text_file(tmp_dir / "config.json", config.dump(2) + "\n");
  in.copy_auxiliary_files(tmp_dir);
  sum.input_bytes = input_bytes;
  sum.output_bytes = output_bytes;
  sum.shards = shards;
  sum.seconds = seconds;
}

}  // namespace lowbit::pipeline
