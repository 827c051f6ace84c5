// Hugging Face <-> GGUF names: the architecture string llama.cpp loads a model as, and the
// name of every tensor in both directions, as convert_hf_to_gguf.py writes them
// (gguf-py's tensor_mapping.py, llama-arch.cpp). One table of rows, HF module template ->
// GGUF template ({L} = decoder layer), with the archs that hold a weight and a bias there.
//
//   model.embed_tokens.weight                  token_embd.weight
//   model.layers.N.self_attn.q_proj.weight     blk.N.attn_q.weight   (also .bias)
//   model.layers.N.self_attn.q_norm.weight     blk.N.attn_q_norm.weight   (qwen3 only)
//   model.norm.weight                          output_norm.weight
//   lm_head.weight                             output.weight   (absent when tied)
//
// A name with no place in llama.cpp's model of that arch (an unknown module, qwen3's
// o_proj bias, qwen2's MLP biases) is a UserError naming it: llama.cpp refuses a file that
// holds a tensor it did not ask for.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/architecture.h"

namespace lowbit::model {

// "llama" (LlamaForCausalLM, MistralForCausalLM), "qwen2", "qwen3"; UserError otherwise.
std::string gguf_arch(const std::string& hf_architecture);
inline std::string gguf_arch(const Architecture& a) { return gguf_arch(a.name); }
// The GGUF archs the table knows: {"llama", "qwen2", "qwen3"}.
std::vector<std::string> gguf_archs();
bool is_gguf_arch(const std::string& gguf_arch);

// "model.layers.3.mlp.down_proj.weight" -> "blk.3.ffn_down.weight" for `gguf_arch`.
std::string gguf_tensor_name(const std::string& gguf_arch, const std::string& hf_name);
// "blk.3.ffn_down.weight" -> "model.layers.3.mlp.down_proj.weight". rope_freqs.weight (computed
// from rope_scaling) has no HF tensor: a UserError like any name the table does not hold.
std::string hf_tensor_name(const std::string& gguf_arch, const std::string& gguf_name);

struct GgufTensorName {
  std::string hf;            // HF parameter name; "" for a tensor computed for GGUF (rope_freqs.weight)
  std::string gguf;          // GGUF tensor name
  std::vector<int64_t> ne;   // ggml shape: the HF shape reversed (ne[0] = row length)
};
// Every tensor a GGUF of `a` holds, as convert_hf_to_gguf.py writes them: each parameter in
// checkpoint order (no output.weight when the embeddings are tied), then rope_freqs.weight
// ({head_dim/2}) for a llama-arch model with llama3 rope scaling.
std::vector<GgufTensorName> gguf_tensors(const Architecture& a);

}  // namespace lowbit::model
