// A Hugging Face checkpoint (dense, or compressed-tensors: pipeline/gguf_from_compressed.h)
// -> one GGUF file for llama.cpp, streamed tensor by tensor: the
// names and metadata llama.cpp's converter writes, the per-tensor types of llama-quantize's
// mix for the ftype (model/gguf_names.h, quant/gguf_mix.h), each weight read from the memory
// map, widened to float32 (Q/K rows permuted for the llama arch, as the converter does) and
// encoded by ggml's own algorithms (numerics/ggml_quants.h), with an importance matrix when one
// is given. Without one, the bytes are those llama-quantize writes from the same weights.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/progress.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "pipeline/stream.h"
#include "pipeline/weight_quantizer.h"
#include "quant/gguf_mix.h"

namespace lowbit::pipeline {

struct GgufExportOptions {
  std::filesystem::path output;
  bool overwrite = false;
  std::string ftype = "Q4_K_M";  // llama-quantize's name
  quant::GgufMixOptions mix;     // --tensor-type, --ignore, --pure, output / token-embedding types
  std::string pre_tokenizer;     // tokenizer.ggml.pre; empty: detected
  // Importance per GGUF weight name (E[x^2] per input channel, as llama-imatrix stores it); a
  // weight without an entry is encoded without one.
  std::map<std::string, std::vector<float>> imatrix;
  // Where it came from, written as llama-quantize writes it: quantize.imatrix.file and .dataset
  // (str, the first dataset, each cut to 127 bytes), .entries_count (u32: every entry, used or
  // not), .chunks_count (u32, when > 0). Nothing is written without an imatrix.
  std::string imatrix_file;
  std::vector<std::string> imatrix_datasets;
  uint32_t imatrix_chunks = 0;
  ProgressMode progress = ProgressMode::Auto;
  // GPTQ onto the GGUF types (a SequentialCalibration told gguf_gptq_targets()): each of those
  // Linears is asked for, in order, and its blocks are written as they are. Null: every tensor
  // is quantized here by ggml's search.
  WeightQuantizer* calibrated = nullptr;
  std::map<std::string, GgmlType> calibrated_types;  // module path -> type, as the calibrator was told
};

struct GgufExportSummary {
  QuantizeSummary sizes;
  std::map<std::string, int> tensors_per_type;  // "q4_K" -> count
  std::vector<std::string> notes;               // the mix's fallbacks
  // From a compressed-tensors source: quantized modules whose codes and scales went into the
  // GGUF blocks unchanged, and those decoded and quantized again (the grids differ).
  int kept_codes = 0, re_rounded = 0;
  int calibrated = 0;  // Linears whose blocks came from the calibrator (GPTQ); their errors in sizes.errors
  int64_t rounded_offsets = 0;  // Q4_1 blocks whose offset was rounded to FP16 (codes kept)
};

// The mix alone (what --dry-run prints): GGUF name, shape and type of every tensor.
quant::GgufMix plan_gguf(const io::ModelDir& in, const model::Architecture& arch, const GgufExportOptions& opts);

// The Linears GPTQ can quantize onto their mix type (every type with per-block levels: the
// k-quants, the legacy types, IQ4_NL, IQ4_XS), module path -> type; the rest (norms, the token
// embedding, F16/BF16/MXFP4 tensors) are written as export_gguf always writes them.
std::map<std::string, GgmlType> gguf_gptq_targets(const io::ModelDir& in, const model::Architecture& arch,
                                                  const GgufExportOptions& opts);

GgufExportSummary export_gguf(const io::ModelDir& in, const model::Architecture& arch, const GgufExportOptions& opts);

// llama.cpp rotates adjacent pairs where Hugging Face Llama rotates halves: the converter
// reorders each head's rows of q_proj / k_proj (new row h*d + 2j + s = old row h*d + s*d/2 + j).
// `rows` x `cols` float32, in place; heads = n_head for q, n_head_kv for k.
void permute_rope_rows(float* w, int64_t rows, int64_t cols, int64_t heads);
// The same on rows of `row_bytes` bytes (rows of ggml blocks: a row's blocks move with it).
void permute_rope_rows_bytes(uint8_t* w, int64_t rows, uint64_t row_bytes, int64_t heads);

// Llama-3.1-style rope scaling as the converter writes it: rope_freqs.weight, head_dim/2
// factors (1 for short wavelengths, `factor` for long, smoothed between).
std::vector<float> llama3_rope_factors(const model::Architecture& arch);

}  // namespace lowbit::pipeline
