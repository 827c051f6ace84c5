#include "pipeline/awq_layer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "engine/decoder_layer.h"
#include "numerics/half.h"
#include "quant/matching.h"

namespace lowbit::pipeline {

namespace {

// Candidates of one search batch are scored together; their weights stay under this.
constexpr uint64_t kCandidateBudgetBytes = uint64_t(2) << 30;

std::vector<float> to_f32(const std::vector<uint16_t>& h) {
  std::vector<float> x(h.size());
  for (size_t i = 0; i < h.size(); ++i) x[i] = bf16_to_f32(h[i]);
  return x;
}

std::string layer_prefix(int i) { return "model.layers." + std::to_string(i); }

// Keeps the input of one Linear.
class Capture : public engine::LinearObserver {
 public:
  explicit Capture(const model::Module* m) : m_(m) {}
  void on_input(const model::Module& m, const float* x, int64_t tokens) override {
    if (&m == m_) x_.assign(x, x + tokens * m.in_features);
  }
  std::vector<float> take() { return std::move(x_); }

 private:
  const model::Module* m_;
  std::vector<float> x_;
};

// The base's Linears with some weights replaced (a search candidate), biases kept.
class ReplacedLinears : public engine::WeightSource {
 public:
  explicit ReplacedLinears(const engine::WeightSource& base) : base_(base) {}
  void set(const model::Module* m, std::vector<uint8_t> w, DType t) { w_[m] = {std::move(w), t}; }
  engine::TensorView dense_weight(const model::Module& m) const override { return base_.dense_weight(m); }
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override {
    auto it = w_.find(&m);
    if (it == w_.end()) return base_.linear(m);
    auto base = base_.linear(m);
    auto out = std::make_unique<engine::DenseLinear>(it->second.first.data(), it->second.second, m.in_features,
                                                     m.out_features);
    out->copy_bias_from(*base);
    return out;
  }

 private:
  const engine::WeightSource& base_;
  std::map<const model::Module*, std::pair<std::vector<uint8_t>, DType>> w_;
};

using Kind = AwqMapping::Kind;

// The parent block's output for input x [T, in] (the block whose output the loss compares).
class Parent {
 public:
  Parent(const model::Architecture& arch, int layer, const AwqMapping& map, const engine::WeightSource& w,
         bool bf16_products)
      : map_(map) {
    if (map.kind == Kind::AttentionInput || map.kind == Kind::MlpInput) {
      layer_ = std::make_unique<engine::DecoderLayer>(arch, layer, w);
      if (bf16_products) layer_->use_bf16_products();
    } else {
      linear_ = w.linear(*map.balance[0]);
      linear_->set_bf16_products(bf16_products);
    }
  }
  void forward(const float* x, int64_t T, const engine::RopeTable& rope, float* out) const {
    switch (map_.kind) {
      case Kind::AttentionInput: layer_->attention_block(x, rope, out); break;
      case Kind::MlpInput: layer_->mlp_block(x, T, out); break;
      default: linear_->forward(x, T, out); break;
    }
  }

 private:
  const AwqMapping& map_;
  std::unique_ptr<engine::DecoderLayer> layer_;
  std::unique_ptr<engine::Linear> linear_;
};

int64_t parent_width(const model::Architecture& arch, const AwqMapping& map) {
  return map.kind == Kind::AttentionInput || map.kind == Kind::MlpInput ? arch.hidden : map.balance[0]->out_features;
}

// The input the mapping's parent receives in the original layer, for one sample.
std::vector<float> parent_input(const engine::DecoderLayer& original, const AwqMapping& map, const float* h,
                                int64_t T, int64_t hidden, const engine::RopeTable& rope) {
  std::vector<float> normed(size_t(T * hidden));
  original.input_norm(h, T, normed.data());
  if (map.kind == Kind::AttentionInput) return normed;
  std::vector<float> attn(size_t(T * hidden));
  Capture cap(map.balance[0]);
  original.attention_block(normed.data(), rope, attn.data(), &cap);
  if (map.kind == Kind::ValueOutput) return cap.take();
  for (size_t j = 0; j < attn.size(); ++j) attn[j] += h[j];
  original.post_attention_norm(attn.data(), T, normed.data());
  if (map.kind == Kind::MlpInput) return normed;
  std::vector<float> mlp(size_t(T * hidden));
  original.mlp_block(normed.data(), T, mlp.data(), &cap);
  return cap.take();
}

// sum over tokens of ||x W^T - x Q^T||^2 = sum over rows r of d_r H d_r^T, d = W - Q.
double gram_loss(const engine::WeightSource& full, const engine::WeightSource& cand, const model::Module& m,
                 const std::vector<float>& gram) {
  const int64_t rows = m.out_features, k = m.in_features;
  std::vector<float> d(size_t(rows * k)), q(size_t(rows * k)), dh(size_t(rows * k));
  full.linear(m)->rows_f32(0, rows, d.data());
  cand.linear(m)->rows_f32(0, rows, q.data());
  for (size_t i = 0; i < d.size(); ++i) d[i] -= q[i];
  cblas_ssymm(CblasRowMajor, CblasRight, CblasUpper, int(rows), int(k), 1.0f, gram.data(), int(k), d.data(), int(k),
              0.0f, dh.data(), int(k));
  double acc = 0;
  for (size_t i = 0; i < d.size(); ++i) acc += double(d[i]) * double(dh[i]);
  return acc;
}

bool is_fused_nvfp4(const quant::QuantArgs* a) { return a && a->strategy == quant::Strategy::TensorGroup; }

}  // namespace

AwqConfig awq_config(const quant::Recipe& recipe, const std::string& where) {
  AwqConfig c;
  const nlohmann::json& a = recipe.awq;
  if (a.contains("duo_scaling") && !a["duo_scaling"].is_null()) {
    const auto& d = a["duo_scaling"];
    if (d == true) c.options.duo_scaling = algorithms::AwqOptions::Duo::On;
    else if (d == false) c.options.duo_scaling = algorithms::AwqOptions::Duo::Off;
    else if (d == "both") c.options.duo_scaling = algorithms::AwqOptions::Duo::Both;
    else throw UserError(where + ": AWQ duo_scaling must be true, false or \"both\", got " + d.dump());
  }
  if (a.contains("n_grid") && !a["n_grid"].is_null()) {
    if (!a["n_grid"].is_number_integer() || a["n_grid"].get<int64_t>() < 2 || a["n_grid"].get<int64_t>() > 1000)
      throw UserError(where + ": AWQ n_grid must be an integer in 2..1000");
    c.options.n_grid = a["n_grid"].get<int>();
  }
  if (c.options.duo_scaling == algorithms::AwqOptions::Duo::Both && c.options.n_grid < 4)
    throw UserError(where + ": AWQ duo_scaling \"both\" needs n_grid >= 4");
  if (a.contains("offload_device") && !a["offload_device"].is_null())
    log::info(where + ": offload_device has no effect (lowbit keeps one layer's activations on the CPU)");
  if (a.contains("mappings") && !a["mappings"].is_null()) {
    if (!a["mappings"].is_array() || a["mappings"].empty())
      throw UserError(where + ": AWQ mappings must be a non-empty list of {smooth_layer, balance_layers}");
    for (const auto& m : a["mappings"]) {
      if (!m.is_object() || !m.contains("smooth_layer") || !m["smooth_layer"].is_string() ||
          !m.contains("balance_layers") || !m["balance_layers"].is_array() || m["balance_layers"].empty())
        throw UserError(where + ": each AWQ mapping needs smooth_layer (a string) and balance_layers (a list)");
      for (auto it = m.begin(); it != m.end(); ++it)
        if (it.key() != "smooth_layer" && it.key() != "balance_layers" &&
            !(it.key() == "activation_hook_target" && it.value().is_null()))
          throw UserError(where + ": AWQ mapping key '" + it.key() + "' is not supported");
      AwqConfig::Mapping mm{m["smooth_layer"].get<std::string>(), {}};
      for (const auto& b : m["balance_layers"]) {
        if (!b.is_string()) throw UserError(where + ": AWQ balance_layers must be strings");
        mm.balance.push_back(b.get<std::string>());
      }
      c.mappings.push_back(std::move(mm));
    }
  } else {
    // llm-compressor's default_mappings (Llama, Mistral, Qwen2, Qwen3).
    c.mappings = {{"re:.*input_layernorm$", {"re:.*q_proj$", "re:.*k_proj$", "re:.*v_proj$"}},
                  {"re:.*v_proj$", {"re:.*o_proj$"}},
                  {"re:.*post_attention_layernorm$", {"re:.*gate_proj$", "re:.*up_proj$"}},
                  {"re:.*up_proj$", {"re:.*down_proj$"}}};
  }
  return c;
}

std::vector<AwqMapping> resolve_awq_mappings(const model::Architecture& arch, int layer, const AwqConfig& config,
                                             const quant::Plan& plan, std::vector<std::string>* notes) {
  const std::string L = layer_prefix(layer);
  auto mod = [&](const std::string& s) { return &arch.module(L + s); };
  struct Fold {
    Kind kind;
    const model::Module* smooth;
    std::set<const model::Module*> balance;
  };
  const Fold folds[] = {
      {Kind::AttentionInput, mod(".input_layernorm"),
       {mod(".self_attn.q_proj"), mod(".self_attn.k_proj"), mod(".self_attn.v_proj")}},
      {Kind::ValueOutput, mod(".self_attn.v_proj"), {mod(".self_attn.o_proj")}},
      {Kind::MlpInput, mod(".post_attention_layernorm"), {mod(".mlp.gate_proj"), mod(".mlp.up_proj")}},
      {Kind::UpDown, mod(".mlp.up_proj"), {mod(".mlp.down_proj")}},
  };
  auto targeted = [&](const model::Module* m) {
    const quant::ModuleChoice* c = plan.find(m->path);
    return c && c->group >= 0;
  };
  std::vector<AwqMapping> out;
  for (const auto& spec : config.mappings) {
    const quant::Matcher smooth(spec.smooth);
    std::vector<quant::Matcher> balance;
    for (const auto& b : spec.balance) balance.emplace_back(b);
    std::vector<const model::Module*> smooths;
    std::set<const model::Module*> bal;
    std::vector<const model::Module*> bal_ordered;
    for (const auto& m : arch.modules) {
      if (m.layer != layer) continue;
      if (smooth.match(m) != quant::MatchKind::None) smooths.push_back(&m);
      if (quant::matches_any(balance, m) && bal.insert(&m).second) bal_ordered.push_back(&m);
    }
    const std::string what = "AWQ mapping " + spec.smooth;
    if (smooths.empty()) continue;
    if (smooths.size() > 1)
      throw UserError(what + " matches " + std::to_string(smooths.size()) + " modules in layer " +
                      std::to_string(layer) + " (" + smooths[0]->path + ", " + smooths[1]->path + "); it must match one");
    const Fold* fold = nullptr;
    for (const Fold& f : folds)
      if (f.smooth == smooths[0]) fold = &f;
    if (!fold)
      throw UserError(what + ": " + smooths[0]->path +
                      " is not a layer lowbit can fold scales into (input_layernorm, v_proj, post_attention_layernorm, "
                      "up_proj)");
    if (bal != fold->balance) {
      std::string want;
      for (const auto* b : fold->balance) want += (want.empty() ? "" : ", ") + b->path;
      throw UserError(what + ": the balance layers of " + smooths[0]->path + " must be exactly the Linears that read "
                      "its output (" + want + "), or the model would change");
    }
    if (fold->kind == Kind::ValueOutput && arch.kv_heads != arch.heads) {
      if (notes && layer == 0)
        notes->push_back("AWQ: v_proj -> o_proj skipped (grouped-query attention: v_proj has " +
                         std::to_string(fold->smooth->out_features) + " outputs, o_proj " +
                         std::to_string((*fold->balance.begin())->in_features) + " inputs), as llm-compressor skips it");
      continue;
    }
    bool any = targeted(fold->smooth);
    for (const auto* b : bal_ordered) any |= targeted(b);
    if (!any) {
      if (notes) notes->push_back("AWQ: " + smooths[0]->path + " skipped: no layer of the mapping is quantized");
      continue;
    }
    // Keep the architecture's order (q, k, v; gate, up): the first balance layer's input is x.
    AwqMapping m{fold->kind, fold->smooth, {}};
    for (const auto& mm : arch.modules)
      if (fold->balance.count(&mm)) m.balance.push_back(&mm);
    out.push_back(std::move(m));
  }
  return out;
}

void SmoothedWeights::set(const std::string& tensor, std::vector<uint8_t> bytes) {
  if (bytes.size() != in_.at(tensor).info->nbytes()) throw std::logic_error("awq: size of " + tensor);
  changed_[tensor] = std::move(bytes);
}

const void* SmoothedWeights::data(const std::string& tensor) const {
  auto it = changed_.find(tensor);
  return it != changed_.end() ? static_cast<const void*>(it->second.data()) : in_.at(tensor).data();
}

engine::TensorView SmoothedWeights::dense_weight(const model::Module& m) const {
  engine::TensorView v = base_.dense_weight(m);
  auto it = changed_.find(m.path + ".weight");
  if (it != changed_.end()) v.data = it->second.data();
  return v;
}

std::unique_ptr<engine::Linear> SmoothedWeights::linear(const model::Module& m) const {
  const std::string w = m.path + ".weight", b = m.path + ".bias";
  if (!changed_.count(w) && !changed_.count(b)) return base_.linear(m);
  auto out = std::make_unique<engine::DenseLinear>(data(w), dtype(w), m.in_features, m.out_features);
  if (m.has_bias) out->set_bias(data(b), dtype(b));
  return out;
}

void AwqLayer::Stats::on_input(const model::Module& m, const float* x, int64_t tokens) {
  auto it = sum.find(m.path);
  if (it == sum.end()) return;
  double* s = it->second.data();
  const int64_t k = m.in_features;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < k; ++c) s[c] += std::fabs(x[t * k + c]);
  count[m.path] += tokens;
}

AwqLayer::AwqLayer(const model::Architecture& arch, std::vector<AwqMapping> mappings,
                   const algorithms::AwqOptions& options, ArgsOf args_of)
    : arch_(arch), mappings_(std::move(mappings)), options_(options), args_of_(std::move(args_of)) {
  for (const auto& m : mappings_) {
    stats_.sum[m.balance[0]->path].assign(size_t(m.balance[0]->in_features), 0.0);
    if (options_.duo_scaling == algorithms::AwqOptions::Duo::Off) continue;
    for (const auto* b : m.balance) {
      const quant::QuantArgs* a = args_of_(*b);
      if (a && a->strategy == quant::Strategy::Tensor)
        throw UserError("AWQ: duo_scaling is only supported with per-channel strategies (group or channel), but " +
                        b->path + " is quantized per tensor; set duo_scaling: false");
    }
  }
}

std::vector<AwqMappingResult> AwqLayer::run(SmoothedWeights& weights, const std::vector<std::vector<uint16_t>>& hidden,
                                            const std::function<engine::RopeTable(int64_t)>& rope,
                                            const std::function<void()>& sample_done) const {
  std::vector<AwqMappingResult> out;
  for (const auto& m : mappings_) out.push_back(search(m, weights, hidden, rope, sample_done));
  return out;
}

AwqMappingResult AwqLayer::search(const AwqMapping& map, SmoothedWeights& weights,
                                  const std::vector<std::vector<uint16_t>>& hidden,
                                  const std::function<engine::RopeTable(int64_t)>& rope,
                                  const std::function<void()>& sample_done) const {
  AwqMappingResult res;
  // Progress: each sample counts once per mapping, on the pass that scores the candidates.
  auto tick = [&](bool last_pass) {
    if (sample_done && last_pass) sample_done();
  };
  res.smooth = map.smooth->path;
  const std::string& first = map.balance[0]->path;
  const int64_t n = stats_.count.count(first) ? stats_.count.at(first) : 0;
  if (n == 0) {
    res.note = "no calibration tokens";
    return res;
  }
  std::vector<double> x_mean = stats_.sum.at(first);
  for (double& v : x_mean) v /= double(n);

  // The balance layers as they are now (earlier mappings may have scaled them).
  std::vector<algorithms::AwqBalance> bal;
  for (const auto* b : map.balance) {
    const std::string t = b->path + ".weight";
    bal.push_back({weights.data(t), weights.dtype(t), b->out_features, b->in_features, args_of_(*b)});
  }
  const std::vector<double> w_mean = options_.duo_scaling == algorithms::AwqOptions::Duo::Off
                                         ? std::vector<double>(x_mean.size(), 1.0)
                                         : algorithms::awq_weight_mean(bal);
  const auto grid = algorithms::awq_grid(options_);

  // The original layer gives each parent its input, as llm-compressor's cached arguments do.
  const int layer = map.smooth->layer;
  engine::DecoderLayer original(arch_, layer, weights.base());
  if (bf16_products_) original.use_bf16_products();
  const Parent reference(arch_, layer, map, weights, bf16_products_);
  const int64_t width = parent_width(arch_, map);

  uint64_t per_candidate = 0;
  for (const auto& b : bal)
    if (b.args) per_candidate += uint64_t(b.rows * b.cols) * dtype_size(b.dtype);
  // BF16 products keep a packed BF16 copy of each parent's weights beside the candidate's own.
  if (bf16_products_) per_candidate *= 2;
  const size_t batch = size_t(std::clamp<uint64_t>(kCandidateBudgetBytes / std::max<uint64_t>(per_candidate, 1), 1,
                                                   grid.size()));
  std::vector<double> loss(grid.size(), 0.0);
  double numel = 0;
  bool finite = true;
  // A parent that is one Linear (v -> o, up -> down): sum ||X (W - Q)^T||^2 = tr(D H D^T) with
  // H = X^T X over every token, so each candidate costs one [out, in] x [in, in] product
  // instead of a pass over all tokens (the same loss, summed in another order).
  const bool linear_parent = options_.gram_loss && (map.kind == Kind::ValueOutput || map.kind == Kind::UpDown);
  // The samples the candidates are scored on (options_.search_tokens); X^T X takes every token.
  std::vector<int64_t> tokens_per_sample;
  for (const auto& hb : hidden) tokens_per_sample.push_back(int64_t(hb.size()) / arch_.hidden);
  const std::vector<size_t> scored =
      algorithms::awq_search_samples(tokens_per_sample, linear_parent ? 0 : options_.search_tokens);
  for (size_t si : scored) res.scored_tokens += tokens_per_sample[si];
  std::vector<float> gram;
  if (linear_parent) {
    const int64_t k = map.balance[0]->in_features;
    gram.assign(size_t(k * k), 0.0f);
    for (const auto& hb : hidden) {
      check_interrupted();
      const std::vector<float> h = to_f32(hb);
      const int64_t T = int64_t(h.size()) / arch_.hidden;
      const std::vector<float> x = parent_input(original, map, h.data(), T, arch_.hidden, rope(T));
      for (float v : x) finite &= std::isfinite(v);
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(k), int(T), 1.0f, x.data(), int(k), 1.0f, gram.data(),
                  int(k));
      numel += double(T * width);
      tick(true);
    }
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i + 1; j < k; ++j) gram[size_t(j * k + i)] = gram[size_t(i * k + j)];
  }
  for (size_t c0 = 0; c0 < grid.size() && finite; c0 += batch) {
    const size_t c1 = std::min(grid.size(), c0 + batch);
    // Candidate weights Q(W s) / s of the targeted balance layers.
    std::vector<std::unique_ptr<ReplacedLinears>> cands;
    std::vector<std::unique_ptr<Parent>> parents;
    for (size_t c = c0; c < c1; ++c) {
      check_interrupted();
      const std::vector<double> s = algorithms::awq_scales(x_mean, w_mean, grid[c]);
      auto cand = std::make_unique<ReplacedLinears>(weights);
      std::vector<std::vector<uint8_t>> scaled(bal.size());
      float shared = 0;
      bool fused = false;
      for (size_t j = 0; j < bal.size(); ++j) {
        if (!bal[j].args) continue;
        scaled[j] = algorithms::awq_scale_columns(bal[j].w, bal[j].dtype, bal[j].rows, bal[j].cols, s);
        if (is_fused_nvfp4(bal[j].args) && bal.size() > 1) {
          fused = true;
          for (int64_t e = 0; e < bal[j].rows * bal[j].cols; ++e)
            shared = std::max(shared, std::fabs(load_as_f32(scaled[j].data(), size_t(e), bal[j].dtype)));
        }
      }
      for (size_t j = 0; j < bal.size(); ++j) {
        if (!bal[j].args) continue;
        const bool share = fused && is_fused_nvfp4(bal[j].args);
        cand->set(map.balance[j],
                  algorithms::awq_quantize_scaled(scaled[j], bal[j].dtype, bal[j].rows, bal[j].cols, *bal[j].args, s,
                                                  map.balance[j]->path,
                                                  share ? std::optional<float>(shared) : std::nullopt),
                  bal[j].dtype);
      }
      if (linear_parent) {
        loss[c] = gram_loss(weights, *cand, *map.balance[0], gram);
        continue;
      }
      parents.push_back(std::make_unique<Parent>(arch_, layer, map, *cand, bf16_products_));
      cands.push_back(std::move(cand));
    }
    if (linear_parent) continue;
    numel = 0;
    for (size_t si : scored) {
      const auto& hb = hidden[si];
      check_interrupted();
      const std::vector<float> h = to_f32(hb);
      const int64_t T = int64_t(h.size()) / arch_.hidden;
      const engine::RopeTable tab = rope(T);
      const std::vector<float> x = parent_input(original, map, h.data(), T, arch_.hidden, tab);
      std::vector<float> fp(size_t(T * width)), q(size_t(T * width));
      reference.forward(x.data(), T, tab, fp.data());
      for (float v : fp) finite &= std::isfinite(v);
      if (!finite) break;
      for (size_t c = c0; c < c1; ++c) {
        parents[c - c0]->forward(x.data(), T, tab, q.data());
        double acc = 0;
        for (size_t e = 0; e < q.size(); ++e) {
          const double d = double(fp[e]) - double(q[e]);
          acc += d * d;
        }
        loss[c] += acc;
      }
      numel += double(fp.size());
      tick(c1 == grid.size());
    }
    // The samples left out of the scoring count as done for the progress.
    if (c1 == grid.size())
      for (size_t k = scored.size(); k < hidden.size(); ++k) tick(true);
  }
  if (!finite) {
    res.note = "NaN or Inf in the full-precision output of the parent block; mapping skipped";
    log::warn("AWQ: " + res.smooth + ": " + res.note);
    return res;
  }
  size_t best = grid.size();
  double best_loss = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < grid.size(); ++c) {
    loss[c] /= numel;
    if (loss[c] < best_loss) best_loss = loss[c], best = c;
  }
  if (best == grid.size())
    throw UserError("AWQ: " + res.smooth + ": no candidate scale gave a finite loss (NaN in the layer's outputs?)");
  res.best = grid[best];
  res.losses = loss;
  res.initial_error = loss[0];
  res.best_error = best_loss;
  res.scales = algorithms::awq_scales(x_mean, w_mean, grid[best]);

  // Fold: balance columns *= s, the smooth layer's outputs (norm weight, or Linear rows and bias) /= s.
  const std::vector<double>& s = res.scales;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> folded;
  for (size_t j = 0; j < bal.size(); ++j)
    folded.emplace_back(map.balance[j]->path + ".weight",
                        algorithms::awq_scale_columns(bal[j].w, bal[j].dtype, bal[j].rows, bal[j].cols, s));
  const std::string sw = map.smooth->path + ".weight";
  if (map.smooth->is_linear()) {
    folded.emplace_back(sw, algorithms::awq_divide_rows(weights.data(sw), weights.dtype(sw), map.smooth->out_features,
                                                        map.smooth->in_features, s));
    if (map.smooth->has_bias) {
      const std::string sb = map.smooth->path + ".bias";
      folded.emplace_back(sb, algorithms::awq_divide_rows(weights.data(sb), weights.dtype(sb),
                                                          map.smooth->out_features, 1, s));
    }
  } else {
    folded.emplace_back(sw, algorithms::awq_divide_rows(weights.data(sw), weights.dtype(sw), int64_t(s.size()), 1, s));
  }
  for (auto& [name, bytes] : folded) weights.set(name, std::move(bytes));
  return res;
}

}  // namespace lowbit::pipeline
