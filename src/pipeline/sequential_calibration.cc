#include "pipeline/sequential_calibration.h"

#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "algorithms/gptq_ggml.h"
#include "algorithms/rtn.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "engine/decoder_layer.h"
#include "engine/gemm_bf16.h"
#include "engine/ggml_linear.h"
#include "engine/quantized_linear.h"
#include "numerics/half.h"
#include "numerics/scan.h"

namespace lowbit::pipeline {

namespace {

std::vector<float> to_f32(const std::vector<uint16_t>& h) {
  std::vector<float> x(h.size());
  for (size_t i = 0; i < h.size(); ++i) x[i] = bf16_to_f32(h[i]);
  return x;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Useful FLOPs of one decoder layer's forward over a T-token sample: every Linear's
// multiply-adds plus causal attention (Q K^T and the weighted sum of V over T (T + 1) / 2 pairs).
// Without `down_proj` for DecoderLayer::observe, which does not multiply it.
double layer_forward_flops(const model::Architecture& arch, int layer, int64_t T, bool with_down = true) {
  double linear = 0;
  for (const auto& m : arch.modules)
    if (m.layer == layer && m.is_linear() && (with_down || !m.path.ends_with(".mlp.down_proj")))
      linear += 2.0 * double(m.in_features) * double(m.out_features);
  return linear * double(T) + 2.0 * double(arch.heads) * double(arch.head_dim) * double(T) * double(T + 1);
}

std::vector<uint16_t> to_bf16(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = f32_to_bf16(x[i]);
  return h;
}

// Accumulates X^T X (upper triangle, float32, as llm-compressor accumulates in float32) of the
// input of one Linear per distinct input: fused members (q/k/v, gate/up) read the same
// normalised hidden state, so the first member's Hessian serves them all.
class HessianCollector : public engine::LinearObserver {
 public:
  // diagonal: only sum x^2 per input channel (what imatrix_mse weighs by), not the whole X^T X.
  // bf16: X^T X of the inputs rounded to BF16 (what BF16 products consume), by syrk_bf16_upper.
  explicit HessianCollector(bool diagonal = false, bool bf16 = false) : diagonal_(diagonal), bf16_(bf16) {}
  void want(const model::Module& m, const std::string& leader) {
    if (leader_.emplace(m.path, leader).second) ++uses_[leader];
    if (m.path == leader)
      h_.emplace(leader, std::vector<float>(size_t(diagonal_ ? m.in_features : m.in_features * m.in_features), 0.0f));
  }
  void on_input(const model::Module& m, const float* x, int64_t tokens) override {
    auto it = h_.find(m.path);
    if (it == h_.end()) return;
    const int k = int(m.in_features);
    const auto t0 = std::chrono::steady_clock::now();
    struct Clock {  // counts this call's time and FLOPs on every return path
      HessianCollector& c;
      std::chrono::steady_clock::time_point t0;
      double flops;
      ~Clock() { c.seconds += seconds_since(t0), c.flops += flops; }
    } clock{*this, t0, (diagonal_ ? 2.0 : double(k + 1)) * double(k) * double(tokens)};
    if (diagonal_) {
      float* d = it->second.data();
      for (int64_t t = 0; t < tokens; ++t)
        for (int c = 0; c < k; ++c) d[c] += 2.0f * x[t * k + c] * x[t * k + c];
      return;
    }
    if (bf16_)
      engine::syrk_bf16_upper(x, tokens, k, 2.0f, it->second.data());
    else
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, int(tokens), 2.0f, x, k, 1.0f, it->second.data(), k);
  }
  // H = (2 / samples) sum x x^T, symmetric, for module `path`. The last module to ask for its
  // leader's Hessian takes it (a 7B down_proj's is 0.8 GB; a 70B's 3.3 GB).
  std::vector<float> take_hessian(const std::string& path, int64_t k, int64_t samples) {
    const std::string& leader = leader_.at(path);
    std::vector<float> h;
    if (--uses_.at(leader) == 0) {
      h = std::move(h_.at(leader));
      h_.erase(leader);
    } else {
      h = h_.at(leader);
    }
    const float inv = 1.0f / float(samples);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j) h[size_t(j * k + i)] = h[size_t(i * k + j)] *= inv;
    return h;
  }
  // The input of `leader` (and its fused members) became x / s (AWQ folded s into what
  // feeds it): H_ij /= s_i s_j.
  void scale_inputs(const std::string& leader, const std::vector<double>& s) {
    auto it = h_.find(leader);
    if (it == h_.end()) return;
    float* h = it->second.data();
    const size_t k = s.size();
    if (diagonal_) {
      for (size_t i = 0; i < k; ++i) h[i] = float(double(h[i]) / (s[i] * s[i]));
      return;
    }
    for (size_t i = 0; i < k; ++i)
      for (size_t j = i; j < k; ++j) h[i * k + j] = float(double(h[i * k + j]) / (s[i] * s[j]));
  }
  // diag(H) = (2 / samples) sum x^2 per input channel, for module `path`.
  std::vector<float> diagonal(const std::string& path, int64_t k, int64_t samples) const {
    const std::vector<float>& h = h_.at(leader_.at(path));
    std::vector<float> d(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) d[size_t(i)] = (diagonal_ ? h[size_t(i)] : h[size_t(i * k + i)]) / float(samples);
    return d;
  }

  double seconds = 0, flops = 0;  // spent accumulating, for the stage report

 private:
  bool diagonal_, bf16_;
  std::map<std::string, std::string> leader_;
  std::map<std::string, int> uses_;  // modules that will ask for a leader's Hessian
  std::map<std::string, std::vector<float>> h_;
};

// Several observers on one pass.
class Observers : public engine::LinearObserver {
 public:
  explicit Observers(std::vector<engine::LinearObserver*> all) : all_(std::move(all)) {}
  void on_input(const model::Module& m, const float* x, int64_t tokens) override {
    for (auto* o : all_) o->on_input(m, x, tokens);
  }
  void on_output(const model::Module& m, const float* y, int64_t tokens) override {
    for (auto* o : all_) o->on_output(m, y, tokens);
  }

 private:
  std::vector<engine::LinearObserver*> all_;
};

// The source's weights with this layer's quantized Linears swapped in.
class QuantizedOverlay : public engine::WeightSource {
 public:
  QuantizedOverlay(const engine::WeightSource& base, const std::map<std::string, QuantizedModule>& q) : base_(base), q_(q) {}
  engine::TensorView dense_weight(const model::Module& m) const override { return base_.dense_weight(m); }
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override {
    auto it = q_.find(m.path);
    if (it == q_.end()) return base_.linear(m);
    auto base = base_.linear(m);  // for the bias
    std::unique_ptr<engine::Linear> out;
    if (!it->second.ggml_blocks.empty())
      out = std::make_unique<engine::GgmlLinear>(it->second.ggml_blocks.data(), it->second.ggml_type, m.in_features,
                                                 m.out_features);
    else
      out = std::make_unique<engine::QuantizedLinear>(it->second.weight);
    out->copy_bias_from(*base);
    return out;
  }

 private:
  const engine::WeightSource& base_;
  const std::map<std::string, QuantizedModule>& q_;
};

}  // namespace

algorithms::GptqOptions prepare_gptq_recipe(quant::Recipe& recipe, const std::string& where) {
  recipe.modifier = "GPTQModifier";
  algorithms::GptqOptions o;
  const nlohmann::json& a = recipe.modifier_args;
  if (a.contains("block_size") && !a["block_size"].is_null()) {
    if (!a["block_size"].is_number_integer() || a["block_size"].get<int64_t>() < 1 || a["block_size"].get<int64_t>() > 65536)
      throw UserError(where + ": GPTQ block_size must be an integer in 1..65536");
    o.block_size = a["block_size"].get<int>();
  }
  if (a.contains("dampening_frac") && !a["dampening_frac"].is_null()) {
    if (!a["dampening_frac"].is_number() || !(a["dampening_frac"].get<double>() >= 0) || a["dampening_frac"].get<double>() > 1)
      throw UserError(where + ": GPTQ dampening_frac must be a number in [0, 1]");
    o.dampening_frac = a["dampening_frac"].get<double>();
  }
  if (a.contains("offload_hessians") && a["offload_hessians"] == true)
    log::info(where + ": offload_hessians has no effect (lowbit keeps one layer's Hessians in memory)");
  std::optional<algorithms::GptqOptions::ActOrder> order;
  for (auto& [name, scheme] : recipe.config_groups) {
    if (!scheme.weights) continue;
    if (!scheme.weights->actorder && !a.contains("actorder")) scheme.weights->actorder = "static";
    const auto ao = algorithms::gptq_actorder(*scheme.weights, where + ": config_groups." + name);
    if (order && *order != ao) throw UserError(where + ": config groups with different actorder are not supported");
    order = ao;
  }
  if (order) o.actorder = *order;
  return o;
}

SequentialCalibration::SequentialCalibration(const io::ModelDir& in, const model::Architecture& arch, const quant::Recipe& recipe,
                               const quant::Plan& plan, CalibrationSet samples, algorithms::GptqOptions options,
                               ProgressMode progress, Method method, std::optional<AwqConfig> awq, ResumeState* state)
    : in_(in), arch_(arch), recipe_(recipe), plan_(plan), set_(std::move(samples)), options_(options), method_(method),
      awq_(std::move(awq)), source_(in, arch), state_(state) {
  net_ = std::make_unique<engine::Transformer>(arch_, source_, engine::Residency::OneLayer);
  const int resumed = state_ ? int(std::min<int64_t>(state_->layers_done(), arch_.num_layers)) : 0;
  if (resumed == 0)
    for (const auto& s : set_.samples) hidden_.push_back(to_bf16(net_->embed(s)));
  else
    log::info("resuming: layers 0-" + std::to_string(resumed - 1) + " of " + std::to_string(arch_.num_layers) +
              " were finished (" + state_->dir().string() + ")");
  uint64_t passes = method_ == Method::Gptq || awq_ ? 2 : 1;
  // AWQ's search runs each sample once more per mapping (every candidate scored on it).
  if (awq_) passes += resolve_awq_mappings(arch_, 0, *awq_, plan_, nullptr).size();
  const uint64_t left = uint64_t(arch_.num_layers - resumed);  // layers read back cost nothing to count
  progress_ = std::make_unique<Progress>(awq_ ? "awq" : method_ == Method::Gptq ? "gptq" : "calibrate", left,
                                         left * passes * uint64_t(set_.samples.size()), progress,
                                         "layers", "sample passes");
}

SequentialCalibration::~SequentialCalibration() = default;

const quant::QuantArgs* SequentialCalibration::args_of(const model::Module& m) const {
  const quant::ModuleChoice* c = plan_.find(m.path);
  if (!c || c->group < 0) return nullptr;
  return &*recipe_.config_groups[size_t(c->group)].second.weights;
}

void SequentialCalibration::set_ggml_targets(std::map<std::string, GgmlType> targets, algorithms::GgmlScales scales) {
  if (!targets.empty() && (awq_ || state_ || method_ != Method::Gptq))
    throw std::logic_error("GPTQ onto ggml types runs without AWQ or a resume state");
  ggml_targets_ = std::move(targets);
  ggml_scales_ = scales;
}

QuantizedModule SequentialCalibration::gptq_module(const model::Module& m, const void* data, DType dtype,
                                                   const std::vector<float>& h, const std::string& where,
                                                   std::optional<float> shared_amax) const {
  QuantizedModule out;
  if (auto g = ggml_targets_.find(m.path); g != ggml_targets_.end()) {
    // ggml's search weighs by the imatrix, E[x^2] = diag(H) / 2.
    const int64_t k = m.in_features;
    std::vector<float> importance(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) importance[size_t(i)] = h[size_t(i * k + i)] / 2;
    algorithms::GgmlGptqResult r = algorithms::gptq_quantize_ggml(data, dtype, m.out_features, k, g->second, h.data(),
                                                                  importance.data(), options_, where, ggml_scales_);
    out.ggml_blocks = std::move(r.blocks);
    out.ggml_type = g->second;
    out.weight.error_sq = r.error_sq;
    out.weight.norm_sq = r.norm_sq;
    out.note = r.note;
  } else {
    algorithms::GptqResult r = algorithms::gptq_quantize(data, dtype, m.out_features, m.in_features, *args_of(m),
                                                         h.data(), options_, where, shared_amax);
    out.weight = std::move(r.weight);
    out.note = r.note;
  }
  if (!out.note.empty()) log::warn(m.path + ": " + out.note);
  return out;
}

void SequentialCalibration::restore_layer(int i) {
  LayerResult r = state_->load_layer(i);
  done_ = std::move(r.modules);
  for (auto& [name, bytes] : r.dense) folded_dense_[name] = std::move(bytes);
  for (auto& a : r.awq) awq_results_.push_back(std::move(a));
  if (i + 1 == state_->layers_done()) {
    hidden_ = state_->load_hidden(i, arch_.hidden);
    if (hidden_.size() != set_.samples.size())
      throw UserError(state_->dir().string() + ": damaged resume state (" + std::to_string(hidden_.size()) +
                      " hidden states for " + std::to_string(set_.samples.size()) + " samples)");
  }
  if (i + 1 == arch_.num_layers) progress_->finish();
}

void SequentialCalibration::save_layer(int i, const std::vector<std::string>& dense_names, size_t awq_first) {
  LayerResult r;
  r.modules = done_;
  for (const auto& n : dense_names) r.dense[n] = folded_dense_.at(n);
  r.awq.assign(awq_results_.begin() + std::ptrdiff_t(awq_first), awq_results_.end());
  state_->save_layer(i, r, hidden_, arch_.hidden);
  // A test hook: behave as if Ctrl-C came right after layer N was saved.
  if (const char* k = std::getenv("LOWBIT_TEST_INTERRUPT_AFTER_LAYER"); k && std::atoi(k) == i) request_interrupt();
}

void SequentialCalibration::calibrate_layer(int i, const std::map<std::string, float>& shared_amax) {
  if (state_ && i < state_->layers_done()) return restore_layer(i);
  const size_t awq_first = awq_results_.size();
  // 1. The original layer, and which Linears of it get a Hessian (one per distinct input).
  std::vector<const model::Module*> targets;
  // A BF16 model's passes multiply in BF16 with float32 sums, as PyTorch runs llm-compressor's, and
  // X^T X sums the BF16 inputs' exact products (twice the float32 rate with AVX512-BF16); other
  // models in float32.
  const std::string probe = "model.layers." + std::to_string(i) + ".self_attn.q_proj.weight";
  const io::TensorRef* probe_ref = in_.find(probe);
  const bool bf16_products = probe_ref && probe_ref->info->dtype == DType::BF16;
  HessianCollector collect(method_ == Method::Rtn, bf16_products);
  std::map<std::string, std::string> leader;
  for (const auto& group : model::fused_linears(arch_))
    for (const model::Module* m : group)
      if (m->layer == i) leader[m->path] = group[0]->path;
  for (const auto& m : arch_.modules)
    if (m.layer == i && m.is_linear() && is_target(m)) {
      targets.push_back(&m);
      const std::string lead = leader.count(m.path) ? leader[m.path] : m.path;
      collect.want(arch_.module(lead), lead);
      collect.want(m, lead);
    }
  std::unique_ptr<AwqLayer> awq;
  if (awq_) {
    std::vector<std::string> notes;
    auto mappings = resolve_awq_mappings(arch_, i, *awq_, plan_, &notes);
    for (const auto& n : notes) log::info(n);
    awq = std::make_unique<AwqLayer>(arch_, std::move(mappings), awq_->options,
                                     [this](const model::Module& m) { return args_of(m); });
    awq->set_bf16_products(bf16_products);
  }
  std::vector<engine::LinearObserver*> watching{&collect};
  if (awq) watching.push_back(&awq->statistics());
  Observers observers(watching);
  engine::DecoderLayer original(arch_, i, source_);
  if (bf16_products) original.use_bf16_products();
  // 2. Calibration pass: statistics of the inputs this layer really receives. (For plain
  // round-to-nearest its outputs, the original layer's, are the next layer's inputs.)
  const bool propagate_original = method_ == Method::Rtn && !awq;
  auto t0 = std::chrono::steady_clock::now();
  double forward_flops = 0;
  for (auto& h : hidden_) {
    check_interrupted();
    std::vector<float> x = to_f32(h);
    const int64_t T = int64_t(h.size()) / arch_.hidden;
    // Unless its output is the next layer's input, the layer's last product is skipped.
    if (propagate_original)
      original.forward(x.data(), net_->rope(0, T), nullptr, &observers);
    else
      original.observe(x.data(), net_->rope(0, T), observers);
    forward_flops += layer_forward_flops(arch_, i, T, propagate_original);
    if (propagate_original) h = to_bf16(x);
    progress_->advance(0, 1);
  }
  stages_.forward.seconds += seconds_since(t0) - collect.seconds;
  stages_.forward.flops += forward_flops;
  stages_.xtx.seconds += collect.seconds;
  stages_.xtx.flops += collect.flops;
  t0 = std::chrono::steady_clock::now();
  // 3. AWQ: scales searched and folded, mapping after mapping; the Hessians follow the inputs.
  SmoothedWeights smoothed(source_, in_);
  std::map<std::string, float> amax = shared_amax;
  if (awq) {
    const auto results = awq->run(smoothed, hidden_, [this](int64_t T) { return net_->rope(0, T); },
                                  [this] { progress_->advance(0, 1); });
    for (auto r : results) {
      if (!r.scales.empty())
        for (const auto& m : awq->mappings())
          if (m.smooth->path == r.smooth) collect.scale_inputs(m.balance[0]->path, r.scales);
      r.scales.clear();  // the report keeps the choice, not the vector
      awq_results_.push_back(std::move(r));
    }
    // NVFP4 fused members share the global scale of what they now hold.
    for (const auto& group : model::fused_linears(arch_)) {
      if (group.empty() || group[0]->layer != i || !amax.count(group[0]->path)) continue;
      float a = 0;
      for (const model::Module* m : group) {
        const std::string t = m->path + ".weight";
        a = std::max(a, tensor_amax(smoothed.data(t), smoothed.dtype(t), m->in_features * m->out_features, t));
      }
      for (const model::Module* m : group) amax[m->path] = a;
    }
    stages_.awq.seconds += seconds_since(t0);
  }
  // 4. GPTQ (or the observer's round-to-nearest) on each targeted Linear, from the folded weights.
  done_.clear();
  for (const model::Module* m : targets) {
    const std::string t = m->path + ".weight";
    const io::TensorRef& w = in_.at(t);
    const void* data = smoothed.data(t);
    const std::string where = w.file->path().filename().string() + ": tensor " + w.info->name;
    if (method_ == Method::Rtn) {
      const std::vector<float> d = collect.diagonal(m->path, m->in_features, int64_t(hidden_.size()));
      done_[m->path] = {algorithms::rtn_quantize_observed(data, w.info->dtype, m->out_features, m->in_features,
                                                          *args_of(*m), where, shared_amax_of(amax, m->path), d.data()),
                        ""};
      continue;
    }
    const auto g0 = std::chrono::steady_clock::now();
    const std::vector<float> h = collect.take_hessian(m->path, m->in_features, int64_t(hidden_.size()));
    done_[m->path] = gptq_module(*m, data, w.info->dtype, h, where, shared_amax_of(amax, m->path));
    // The sweep's error feedback (rows x cols^2) and the three factorisations (4/3 cols^3).
    const double n = double(m->in_features);
    stages_.gptq.seconds += seconds_since(g0);
    stages_.gptq.flops += double(m->out_features) * n * n + 4.0 / 3.0 * n * n * n;
  }
  // 5. Propagation pass: GPTQ's quantized layer, or AWQ's folded full-precision one.
  if (!propagate_original) {
    const QuantizedOverlay overlay(smoothed, done_);
    const engine::WeightSource& next = method_ == Method::Gptq ? static_cast<const engine::WeightSource&>(overlay)
                                                               : static_cast<const engine::WeightSource&>(smoothed);
    engine::DecoderLayer layer(arch_, i, next);
    if (bf16_products) layer.use_bf16_products();
    const auto p0 = std::chrono::steady_clock::now();
    for (auto& h : hidden_) {
      check_interrupted();
      std::vector<float> x = to_f32(h);
      const int64_t T = int64_t(h.size()) / arch_.hidden;
      layer.forward(x.data(), net_->rope(0, T));
      stages_.propagate.flops += layer_forward_flops(arch_, i, T);
      h = to_bf16(x);
      progress_->advance(0, 1);
    }
    stages_.propagate.seconds += seconds_since(p0);
  }
  // The folded tensors the checkpoint writes dense (norms, biases, Linears left unquantized).
  std::vector<std::string> dense_names;
  for (auto& [name, bytes] : smoothed.take_changed()) {
    const std::string path = name.substr(0, name.rfind('.'));
    if (name.ends_with(".weight") && done_.count(path)) continue;
    folded_dense_[name] = std::move(bytes);
    dense_names.push_back(name);
  }
  for (const auto& m : arch_.modules)
    if (m.layer == i) source_.release(m);
  if (state_) save_layer(i, dense_names, awq_first);
  ++stages_.layers;
  progress_->advance(1, 0);
  if (i + 1 == arch_.num_layers) {
    progress_->finish();
    log_stages();
  }
}

void SequentialCalibration::log_stages() const {
  std::string line;
  auto add = [&](const char* name, const Stage& s) {
    if (s.seconds <= 0) return;
    char b[128];
    if (s.flops > 0) std::snprintf(b, sizeof b, "%s%s %.1f s (%.1f GFLOP/s)", line.empty() ? "" : ", ", name, s.seconds,
                                   s.flops / s.seconds * 1e-9);
    else std::snprintf(b, sizeof b, "%s%s %.1f s", line.empty() ? "" : ", ", name, s.seconds);
    line += b;
  };
  add("calibration forward", stages_.forward);
  add(method_ == Method::Gptq ? "X^T X" : "E[x^2]", stages_.xtx);
  add("AWQ search", stages_.awq);
  add("GPTQ", stages_.gptq);
  add("propagation forward", stages_.propagate);
  if (!line.empty()) log::info("stages over " + std::to_string(stages_.layers) + " layers: " + line);
}

void SequentialCalibration::calibrate_head(const std::map<std::string, float>& shared_amax) {
  const model::Module& head = arch_.module("lm_head");
  HessianCollector collect(method_ == Method::Rtn);
  collect.want(head, head.path);
  for (const auto& h : hidden_) {
    const std::vector<float> x = to_f32(h);
    const int64_t T = int64_t(h.size()) / arch_.hidden;
    const std::vector<float> n = net_->final_norm(x.data(), T);
    collect.on_input(head, n.data(), T);
  }
  // A tied head quantizes the embedding matrix (the pipeline unties it).
  const io::TensorRef* w = in_.find("lm_head.weight");
  if (!w) w = &in_.at("model.embed_tokens.weight");
  const std::string where = w->file->path().filename().string() + ": tensor " + w->info->name;
  done_.clear();
  head_done_ = true;
  if (method_ == Method::Rtn) {
    const std::vector<float> d = collect.diagonal(head.path, head.in_features, int64_t(hidden_.size()));
    done_[head.path] = {algorithms::rtn_quantize_observed(w->data(), w->info->dtype, head.out_features,
                                                          head.in_features, *args_of(head), where,
                                                          shared_amax_of(shared_amax, head.path), d.data()),
                        ""};
    return;
  }
  const std::vector<float> hess = collect.take_hessian(head.path, head.in_features, int64_t(hidden_.size()));
  done_[head.path] = gptq_module(head, w->data(), w->info->dtype, hess, where, shared_amax_of(shared_amax, head.path));
}

QuantizedModule SequentialCalibration::quantize(const model::Module& m, const quant::QuantArgs& args, const io::TensorRef& src,
                                         const std::map<std::string, float>& shared_amax) {
  if (m.layer >= 0) {
    if (m.layer < next_layer_ - 1) throw std::logic_error("gptq: layer " + std::to_string(m.layer) + " asked again");
    calibrate_through(m.layer, shared_amax);
  } else {
    if (m.path != "lm_head") throw std::logic_error("gptq: no calibration for " + m.path);
    while (next_layer_ < arch_.num_layers) calibrate_layer(next_layer_++, shared_amax);
    if (!head_done_) calibrate_head(shared_amax);
  }
  auto it = done_.find(m.path);
  if (it == done_.end()) throw std::logic_error("gptq: " + m.path + " was not calibrated");
  QuantizedModule out = std::move(it->second);
  done_.erase(it);
  return out;
}

void SequentialCalibration::calibrate_through(int layer, const std::map<std::string, float>& shared_amax) {
  while (next_layer_ <= layer) calibrate_layer(next_layer_++, shared_amax);
}

std::optional<std::vector<uint8_t>> SequentialCalibration::dense_tensor(const std::string& name,
                                                                      const std::map<std::string, float>& shared_amax) {
  if (!awq_) return std::nullopt;
  const model::Module* m = arch_.find_module(name.substr(0, name.rfind('.')));
  if (!m || m->layer < 0) return std::nullopt;
  // A norm may come before the layer's first Linear in checkpoint order: calibrate it now.
  calibrate_through(m->layer, shared_amax);
  auto it = folded_dense_.find(name);
  if (it == folded_dense_.end()) return std::nullopt;
  std::vector<uint8_t> out = std::move(it->second);
  folded_dense_.erase(it);
  return out;
}

nlohmann::json SequentialCalibration::report() const {
  nlohmann::json out = nlohmann::json::object();
  if (!awq_) return out;
  nlohmann::json maps = nlohmann::json::array();
  for (const auto& r : awq_results_) {
    if (!r.note.empty()) {
      maps.push_back({{"smooth_layer", r.smooth}, {"skipped", r.note}});
      continue;
    }
    maps.push_back({{"smooth_layer", r.smooth},
                    {"scored_tokens", r.scored_tokens},
                    {"ratio", r.best.ratio},
                    {"duo_scaling", r.best.duo},
                    {"initial_error", r.initial_error},
                    {"best_error", r.best_error},
                    {"losses", r.losses}});
  }
  out["awq"] = {{"n_grid", awq_->options.n_grid}, {"search_tokens", awq_->options.search_tokens}, {"mappings", maps}};
  return out;
}

std::string SequentialCalibration::method() const {
  const std::string base = method_ == Method::Gptq ? "gptq" : "rtn";
  return awq_ ? (method_ == Method::Gptq ? "awq+gptq" : "awq") : base;
}

}  // namespace lowbit::pipeline
