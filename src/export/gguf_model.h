// A GGUF model file (llama, qwen2, qwen3) read back as the Hugging Face model it was made
// from: config.json, tokenizer.json, tokenizer_config.json and generation_config.json rebuilt
// from the metadata, and every parameter under its Hugging Face name, dequantized to float32
// with llama's Q/K rows un-permuted. `lowbit convert` writes these as a folder; the engine
// runs on them directly (GgufWeights, its Linears decoding tiles from the map), so both read a
// GGUF the same way.
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

// llama's Q/K matrices as the converter stored them: HF row s*half + j of a head of d rows lies
// at row 2j + s of that head. A Linear over the stored rows (engine::GgmlLinear on the mapped
// blocks, or a DenseLinear) read through that map, row by row: the same values, in the same
// order, as gguf_param_f32 gives, with no float32 copy.
class RopeRowsLinear : public engine::Linear {
 public:
  // UserError when `heads` does not split the rows into heads of even size.
  RopeRowsLinear(std::unique_ptr<engine::Linear> stored, int64_t heads);
  void rows_f32(int64_t r0, int64_t r1, float* dst) const override;

 private:
  int64_t stored_row(int64_t r) const;  // the stored row holding HF row r
  std::unique_ptr<engine::Linear> stored_;
  int64_t head_rows_;
};

// The engine's weights straight from a GGUF file. Linears are engine::GgmlLinear over the mapped
// blocks (quantized types) or DenseLinear over the map (F32, F16, BF16), through RopeRowsLinear
// for llama's Q/K: rows are decoded tile by tile, never the whole model in float32. Modules that are not Linears (norms,
// the token embedding) are served from the map when F32, F16 or BF16 and otherwise decoded to
// float32 when asked for, and dropped on release(): the engine reads them through a TensorView
// of a core DType, which no GGUF block type is. That leaves one float32 copy of a quantized
// token embedding (vocab x hidden); a tied lm_head decodes its own tiles from the same bytes.
class GgufWeights : public engine::WeightSource {
 public:
  // `f` must outlive this.
  GgufWeights(const io::GgufFile& f, const std::string& gguf_arch, const model::Architecture& arch);
  engine::TensorView dense_weight(const model::Module& m) const override;
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override;
  void release(const model::Module& m) const override;
  // Bytes of float32 copies held now (decoded non-Linear tensors). Exposed for tests.
  size_t decoded_bytes() const;

 private:
  const GgufParam& param(const std::string& hf_name) const;
  engine::TensorView view(const std::string& hf_name) const;
  const io::GgufFile& f_;
  std::map<std::string, GgufParam> params_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::vector<float>> decoded_;  // hf name -> values
};

}  // namespace lowbit::exporter
