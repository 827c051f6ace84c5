// llama-imatrix's importance matrix from lowbit's own forward pass: the dense model runs every
// calibration chunk one decoder layer at a time (memory: one layer's weights and the chunks'
// float32 hidden states), and each Linear's input x adds x^2 per input channel, token after
// token, to the entry of its GGUF weight name (blk.N.attn_q.weight ...); q/k/v (and gate/up)
// read the same input and get equal entries, as llama-imatrix writes them. output.weight only
// with process_output and an untied head (llama.cpp names a tied head token_embd.weight and
// skips it); token_embd never.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/progress.h"
#include "io/imatrix_file.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::pipeline {

// --calib for an importance matrix: plain text is cut as llama-imatrix cuts it (the token
// stream, BOS first when llama.cpp adds one (llama_cpp_bos), into consecutive seq_len windows whose first token
// becomes BOS; the first `samples` of them, in order); .jsonl documents and self:N as
// calibration_data.h makes them (drawn with `seed`).
struct ImatrixDataOptions {
  std::string calib;     // a file, or self:N
  int64_t samples = 0;   // chunks to use; 0: all
  int64_t seq_len = 512;
  uint64_t seed = 42;
  std::string gguf_pre;  // tokenizer.ggml.pre, for a tokenizer the converter does not detect
  ProgressMode progress = ProgressMode::Auto;
};

struct ImatrixData {
  std::vector<std::vector<int32_t>> chunks;
  int64_t tokens = 0;
  std::string description;  // "plain text, 8 chunks of 128 tokens (of 2326), BOS first"
};

ImatrixData imatrix_data(const io::ModelDir& in, const model::Architecture& arch, const ImatrixDataOptions& o);

// The BOS llama.cpp puts before a text of this model: the converter's tokenizer.ggml.add_bos_token
// and bos_token_id as lowbit's GGUF metadata writes them; for a model with no GGUF form,
// tokenizer_config.json's add_bos_token. -1: none.
int32_t llama_cpp_bos(const io::ModelDir& in, const model::Architecture& arch, const tokenizer::Tokenizer& tok,
                      const std::string& gguf_pre = "");

// llama-imatrix's chunks of a token stream that already starts as the tokenizer starts it:
// consecutive `ctx`-token windows, the first token of each replaced by `bos` (>= 0), at most
// `limit` (> 0) of them. UserError when not one window fits.
std::vector<std::vector<int32_t>> imatrix_text_chunks(const std::vector<int32_t>& stream, int32_t bos, int64_t ctx,
                                                      int64_t limit);

struct ImatrixCollectOptions {
  bool process_output = false;  // llama-imatrix --process-output
  int64_t chunk_size = 0;       // imatrix.chunk_size to record (the --seq-len)
  std::vector<std::string> datasets;
  ProgressMode progress = ProgressMode::Auto;
};

// Sums and token counts per GGUF weight name over `chunks`. A BF16 model's Linears multiply in
// BF16 with float32 sums, as llama.cpp's CPU backend does with a BF16 GGUF; others in float32.
// UserError for an architecture llama.cpp does not load, or when an activation overflows.
io::Imatrix collect_imatrix(const io::ModelDir& in, const model::Architecture& arch,
                            const std::vector<std::vector<int32_t>>& chunks, const ImatrixCollectOptions& o);

}  // namespace lowbit::pipeline
