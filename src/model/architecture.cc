#include "model/architecture.h"

#include "core/error.h"

namespace lowbit::model {

using nlohmann::json;

namespace {

struct Family {
  const char* arch;
  const char* prefix;  // class-name prefix: "Llama" -> LlamaDecoderLayer, LlamaRMSNorm ...
  bool qkv_bias_default;
  bool qk_norm;
};

const Family kFamilies[] = {
    {"LlamaForCausalLM", "Llama", false, false},
    {"MistralForCausalLM", "Mistral", false, false},
    {"Qwen2ForCausalLM", "Qwen2", true, false},
    {"Qwen3ForCausalLM", "Qwen3", false, true},
};

int64_t get_int(const json& c, const char* key, const std::string& label) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) throw UserError(label + ": missing " + key);
  if (!it->is_number_integer() || it->get<int64_t>() <= 0)
    throw UserError(label + ": " + key + " must be a positive integer");
  return it->get<int64_t>();
}

}  // namespace

const Module* Architecture::find_module(const std::string& path) const {
  for (const auto& m : modules)
    if (m.path == path) return &m;
  return nullptr;
}

const Module& Architecture::module(const std::string& path) const {
  const Module* m = find_module(path);
  if (!m) throw std::logic_error("no module " + path);
  return *m;
}

std::vector<const Module*> Architecture::linears() const {
  std::vector<const Module*> out;
  for (const auto& m : modules)
    if (m.is_linear()) out.push_back(&m);
  return out;
}

std::vector<std::vector<const Module*>> fused_linears(const Architecture& a) {
  static const std::vector<std::vector<const char*>> kFused = {
      {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj"}, {".mlp.gate_proj", ".mlp.up_proj"}};
  std::vector<std::vector<const Module*>> out;
  for (int i = 0; i < a.num_layers; ++i)
    for (const auto& group : kFused) {
      std::vector<const Module*> g;
      for (const char* suffix : group)
        if (const Module* m = a.find_module("model.layers." + std::to_string(i) + suffix)) g.push_back(m);
      out.push_back(std::move(g));
    }
  return out;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& f : kFamilies) out.push_back(f.arch);
  return out;
}

Architecture architecture_from_config(const json& c, const std::string& label) {
  std::string arch_name;
  if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
      c["architectures"][0].is_string())
    arch_name = c["architectures"][0].get<std::string>();
  const Family* fam = nullptr;
  for (const auto& f : kFamilies)
    if (arch_name == f.arch) fam = &f;
  if (!fam) {
    std::string list;
    for (const auto& f : kFamilies) list += std::string(list.empty() ? "" : ", ") + f.arch;
    throw UserError(label + ": unsupported architecture '" + (arch_name.empty() ? "<none>" : arch_name) +
                    "' (supported: " + list + ")");
  }
  Architecture a;
  a.name = fam->arch;
  a.model_type = c.value("model_type", std::string());
  a.hidden = get_int(c, "hidden_size", label);
  a.intermediate = get_int(c, "intermediate_size", label);
  a.num_layers = get_int(c, "num_hidden_layers", label);
  a.heads = get_int(c, "num_attention_heads", label);
  a.kv_heads = c.contains("num_key_value_heads") && !c["num_key_value_heads"].is_null()
                   ? get_int(c, "num_key_value_heads", label)
                   : a.heads;
  a.vocab = get_int(c, "vocab_size", label);
  if (c.contains("head_dim") && !c["head_dim"].is_null()) {
    a.head_dim = get_int(c, "head_dim", label);
  } else {
    if (a.hidden % a.heads != 0) throw UserError(label + ": hidden_size is not a multiple of num_attention_heads");
    a.head_dim = a.hidden / a.heads;
  }
  if (a.heads % a.kv_heads != 0)
    throw UserError(label + ": num_attention_heads is not a multiple of num_key_value_heads");
  a.tied_embeddings = c.value("tie_word_embeddings", false);
  a.qk_norm = fam->qk_norm;
  auto num = [&](const char* key, double dflt) {
    auto it = c.find(key);
    if (it == c.end() || it->is_null()) return dflt;
    if (!it->is_number()) throw UserError(label + ": " + key + " must be a number");
    return it->get<double>();
  };
  a.rms_norm_eps = num("rms_norm_eps", 1e-6);
  a.rope_theta = num("rope_theta", 10000.0);
  // transformers v5 may write rope settings under rope_parameters; older configs use rope_scaling.
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    auto it = c.find(key);
    if (it == c.end() || !it->is_object()) continue;
    const auto& r = *it;
    std::string type = r.value("rope_type", r.value("type", std::string("default")));
    if (r.contains("rope_theta") && r["rope_theta"].is_number()) a.rope_theta = r["rope_theta"].get<double>();
    if (type == "default") continue;
    if (type != "linear" && type != "llama3")
      throw UserError(label + ": " + key + " type '" + type + "' is not supported (default, linear, llama3)");
    a.rope_type = type;
    a.rope_factor = r.value("factor", 1.0);
    a.rope_low_freq_factor = r.value("low_freq_factor", 1.0);
    a.rope_high_freq_factor = r.value("high_freq_factor", 4.0);
    a.rope_original_max_positions = r.value("original_max_position_embeddings", int64_t(8192));
  }
  bool qkv_bias = c.value("attention_bias", fam->qkv_bias_default);
  bool o_bias = fam->qkv_bias_default ? false : qkv_bias;  // Qwen2: q/k/v biased, o_proj not
  bool mlp_bias = c.value("mlp_bias", false);

  const std::string P = fam->prefix;
  auto add = [&](std::string path, std::vector<std::string> classes, int layer = -1) -> Module& {
    classes.push_back("Module");
    a.modules.push_back(Module{std::move(path), std::move(classes), 0, 0, false, layer});
    return a.modules.back();
  };
  auto linear = [&](const std::string& path, int64_t in, int64_t out, bool bias, int layer) {
    Module& m = add(path, {"Linear"}, layer);
    m.in_features = in;
    m.out_features = out;
    m.has_bias = bias;
    a.params.push_back({path + ".weight", {out, in}});
    if (bias) a.params.push_back({path + ".bias", {out}});
  };
  auto norm = [&](const std::string& path, int64_t dim, int layer) {
    add(path, {P + "RMSNorm"}, layer);
    a.params.push_back({path + ".weight", {dim}});
  };

  add("", {fam->arch, P + "PreTrainedModel", "PreTrainedModel", "GenerationMixin"});
  add("model", {P + "Model", P + "PreTrainedModel", "PreTrainedModel"});
  Module& emb = add("model.embed_tokens", {"Embedding"});
  emb.in_features = a.vocab;
  emb.out_features = a.hidden;
  a.params.push_back({"model.embed_tokens.weight", {a.vocab, a.hidden}});
  add("model.layers", {"ModuleList"});
  const int64_t q_out = a.heads * a.head_dim, kv_out = a.kv_heads * a.head_dim;
  for (int i = 0; i < a.num_layers; ++i) {
    std::string L = "model.layers." + std::to_string(i);
    add(L, {P + "DecoderLayer", "GradientCheckpointingLayer"}, i);
    add(L + ".self_attn", {P + "Attention"}, i);
    linear(L + ".self_attn.q_proj", a.hidden, q_out, qkv_bias, i);
    linear(L + ".self_attn.k_proj", a.hidden, kv_out, qkv_bias, i);
    linear(L + ".self_attn.v_proj", a.hidden, kv_out, qkv_bias, i);
    linear(L + ".self_attn.o_proj", q_out, a.hidden, o_bias, i);
    if (fam->qk_norm) {
      norm(L + ".self_attn.q_norm", a.head_dim, i);
      norm(L + ".self_attn.k_norm", a.head_dim, i);
    }
    add(L + ".mlp", {P + "MLP"}, i);
    linear(L + ".mlp.gate_proj", a.hidden, a.intermediate, mlp_bias, i);
    linear(L + ".mlp.up_proj", a.hidden, a.intermediate, mlp_bias, i);
    linear(L + ".mlp.down_proj", a.intermediate, a.hidden, mlp_bias, i);
    norm(L + ".input_layernorm", a.hidden, i);
    norm(L + ".post_attention_layernorm", a.hidden, i);
  }
  norm("model.norm", a.hidden, -1);
  add("model.rotary_emb", {P + "RotaryEmbedding"});
  // lm_head exists as a module even when its weight is tied to the embeddings.
  Module& head = add("lm_head", {"Linear"});
  head.in_features = a.hidden;
  head.out_features = a.vocab;
  if (!a.tied_embeddings) a.params.push_back({"lm_head.weight", {a.vocab, a.hidden}});
  return a;
}

}  // namespace lowbit::model
