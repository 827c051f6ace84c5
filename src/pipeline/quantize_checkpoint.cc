#include "pipeline/quantize_checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "pipeline/weight_quantizer.h"
#include "core/error.h"
#include "core/log.h"
#include "numerics/scan.h"
#include "pipeline/stream.h"

namespace lowbit::pipeline {

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

// NVFP4: vLLM serves q/k/v and gate/up as one fused layer with one global scale, so
// members of a fused group share the global scale of their combined absolute max.
std::map<std::string, float> fused_global_amax(const io::ModelDir& in, const model::Architecture& arch,
                                               const quant::Plan& plan, const quant::Recipe& recipe) {
  std::map<std::string, float> out;
  for (const auto& group : model::fused_linears(arch)) {
    float amax = 0;
    std::vector<std::string> members;
    for (const model::Module* m : group) {
      const quant::ModuleChoice* c = plan.find(m->path);
      if (!c || c->group < 0) continue;
      if (recipe.config_groups[size_t(c->group)].second.weights->strategy != quant::Strategy::TensorGroup) continue;
      const io::TensorRef& t = in.at(m->path + ".weight");
      amax = std::max(amax, tensor_amax(t.data(), t.info->dtype, t.info->numel(), where(t)));
      t.release();
      members.push_back(m->path);
    }
    for (const auto& m : members) out[m] = amax;
  }
  return out;
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

void check_runnable(const quant::Recipe& recipe, bool calibrated, const std::string& label) {
  if (recipe.modifier == "GPTQModifier" && !calibrated)
    throw UserError(label + ": GPTQModifier needs calibration data: add --calib FILE (text or JSONL)");
  if (!recipe.awq.is_null() && !calibrated)
    throw UserError(label + ": AWQModifier needs calibration data: add --calib FILE (text or JSONL)");
}

QuantizeSummary quantize_checkpoint(const io::ModelDir& in, const model::Architecture& arch,
                                    const quant::Recipe& recipe, const quant::Plan& plan,
                                    const QuantizeOptions& opts) {
  validate_checkpoint(in, arch);
  RtnQuantizer rtn;
  WeightQuantizer& quantizer = opts.quantizer ? *opts.quantizer : rtn;
  QuantizeSummary sum;
  std::map<std::string, float> shared_amax;  // filled before the first step runs

  // Plan every output tensor before writing any, in the architecture's order.
  std::map<std::string, const quant::ModuleChoice*> quantized;  // "<module>.weight" -> choice
  for (const auto& c : plan.linears)
    if (c.group >= 0) quantized[c.module->path + ".weight"] = &c;
  std::vector<StreamStep> steps;
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
      const std::string& gname = recipe.config_groups[size_t(q->second->group)].first;
      const quant::QuantScheme& scheme = recipe.config_groups[size_t(q->second->group)].second;
      const model::Module* m = q->second->module;
      StreamStep s{{m->path, src->info->dtype, {m->out_features, m->in_features}, &scheme}, src->info->nbytes(), {}};
      s.produce = [&sum, &shared_amax, &scheme, &gname, &quantizer, src, m](exporter::CheckpointWriter& w) {
        const QuantizedModule qm = quantizer.quantize(*m, *scheme.weights, *src, shared_amax);
        const ErrorStats err = quantization_error(qm.weight);
        sum.errors.push_back({m->path, gname, err.relative_error, err.snr_db, qm.note});
        w.write_quantized(m->path, qm.weight);
        src->release();
        ++sum.quantized_modules;
      };
      steps.push_back(std::move(s));
    } else {
      StreamStep s{{name, src->info->dtype, src->info->shape, nullptr}, src->info->nbytes(), {}};
      s.produce = [&sum, &quantizer, &shared_amax, src, name](exporter::CheckpointWriter& w) {
        check_finite(*src);
        if (const auto changed = quantizer.dense_tensor(name, shared_amax))
          w.write_dense(name, changed->data(), changed->size());
        else
          w.write_dense(name, src->data(), src->info->nbytes());
        src->release();
        ++sum.copied_tensors;
      };
      steps.push_back(std::move(s));
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

  shared_amax = fused_global_amax(in, arch, plan, recipe);
  exporter::CheckpointMetadata meta;
  meta.config = in.config();
  meta.recipe = &recipe;
  meta.plan = &plan;
  meta.untied_head = untie;
  meta.method = quantizer.method();
  meta.calibration = opts.calibration;
  meta.auxiliary_files = in.auxiliary_files();
  meta.method_report = [&quantizer] { return quantizer.report(); };
  write_checkpoint(steps, meta, opts, "quantize", sum);
  return sum;
}

std::string error_table(const QuantizeSummary& sum, const std::filesystem::path& output, bool report_file) {
  if (sum.errors.empty()) return "";
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-48s %-8s %12s %9s\n", "module", "group", "rel. error", "SNR dB");
  out += buf;
  const exporter::ModuleError* worst = &sum.errors[0];
  for (const auto& e : sum.errors) {
    std::snprintf(buf, sizeof buf, "%-48s %-8s %12.5f %9.2f\n", e.module.c_str(), e.group.c_str(), e.relative_error,
                  e.snr_db);
    out += buf;
    if (e.relative_error > worst->relative_error) worst = &e;
  }
  std::snprintf(buf, sizeof buf, "worst: %s (relative error %.5f)", worst->module.c_str(), worst->relative_error);
  out += buf;
  if (report_file) out += "; per-module report: " + output.string() + "/quantization_report.json";
  return out + "\n";
}

std::string summary_line(const QuantizeSummary& s, const std::filesystem::path& output, const char* verb) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, "wrote %s: %d modules %s, %d tensors copied, %d shard(s), %s -> %s in %.1f s (%s/s)\n",
                output.string().c_str(), s.quantized_modules, verb, s.copied_tensors, s.shards,
                Progress::human_bytes(double(s.input_bytes)).c_str(), Progress::human_bytes(double(s.output_bytes)).c_str(),
                s.seconds, Progress::human_bytes(s.seconds > 0 ? double(s.input_bytes) / s.seconds : 0).c_str());
  return buf;
}

}  // namespace lowbit::pipeline
