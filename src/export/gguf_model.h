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

// A GGUF matrix as the engine's Linear: rows [r0, r1) decoded from the mapped blocks when a
// tile asks for them (ggml's decoder, row by row), as engine::QuantizedLinear does for
// compressed-tensors, so no float32 copy of the matrix is ever held. With rope_heads > 0
// (llama's Q/K), HF row s*half + j of a head of d rows is read from GGUF row 2j + s of that
// head: the same values, in the same order, as gguf_param_f32 gives.
class GgufLinear : public engine::Linear {
 public:
  // `data` (the tensor's bytes, out rows of in values) must outlive this; UserError for a type
  // lowbit does not decode, a row that is not whole blocks, or heads that do not split the rows.
  GgufLinear(const uint8_t* data, GgmlType type, int64_t in, int64_t out, int64_t rope_heads = 0);
  void rows_f32(int64_t r0, int64_t r1, float* dst) const override;

 private:
  int64_t file_row(int64_t r) const;  // the GGUF row holding HF row r
  const uint8_t* data_;
  void (*dequantize_)(const uint8_t*, float*, int64_t);
  uint64_t row_bytes_;
  int64_t head_rows_ = 0;  // > 0: rows per RoPE head to un-permute
};

// The engine's weights straight from a GGUF file. Linears are GgufLinear (quantized types, and
// any type with llama's Q/K permutation) or DenseLinear over the map (F32, F16, BF16): rows are
// decoded tile by tile, never the whole model in float32. Modules that are not Linears (norms,
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
