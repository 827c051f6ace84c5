// Architectures: config.json -> the module tree with Hugging Face's exact module
// paths and class names (what targets/ignore match against) and the parameter
// shapes a checkpoint must hold.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lowbit::model {

struct Module {
  std::string path;                  // "model.layers.3.mlp.down_proj" ("" is the root)
  std::vector<std::string> classes;  // class then its bases, e.g. {"Linear", "Module"}
  int64_t in_features = 0, out_features = 0;  // Linear / Embedding (num_embeddings, dim)
  bool has_bias = false;
  int layer = -1;  // decoder layer index, -1 outside the layers
  bool is_linear() const { return !classes.empty() && classes[0] == "Linear"; }
  bool is_embedding() const { return !classes.empty() && classes[0] == "Embedding"; }
};

struct Param {
  std::string name;  // "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;
};

struct Architecture {
  std::string name;        // "LlamaForCausalLM"
  std::string model_type;  // "llama"
  int64_t num_layers = 0, hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  bool tied_embeddings = false;
  bool qk_norm = false;  // Qwen3: RMSNorm over head_dim on q and k, before RoPE
  double rms_norm_eps = 1e-6, rope_theta = 10000.0;
  // rope_scaling: "" (none), "linear" (positions / factor) or "llama3" (frequency-dependent).
  std::string rope_type;
  double rope_factor = 1.0, rope_low_freq_factor = 1.0, rope_high_freq_factor = 4.0;
  int64_t rope_original_max_positions = 8192;
  std::vector<Module> modules;  // in torch named_modules() order
  std::vector<Param> params;    // every parameter the checkpoint must hold

  const Module* find_module(const std::string& path) const;
  const Module& module(const std::string& path) const;  // std::logic_error if absent (our bug)
  std::vector<const Module*> linears() const;
};

// The Linears vLLM serves as one fused layer (q/k/v as qkv_proj, gate/up as gate_up_proj),
// one group per layer and kind: they must share a scheme, and NVFP4 members share one
// global scale.
std::vector<std::vector<const Module*>> fused_linears(const Architecture& arch);

// Supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
// Throws UserError naming `config_label` for unknown architectures or missing keys.
Architecture architecture_from_config(const nlohmann::json& config, const std::string& config_label);
std::vector<std::string> supported_architectures();

}  // namespace lowbit::model
