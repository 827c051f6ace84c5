#include "pipeline/resume_state.h"

#include <omp.h>
#include <sys/stat.h>

#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "io/file_util.h"
#include "io/safetensors.h"

namespace lowbit::pipeline {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kStateVersion = 1;

// Writes `path` whole or not at all: a temporary sibling, fsynced, renamed over it.
class AtomicFile {
 public:
  explicit AtomicFile(fs::path path) : path_(std::move(path)), tmp_(path_.string() + ".tmp") {}
  const fs::path& tmp() const { return tmp_; }
  void commit() {
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec) throw UserError(path_.string() + ": cannot move the resume state into place: " + ec.message());
    done_ = true;
  }
  ~AtomicFile() {
    if (!done_) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }

 private:
  fs::path path_, tmp_;
  bool done_ = false;
};

void write_json_atomic(const fs::path& path, const json& j) {
  AtomicFile f(path);
  io::write_text_file(f.tmp(), j.dump(1) + "\n");
  f.commit();
}

json read_json(const fs::path& path) {
  try {
    return json::parse(io::read_text_file(path));
  } catch (const json::exception& e) {
    throw UserError(path.string() + ": damaged resume state (" + e.what() + "); delete " +
                    path.parent_path().string() + " to start over");
  }
}

// One tensor to write: a spec and where its bytes are.
struct Blob {
  io::TensorSpec spec;
  const void* data;
};

void write_safetensors_atomic(const fs::path& path, const std::vector<Blob>& blobs,
                              const std::map<std::string, std::string>& metadata) {
  AtomicFile f(path);
  std::vector<io::TensorSpec> specs;
  for (const auto& b : blobs) specs.push_back(b.spec);
  io::SafetensorsWriter w(f.tmp(), specs, metadata);
  for (const auto& b : blobs) w.write_tensor(b.spec.name, b.data, b.spec.nbytes());
  w.close();
  f.commit();
}

std::string metadata_at(const io::SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata().find(key);
  if (it == f.metadata().end())
    throw UserError(f.path().string() + ": damaged resume state (no " + key + "); delete its folder to start over");
  return it->second;
}

// Copies tensor `name` of `f` into a vector of T (empty when absent and optional).
template <typename T>
std::vector<T> tensor_copy(const io::SafetensorsFile& f, const std::string& name, bool optional = false) {
  const io::TensorInfo* t = f.find(name);
  if (!t) {
    if (optional) return {};
    throw UserError(f.path().string() + ": damaged resume state (no tensor " + name + "); delete its folder to start over");
  }
  if (t->nbytes() % sizeof(T) != 0) throw UserError(f.path().string() + ": damaged resume state (tensor " + name + ")");
  std::vector<T> out(t->nbytes() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), f.data(*t), t->nbytes());
  return out;
}

json layout_json(const QuantizedModule& m) {
  const QuantizedWeight& q = m.weight;
  return {{"rows", q.rows},
          {"cols", q.cols},
          {"element", traits(q.element).name},
          {"block_rows", q.block_rows},
          {"block_cols", q.block_cols},
          {"scale_rows", q.scale_rows},
          {"scale_cols", q.scale_cols},
          {"scale_dtype", dtype_name(q.scale_dtype)},
          {"has_zero_points", q.has_zero_points},
          {"has_global_scale", q.has_global_scale},
          {"dense_dtype", dtype_name(q.dense_dtype)},
          {"global_scale", double(q.global_scale)},
          {"error_sq", q.error_sq},
          {"norm_sq", q.norm_sq},
          {"note", m.note}};
}

DType dtype_of(const json& j, const std::string& label) {
  const auto d = dtype_from_name(j.get<std::string>());
  if (!d) throw UserError(label + ": damaged resume state (dtype " + j.dump() + ")");
  return *d;
}

QuantizedModule module_from(const io::SafetensorsFile& f, const std::string& path, const json& j) {
  const std::string label = f.path().string();
  QuantLayout l;
  l.rows = j.at("rows").get<int64_t>();
  l.cols = j.at("cols").get<int64_t>();
  const FormatTraits* e = find_format(j.at("element").get<std::string>());
  if (!e) throw UserError(label + ": damaged resume state (element format of " + path + ")");
  l.element = e->id;
  l.block_rows = j.at("block_rows").get<int64_t>();
  l.block_cols = j.at("block_cols").get<int64_t>();
  l.scale_rows = j.at("scale_rows").get<int64_t>();
  l.scale_cols = j.at("scale_cols").get<int64_t>();
  l.scale_dtype = dtype_of(j.at("scale_dtype"), label);
  l.has_zero_points = j.at("has_zero_points").get<bool>();
  l.has_global_scale = j.at("has_global_scale").get<bool>();
  l.dense_dtype = dtype_of(j.at("dense_dtype"), label);
  QuantizedModule m{QuantizedWeight(l), j.at("note").get<std::string>()};
  m.weight.codes = tensor_copy<int8_t>(f, path + ".codes");
  m.weight.scales = tensor_copy<uint8_t>(f, path + ".scales");
  m.weight.zero_points = tensor_copy<int8_t>(f, path + ".zero_points", true);
  m.weight.global_scale = float(j.at("global_scale").get<double>());
  m.weight.error_sq = j.at("error_sq").get<double>();
  m.weight.norm_sq = j.at("norm_sq").get<double>();
  if (m.weight.codes.size() != size_t(l.rows * l.cols) ||
      m.weight.scales.size() != size_t(l.slots()) * dtype_size(l.scale_dtype) ||
      m.weight.zero_points.size() != (l.has_zero_points ? size_t(l.slots()) : 0))
    throw UserError(label + ": damaged resume state (sizes of " + path + ")");
  return m;
}

json awq_json(const AwqMappingResult& r) {
  return {{"smooth", r.smooth},           {"ratio", r.best.ratio},         {"duo", r.best.duo},
          {"initial_error", r.initial_error}, {"best_error", r.best_error}, {"losses", r.losses},
          {"note", r.note}, {"scored_tokens", r.scored_tokens}};
}

AwqMappingResult awq_from(const json& j) {
  AwqMappingResult r;
  r.smooth = j.at("smooth").get<std::string>();
  r.best = {j.at("ratio").get<double>(), j.at("duo").get<bool>()};
  r.initial_error = j.at("initial_error").get<double>();
  r.best_error = j.at("best_error").get<double>();
  r.losses = j.at("losses").get<std::vector<double>>();
  r.note = j.at("note").get<std::string>();
  r.scored_tokens = j.value("scored_tokens", int64_t(0));
  return r;
}

fs::path layer_file(const fs::path& dir, int i) { return dir / ("layer-" + std::to_string(i) + ".safetensors"); }
fs::path hidden_file(const fs::path& dir, int i) { return dir / ("hidden-" + std::to_string(i) + ".safetensors"); }

// The first key at which two job descriptions differ, as a path ("recipe", "model.shards").
std::string first_difference(const json& a, const json& b, const std::string& at = "") {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string key = at.empty() ? it.key() : at + "." + it.key();
      if (!b.contains(it.key())) return key;
      if (it.value() != b[it.key()]) return first_difference(it.value(), b[it.key()], key);
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) return at.empty() ? it.key() : at + "." + it.key();
  }
  return at.empty() ? "(the whole job)" : at;
}

}  // namespace

json resume_job(const io::ModelDir& in, const quant::Recipe& recipe, const std::string& method,
                const json& calib_source) {
  json shards = json::array();
  for (const auto& s : in.shards()) {
    struct stat st {};
    ::stat(s->path().c_str(), &st);
    shards.push_back({{"file", s->path().filename().string()},
                      {"bytes", s->file_size()},
                      {"mtime_ns", int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec}});
  }
  // The tokenizer and chat template decide the calibration tokens.
  json files = json::object();
  for (const auto& p : in.auxiliary_files()) files[p.filename().string()] = io::file_sha256(p);
  return {{"state_version", kStateVersion},
          {"lowbit", LOWBIT_VERSION},
          {"model", {{"config", in.config()}, {"shards", shards}, {"files", files}}},
          {"recipe", quant::recipe_to_yaml(recipe)},
          {"awq", recipe.awq},
          {"method", method},
          {"calibration", calib_source},
          {"threads", omp_get_max_threads()}};
}

fs::path resume_dir_for(const fs::path& output) {
  fs::path p = fs::absolute(output).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.parent_path() / (p.filename().string() + ".lowbit-resume");
}

ResumeState::ResumeState(fs::path dir, json job, bool resume) : dir_(std::move(dir)) {
  const fs::path job_file = dir_ / "job.json", done_file = dir_ / "done.json";
  if (fs::exists(job_file)) {
    const json old = read_json(job_file);
    const int done = fs::exists(done_file) ? read_json(done_file).value("layers", 0) : 0;
    if (!resume)
      throw UserError(dir_.string() + " holds an unfinished run (" + std::to_string(done) +
                      " layer(s) done): add --resume to continue it, or delete that folder to start over");
    json old_job = old, new_job = job;
    old_job.erase("threads"), new_job.erase("threads");
    if (old_job != new_job)
      throw UserError(dir_.string() + ": the unfinished run there is another job (" + first_difference(old, job) +
                      " differs); run it with the same model, recipe and calibration, or delete that folder");
    if (old.value("threads", 0) != job.value("threads", 0))
      log::warn("--resume with " + std::to_string(job.value("threads", 0)) + " threads where the run began with " +
                std::to_string(old.value("threads", 0)) +
                ": BLAS sums in another order, so the bytes may differ slightly from one uninterrupted run");
    layers_done_ = done;
    return;
  }
  if (resume) log::info("--resume: nothing to resume in " + dir_.string() + "; starting from layer 0");
  std::error_code ec;
  fs::remove_all(dir_, ec);  // a folder without job.json never got past its first write
  if (!fs::create_directory(dir_, ec) || ec)
    throw UserError(dir_.string() + ": cannot create the resume state folder: " + ec.message());
  write_json_atomic(done_file, {{"layers", 0}});
  write_json_atomic(job_file, job);  // last: from now on the folder is a run's state
}

bool ResumeState::has_calibration() const { return fs::exists(dir_ / "calibration.safetensors"); }

void ResumeState::save_calibration(const CalibrationSet& set, const json& record) {
  std::vector<Blob> blobs;
  for (size_t i = 0; i < set.samples.size(); ++i)
    blobs.push_back({{"sample." + std::to_string(i), DType::I32, {int64_t(set.samples[i].size())}},
                     set.samples[i].data()});
  const json info = {{"record", record},
                     {"samples", set.samples.size()},
                     {"tokens", set.tokens},
                     {"candidates", set.candidates},
                     {"sha256", set.sha256},
                     {"description", set.description}};
  write_safetensors_atomic(dir_ / "calibration.safetensors", blobs, {{"calibration", info.dump()}});
}

CalibrationSet ResumeState::load_calibration(json& record) const {
  const io::SafetensorsFile f(dir_ / "calibration.safetensors");
  const json info = json::parse(metadata_at(f, "calibration"));
  CalibrationSet set;
  record = info.at("record");
  set.tokens = info.at("tokens").get<int64_t>();
  set.candidates = info.at("candidates").get<int64_t>();
  set.sha256 = info.at("sha256").get<std::string>();
  set.description = info.at("description").get<std::string>();
  const size_t n = info.at("samples").get<size_t>();
  for (size_t i = 0; i < n; ++i) set.samples.push_back(tensor_copy<int32_t>(f, "sample." + std::to_string(i)));
  return set;
}

void ResumeState::save_layer(int layer, const LayerResult& r, const std::vector<std::vector<uint16_t>>& hidden,
                             int64_t hidden_size) {
  if (layer != layers_done_) throw std::logic_error("resume state: layer " + std::to_string(layer) + " saved out of order");
  std::vector<Blob> blobs;
  json modules = json::object();
  for (const auto& [path, m] : r.modules) {
    const QuantizedWeight& q = m.weight;
    modules[path] = layout_json(m);
    blobs.push_back({{path + ".codes", DType::I8, {int64_t(q.codes.size())}}, q.codes.data()});
    blobs.push_back({{path + ".scales", DType::U8, {int64_t(q.scales.size())}}, q.scales.data()});
    if (!q.zero_points.empty())
      blobs.push_back({{path + ".zero_points", DType::I8, {int64_t(q.zero_points.size())}}, q.zero_points.data()});
  }
  for (const auto& [name, bytes] : r.dense)
    blobs.push_back({{"dense." + name, DType::U8, {int64_t(bytes.size())}}, bytes.data()});
  json awq = json::array();
  for (const auto& a : r.awq) awq.push_back(awq_json(a));
  write_safetensors_atomic(layer_file(dir_, layer), blobs, {{"modules", modules.dump()}, {"awq", awq.dump()}});

  std::vector<Blob> h;
  for (size_t i = 0; i < hidden.size(); ++i)
    h.push_back({{"hidden." + std::to_string(i), DType::BF16, {int64_t(hidden[i].size()) / hidden_size, hidden_size}},
                 hidden[i].data()});
  write_safetensors_atomic(hidden_file(dir_, layer), h, {{"samples", std::to_string(hidden.size())}});
  write_json_atomic(dir_ / "done.json", {{"layers", layer + 1}});  // the commit point
  layers_done_ = layer + 1;
  std::error_code ec;
  if (layer > 0) fs::remove(hidden_file(dir_, layer - 1), ec);
}

LayerResult ResumeState::load_layer(int layer) const {
  const io::SafetensorsFile f(layer_file(dir_, layer));
  LayerResult r;
  try {
    const json modules = json::parse(metadata_at(f, "modules"));
    for (auto it = modules.begin(); it != modules.end(); ++it)
      r.modules[it.key()] = module_from(f, it.key(), it.value());
    for (const auto& a : json::parse(metadata_at(f, "awq"))) r.awq.push_back(awq_from(a));
  } catch (const json::exception& e) {
    throw UserError(f.path().string() + ": damaged resume state (" + e.what() + "); delete " + dir_.string() +
                    " to start over");
  }
  for (const auto& t : f.tensors())
    if (t.name.starts_with("dense.")) r.dense[t.name.substr(6)] = tensor_copy<uint8_t>(f, t.name);
  return r;
}

std::vector<std::vector<uint16_t>> ResumeState::load_hidden(int layer, int64_t hidden_size) const {
  const io::SafetensorsFile f(hidden_file(dir_, layer));
  const size_t n = std::stoul(metadata_at(f, "samples"));
  std::vector<std::vector<uint16_t>> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(tensor_copy<uint16_t>(f, "hidden." + std::to_string(i)));
    if (out.back().size() % size_t(hidden_size) != 0)
      throw UserError(f.path().string() + ": damaged resume state (hidden state " + std::to_string(i) + ")");
  }
  return out;
}

void ResumeState::remove() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) log::warn(dir_.string() + ": could not remove the finished run's resume state: " + ec.message());
}

}  // namespace lowbit::pipeline
