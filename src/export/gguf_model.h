// A GGUF model file (llama, qwen2, qwen3) read back as the Hugging Face model it was made
// from: config.json, tokenizer.json, tokenizer_config.json and generation_config.json rebuilt
// from the metadata, and every parameter under its Hugging Face name, dequantized to float32
// with llama's Q/K rows un-permuted. `lowbit convert` writes these as a folder; the engine
// runs on them directly (GgufWeights), so both read a GGUF the same way.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/weight_source.h"
#include "io/gguf.h"
#include "model/architecture.h"

namespace lowbit::exporter {

struct GgufHfModel {
  std::string gguf_arch;  // general.architecture: "llama", "qwen2" or "qwen3"
  nlohmann::json config, tokenizer, tokenizer_config, generation_config;
};

// UserError (naming the file and the key) for another architecture, a missing or mistyped
// key, a tokenizer other than gpt2-style byte-level BPE, a pre-tokenizer lowbit does not know,
// or RoPE scaling it cannot express. `torch_dtype` goes into config.json.
GgufHfModel gguf_hf_model(const io::GgufFile& f, const std::string& torch_dtype = "bfloat16");

// One Hugging Face parameter and the GGUF tensor that holds it.
struct GgufParam {
  std::string hf;                           // "model.layers.0.self_attn.q_proj.weight"
  const io::GgufTensorInfo* tensor = nullptr;
  std::vector<int64_t> shape;               // HF shape
  int64_t rope_heads = 0;                   // > 0: llama's Q/K rows to un-permute in this many heads
};

// Every parameter of `arch` (in its order), with its tensor checked for shape; a tied head has
// none (the embedding serves it). UserError for a missing tensor or one with no HF name.
std::vector<GgufParam> gguf_params(const io::GgufFile& f, const std::string& gguf_arch,
                                   const model::Architecture& arch);

// The parameter's values as float32 in HF row order (ggml's decoder, then the un-permutation).
std::vector<float> gguf_param_f32(const io::GgufFile& f, const GgufParam& p);

// The inverse of the converter's Q/K permutation: rows of each head back from interleaved
// pairs (2j, 2j+1) to halves (j, half + j). Exposed for tests.
void unpermute_rope_rows(float* w, int64_t rows, int64_t cols, int64_t heads);

// The engine's weights straight from a GGUF file: F32 and BF16 tensors from the memory map,
// every other type dequantized to float32 when its module is asked for (a layer at a time
// with Residency::OneLayer) and dropped on release().
class GgufWeights : public engine::WeightSource {
 public:
  // `f` must outlive this.
  GgufWeights(const io::GgufFile& f, const std::string& gguf_arch, const model::Architecture& arch);
  engine::TensorView dense_weight(const model::Module& m) const override;
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override;
  void release(const model::Module& m) const override;

 private:
  engine::TensorView view(const std::string& hf_name) const;
  const io::GgufFile& f_;
  std::map<std::string, GgufParam> params_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::vector<float>> decoded_;  // hf name -> values
};

}  // namespace lowbit::exporter
