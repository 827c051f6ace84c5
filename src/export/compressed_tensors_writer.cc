#include "export/compressed_tensors_writer.h"

#include <cmath>
#include <map>
#include <system_error>

#include "core/error.h"
#include "core/progress.h"
#include "export/compressed_tensors.h"
#include "export/sharded_writer.h"
#include "io/atomic_dir.h"
#include "io/file_util.h"

namespace lowbit::exporter {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// recipe.yaml with how it was run as a comment block above it (llm-compressor reads the
// modifiers; the comments tell a person the method and the exact calibration data).
std::string recipe_file(const CheckpointMetadata& meta) {
  std::string head = "# written by lowbit " LOWBIT_VERSION "; method: " + meta.method + "\n";
  if (meta.calibration.is_object())
    for (auto it = meta.calibration.begin(); it != meta.calibration.end(); ++it)
      head += "# calibration " + it.key() + ": " +
              (it.value().is_string() ? it.value().get<std::string>() : it.value().dump()) + "\n";
  return head + quant::recipe_to_yaml(*meta.recipe);
}

class CompressedTensorsWriter : public CheckpointWriter {
 public:
  CompressedTensorsWriter(const WriterOptions& o, const std::vector<PlannedTensor>& plan) {
    std::vector<std::vector<io::TensorSpec>> units;
    uint64_t bytes = 0;
    for (const auto& t : plan) {
      if (t.scheme) {
        units.push_back(quantized_specs(t.name, *t.scheme, t.shape[0], t.shape[1], t.dtype));
        schemes_[t.name] = t.scheme;
      } else {
        units.push_back({{t.name, t.dtype, t.shape}});
      }
      for (const auto& s : units.back()) bytes += s.nbytes();
    }
    const fs::path parent = fs::absolute(o.output).parent_path();
    const uint64_t need = bytes + (64u << 20), avail = io::free_bytes(parent);
    if (need > avail)
      throw UserError(parent.string() + ": not enough disk space: output needs " + Progress::human_bytes(double(need)) +
                      ", " + Progress::human_bytes(double(avail)) + " free");
    dir_ = std::make_unique<io::AtomicDir>(o.output, o.overwrite);
    shards_ = std::make_unique<ShardedWriter>(dir_->tmp(), o.max_shard_bytes);
    for (auto& u : units) shards_->add_unit(std::move(u));
    shards_->start();
  }

  void write_dense(const std::string& name, const void* data, size_t nbytes) override {
    shards_->write(name, data, nbytes);
  }

  void write_quantized(const std::string& module, const QuantizedWeight& q) override {
    auto it = schemes_.find(module);
    if (it == schemes_.end()) throw std::logic_error("writer: module " + module + " was not planned as quantized");
    for (const auto& t : quantized_tensors(module, *it->second, q)) shards_->write(t.spec.name, t.bytes.data(), t.bytes.size());
  }

  WriteResult commit(const CheckpointMetadata& meta) override {
    shards_->finish();
    json cfg = meta.config;
    if (meta.recipe) cfg["quantization_config"] = quantization_config(*meta.recipe, *meta.plan);
    else cfg.erase("quantization_config");
    if (meta.untied_head) cfg["tie_word_embeddings"] = false;
    const fs::path tmp = dir_->tmp();
    io::write_text_file(tmp / "config.json", cfg.dump(2) + "\n");
    if (meta.recipe) {
      io::write_text_file(tmp / "recipe.yaml", recipe_file(meta));
      io::write_text_file(tmp / "quantization_report.json", quantization_report(meta).dump(2) + "\n");
    }
    for (const auto& f : meta.auxiliary_files) {
      std::error_code ec;
      fs::copy_file(f, tmp / f.filename(), ec);
      if (ec) throw UserError(f.string() + ": cannot copy to output: " + ec.message());
    }
    dir_->commit();
    return {shards_->total_bytes(), shards_->num_shards()};
  }

 private:
  std::unique_ptr<io::AtomicDir> dir_;
  std::unique_ptr<ShardedWriter> shards_;
  std::map<std::string, const quant::QuantScheme*> schemes_;
};

}  // namespace

std::unique_ptr<CheckpointWriter> compressed_tensors_writer(const WriterOptions& options,
                                                            const std::vector<PlannedTensor>& plan) {
  return std::make_unique<CompressedTensorsWriter>(options, plan);
}

json quantization_report(const CheckpointMetadata& meta) {
  const auto& errors = meta.errors;
  json mods = json::array();
  double worst = 0, sum = 0;
  for (const auto& e : errors) {
    json m = {{"module", e.module}, {"group", e.group}, {"relative_error", e.relative_error},
              {"snr_db", std::isfinite(e.snr_db) ? json(e.snr_db) : json(nullptr)}};
    if (!e.note.empty()) m["note"] = e.note;
    mods.push_back(m);
    worst = std::max(worst, e.relative_error);
    sum += e.relative_error;
  }
  json groups = json::object();
  for (const auto& [name, s] : meta.recipe->config_groups) groups[name] = quant::to_json(s);
  json out = {{"method", meta.method},
              {"calibration", meta.calibration},
              {"config_groups", groups},
              {"modules", mods},
              {"mean_relative_error", errors.empty() ? 0.0 : sum / double(errors.size())},
              {"max_relative_error", worst}};
  if (meta.method_report) {
    const json extra = meta.method_report();  // kept alive: items() only refers to it
    for (const auto& [k, v] : extra.items()) out[k] = v;
  }
  return out;
}


}  // namespace lowbit::exporter
