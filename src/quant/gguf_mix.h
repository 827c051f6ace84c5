// llama.cpp's quantization mixes: for an ftype (Q4_K_M, Q3_K_S, IQ4_XS, ...), a model and
// llama-quantize's options, the ggml type of every tensor, exactly as llama-quantize chooses it
// (src/llama-quant.cpp: llama_tensor_get_type and the helpers it calls). A pure function:
// `choose_gguf_types` reads names, shapes and types, never data.
//
// The rules, as llama-quantize applies them to each tensor:
//  1. Only tensors with >= 2 dims whose name ends in "weight", and not *_norm.weight (nor
//     output.weight with leave_output_tensor, nor a few other names) are quantized; every
//     other tensor keeps its stored type (norms, biases, rope_freqs: F32).
//  2. token_embedding_type / output_type, when given, are taken as they are (no fallback).
//  3. The ftype's default type (Q4_K for Q4_K_M); for a quantized default, the first
//     llama.cpp override pattern that matches, else the ftype's rules (unless `pure`):
//     output.weight (and token_embd.weight when the model has no output.weight) gets Q6_K
//     (Q8_0 for Q8_0, Q5_K for the IQ1/IQ2 mixes and IQ3_XXS, Q8_0 when the row length is
//     not a multiple of the default's block), attn_v and ffn_down get more bits in the layers
//     the ftype names (use_more_bits: the first and last eighth and every third layer between,
//     counted in llama.cpp's tensor order: layer, then name), and so on (gguf_mix.cc's table).
//  4. The fallback when the row length (ne[0]) is not a multiple of the chosen type's block:
//     Q2_K/Q3_K/TQ -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ* -> IQ4_NL, and F16
//     when the fallback does not fit either. Each fallback adds a note.
//
// --tensor-type PATTERN=TYPE comes in two syntaxes, told apart by the pattern:
//  * lowbit's (the pattern starts with "re:" or "model.", or is "lm_head"): our targets/ignore
//    syntax on the Hugging Face module path (quant/matching.h): "re:.*down_proj" (Python's
//    re.match) or an exact path "model.layers.0.mlp.down_proj". The tied token_embd.weight
//    answers to both model.embed_tokens and lm_head. A lowbit pattern is more specific than any
//    flag: it wins over output_type / token_embedding_type and applies for F16/BF16/F32 ftypes
//    too; the fallback (rule 4) still applies; the attn_v / ffn_down layer counters advance as
//    if the tensor had followed the mix, so overriding one layer moves no other layer's type.
//  * llama.cpp's (everything else): lowercased, an ECMAScript-style regex searched anywhere in
//    the GGUF tensor name ("attn_v", "blk\.1[0-5]\.ffn_down"), exactly as llama-quantize does:
//    the first matching pattern wins, only for a quantized default type, after rule 2, and an
//    overridden tensor does not advance the layer counters.
//  lowbit patterns are tried first (first match wins), then llama.cpp's.
// `ignore` entries (lowbit syntax, without "=TYPE") keep a module in its stored type
// (F16/BF16/F32 as the checkpoint holds it), ahead of everything else.
//
// Only the archs model/gguf_names.h maps (llama, qwen2, qwen3) are accepted: llama-quantize's
// rules that name other archs (falcon, glm5-next, bailingmoe3) never apply to them.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ggml_types.h"
#include "model/architecture.h"

namespace lowbit::quant {

// llama.h's llama_ftype ids (written as general.file_type).
enum class GgufFtype : uint32_t {
  ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7, MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_S = 11, MOSTLY_Q3_K_M = 12, MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14, MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_S = 16, MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18,
  MOSTLY_IQ2_XXS = 19, MOSTLY_IQ2_XS = 20, MOSTLY_Q2_K_S = 21, MOSTLY_IQ3_XS = 22, MOSTLY_IQ3_XXS = 23,
  MOSTLY_IQ1_S = 24, MOSTLY_IQ4_NL = 25, MOSTLY_IQ3_S = 26, MOSTLY_IQ3_M = 27, MOSTLY_IQ2_S = 28,
  MOSTLY_IQ2_M = 29, MOSTLY_IQ4_XS = 30, MOSTLY_IQ1_M = 31, MOSTLY_BF16 = 32, MOSTLY_TQ1_0 = 36,
  MOSTLY_TQ2_0 = 37, MOSTLY_MXFP4_MOE = 38,
};

struct GgufFtypeInfo {
  GgufFtype id;
  std::string_view name;  // llama-quantize's name: "Q4_K_M"
  GgmlType default_type;  // llama_ftype_get_default_type
};
// One row per ftype llama-quantize offers (without Q1_0/Q2_0, whose types are fork-specific,
// and COPY), in llama-quantize's order.
std::span<const GgufFtypeInfo> gguf_ftypes();
// Case-insensitive; the aliases Q3_K, Q4_K, Q5_K name Q3_K_M, Q4_K_M, Q5_K_M. UserError listing
// the valid names otherwise.
GgufFtypeInfo parse_gguf_ftype(std::string_view name);

struct GgufMixTensor {
  std::string name;              // GGUF name: "blk.0.attn_v.weight"
  std::vector<int64_t> ne;       // ggml order: ne[0] is the row length
  GgmlType type;                 // the stored type (F32 for norms and 1-D tensors)
  std::vector<std::string> hf_modules;  // HF module paths lowbit patterns match (empty: none)
};

struct GgufMixModel {
  std::string arch;  // GGUF arch: "llama", "qwen2", "qwen3"
  int64_t n_layer = 0, n_head = 0, n_head_kv = 0, n_expert = 0;
  std::vector<GgufMixTensor> tensors;  // any order
};

// The tensors convert_hf_to_gguf.py writes for `a` with `--outtype matrix_type` (F32, F16 or
// BF16): 1-D tensors and norms F32, the other weights matrix_type; with their HF module paths.
GgufMixModel gguf_mix_model(const model::Architecture& a, GgmlType matrix_type);

struct GgufTypeOverride {
  std::string pattern;  // as given (llama.cpp's are lowercased when matched)
  GgmlType type;
  bool lowbit_syntax() const;  // starts with "re:" or "model.", or is "lm_head"
};
// "PATTERN=TYPE", split at the last '='; TYPE is a ggml type name, any case ("q8_0", "Q6_K").
GgufTypeOverride parse_gguf_tensor_type(const std::string& spec);

struct GgufMixOptions {
  bool has_imatrix = false;          // llama-quantize --imatrix (changes Q4_0/Q5_0/IQ3_XXS/IQ4 rules)
  bool pure = false;                 // --pure: the default type everywhere (then the fallback)
  bool leave_output_tensor = false;  // --leave-output-tensor
  std::optional<GgmlType> output_type;           // --output-tensor-type
  std::optional<GgmlType> token_embedding_type;  // --token-embedding-type
  std::vector<GgufTypeOverride> tensor_types;    // --tensor-type, in order
  std::vector<std::string> ignore;               // lowbit ignore entries
};

struct GgufTensorType {
  std::string name;  // GGUF name, in the model's order
  GgmlType type;
  bool requires_imatrix = false;  // llama-quantize refuses this tensor's type without an imatrix
};

struct GgufMix {
  GgufFtypeInfo ftype;
  std::vector<GgufTensorType> tensors;  // the model's order
  std::vector<std::string> notes;       // fallbacks, patterns that matched nothing
  bool requires_imatrix() const;
};

// UserError for an arch gguf_names does not map, a tensor with no shape, or a type with no
// fallback (llama-quantize's "no tensor type fallback is defined").
GgufMix choose_gguf_types(const GgufMixModel& model, const GgufFtypeInfo& ftype, const GgufMixOptions& options);

}  // namespace lowbit::quant
