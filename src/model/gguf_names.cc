#include "model/gguf_names.h"

#include <algorithm>

#include "core/error.h"

namespace lowbit::model {

namespace {

// GGUF archs, one bit each in the name table's masks.
const char* const kGgufArchs[] = {"llama", "qwen2", "qwen3"};
enum : unsigned { kLlama = 1u << 0, kQwen2 = 1u << 1, kQwen3 = 1u << 2, kAll = kLlama | kQwen2 | kQwen3 };

struct ArchRow {
  const char* hf;
  const char* gguf;
};
// convert_hf_to_gguf.py's registrations: Mistral is written as llama.
const ArchRow kArchRows[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "llama"},
    {"Qwen2ForCausalLM", "qwen2"},
    {"Qwen3ForCausalLM", "qwen3"},
};

struct NameRow {
  const char* hf;    // HF module template, {L} = layer
  const char* gguf;  // GGUF tensor template without ".weight"/".bias"
  unsigned weight;   // archs whose llama.cpp model reads <gguf>.weight
  unsigned bias;     // archs whose llama.cpp model reads <gguf>.bias
};
// llama.cpp's models/llama.cpp, qwen2.cpp, qwen3.cpp: q/k/v biases are optional for all three
// (create_tensor_qkv); attn_output and MLP biases only for llama.
const NameRow kNames[] = {
    {"model.embed_tokens", "token_embd", kAll, 0},
    {"model.norm", "output_norm", kAll, 0},
    {"lm_head", "output", kAll, 0},
    {"model.layers.{L}.input_layernorm", "blk.{L}.attn_norm", kAll, 0},
    {"model.layers.{L}.self_attn.q_proj", "blk.{L}.attn_q", kAll, kAll},
    {"model.layers.{L}.self_attn.k_proj", "blk.{L}.attn_k", kAll, kAll},
    {"model.layers.{L}.self_attn.v_proj", "blk.{L}.attn_v", kAll, kAll},
    {"model.layers.{L}.self_attn.o_proj", "blk.{L}.attn_output", kAll, kLlama},
    {"model.layers.{L}.self_attn.q_norm", "blk.{L}.attn_q_norm", kQwen3, 0},
    {"model.layers.{L}.self_attn.k_norm", "blk.{L}.attn_k_norm", kQwen3, 0},
    {"model.layers.{L}.post_attention_layernorm", "blk.{L}.ffn_norm", kAll, 0},
    {"model.layers.{L}.mlp.gate_proj", "blk.{L}.ffn_gate", kAll, kLlama},
    {"model.layers.{L}.mlp.up_proj", "blk.{L}.ffn_up", kAll, kLlama},
    {"model.layers.{L}.mlp.down_proj", "blk.{L}.ffn_down", kAll, kLlama},
};
// Computed by the converter for llama3 rope scaling; no HF tensor.
constexpr const char* kRopeFreqs = "rope_freqs.weight";

unsigned arch_bit(const std::string& gguf_arch) {
  for (size_t i = 0; i < std::size(kGgufArchs); ++i)
    if (gguf_arch == kGgufArchs[i]) return 1u << i;
  std::string list;
  for (const char* a : kGgufArchs) list += std::string(list.empty() ? "" : ", ") + a;
  throw UserError("GGUF architecture '" + gguf_arch + "' is not supported (supported: " + list + ")");
}

std::string arch_list(unsigned mask) {
  std::string out;
  for (size_t i = 0; i < std::size(kGgufArchs); ++i)
    if (mask & (1u << i)) out += std::string(out.empty() ? "" : ", ") + kGgufArchs[i];
  return out;
}

// Matches `name` against a template with at most one {L}; the layer must be written as
// Python's str(int) writes it (no sign, no leading zeros), so the mapping is one-to-one.
bool match_template(const std::string& tmpl, const std::string& name, std::string& layer) {
  const size_t pos = tmpl.find("{L}");
  if (pos == std::string::npos) {
    layer.clear();
    return name == tmpl;
  }
  const std::string prefix = tmpl.substr(0, pos), suffix = tmpl.substr(pos + 3);
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  layer = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (layer.size() > 9 || !std::all_of(layer.begin(), layer.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return layer == "0" || layer[0] != '0';
}

std::string fill(const std::string& tmpl, const std::string& layer) {
  std::string out = tmpl;
  if (const size_t pos = out.find("{L}"); pos != std::string::npos) out.replace(pos, 3, layer);
  return out;
}

enum class Side { Hf, Gguf };

// Maps `name` from one side to the other; UserError when the table has no row for it or
// the row's tensor is not read by llama.cpp for this arch.
std::string map_name(const std::string& gguf_arch, const std::string& name, Side from) {
  const unsigned bit = arch_bit(gguf_arch);
  const std::string side = from == Side::Hf ? "Hugging Face" : "GGUF";
  const size_t dot = name.rfind('.');
  const std::string base = dot == std::string::npos ? name : name.substr(0, dot);
  const std::string kind = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (from == Side::Gguf && name == kRopeFreqs)
    throw UserError("GGUF tensor 'rope_freqs.weight' is computed from config.json's llama3 rope_scaling; "
                    "it has no Hugging Face tensor");
  if (kind == "weight" || kind == "bias") {
    for (const auto& row : kNames) {
      const std::string src = from == Side::Hf ? row.hf : row.gguf;
      const std::string dst = from == Side::Hf ? row.gguf : row.hf;
      std::string layer;
      if (!match_template(src, base, layer)) continue;
      const unsigned archs = kind == "weight" ? row.weight : row.bias;
      if (!(archs & bit)) {
        const std::string gguf_name = fill(row.gguf, layer) + "." + kind;
        throw UserError(side + " tensor '" + name + "' has no place in llama.cpp's " + gguf_arch + " model (" +
                        gguf_name + (archs ? " is read for " + arch_list(archs) + " only)" : " is never read)"));
      }
      return fill(dst, layer) + "." + kind;
    }
  }
  throw UserError(side + " tensor '" + name + "' has no " + (from == Side::Hf ? "GGUF" : "Hugging Face") +
                  " name for llama.cpp's " + gguf_arch + " architecture");
}

}  // namespace

std::string gguf_arch(const std::string& hf_architecture) {
  for (const auto& r : kArchRows)
    if (hf_architecture == r.hf) return r.gguf;
  std::string list;
  for (const auto& r : kArchRows) list += std::string(list.empty() ? "" : ", ") + r.hf;
  throw UserError("architecture '" + hf_architecture + "' has no GGUF mapping (supported: " + list + ")");
}

std::vector<std::string> gguf_archs() { return {std::begin(kGgufArchs), std::end(kGgufArchs)}; }

bool is_gguf_arch(const std::string& a) {
  return std::find_if(std::begin(kGgufArchs), std::end(kGgufArchs), [&](const char* x) { return a == x; }) !=
         std::end(kGgufArchs);
}

std::string gguf_tensor_name(const std::string& arch, const std::string& hf_name) {
  return map_name(arch, hf_name, Side::Hf);
}

std::string hf_tensor_name(const std::string& arch, const std::string& gguf_name) {
  return map_name(arch, gguf_name, Side::Gguf);
}

std::vector<GgufTensorName> gguf_tensors(const Architecture& a) {
  const std::string arch = gguf_arch(a);
  std::vector<GgufTensorName> out;
  for (const auto& p : a.params) {
    GgufTensorName t{p.name, gguf_tensor_name(arch, p.name), {p.shape.rbegin(), p.shape.rend()}};
    out.push_back(std::move(t));
  }
  if (arch == "llama" && a.rope_type == "llama3") out.push_back({"", kRopeFreqs, {a.head_dim / 2}});
  return out;
}

}  // namespace lowbit::model
