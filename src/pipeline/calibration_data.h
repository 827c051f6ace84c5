// Calibration samples: token sequences a model runs through while GPTQ and AWQ collect
// statistics. From plain text (cut into seq_len-token windows), or JSONL with a "text"
// field, chat "messages" or pre-tokenized "input_ids" per line (one document per sample, truncated to seq_len:
// llm-compressor's default of not truncating is a known out-of-memory trap). Messages are
// rendered by the model's chat template and tokenized as apply_chat_template(tokenize=True)
// does: no BOS added (the template writes it). Sampling is reproducible: the candidates
// are shuffled with `seed` and the first `samples` kept.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/progress.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::pipeline {

struct CalibrationOptions {
  std::filesystem::path file;  // .jsonl: one JSON object per line; anything else: plain text
  int64_t samples = 128;
  int64_t seq_len = 2048;
  uint64_t seed = 42;
  std::filesystem::path model_dir;  // whose chat template renders "messages" lines
};

struct CalibrationSet {
  std::vector<std::vector<int32_t>> samples;
  int64_t tokens = 0;         // total over the samples
  int64_t candidates = 0;     // windows or documents the samples were drawn from
  std::string sha256;         // of the data file, for recipe.yaml
  std::string description;    // "plain text, 128 x 2048 tokens from 161 windows"
};

// `bos` >= 0 is put first in every text sample (the model's tokenizer adds it). UserError for
// an empty or unreadable file, bad JSONL (line named), chat lines without a chat template in
// `model_dir` or that the template rejects (line named), or fewer tokens than one sample.
CalibrationSet load_calibration(const CalibrationOptions& opts, const tokenizer::Tokenizer& tok, int32_t bos);

// N of a "self:N" --calib, or 0 when `spec` names a file; UserError for "self:" with a bad N.
int64_t self_calibration_count(const std::string& spec);

// --calib self:N: `samples` sequences of `seq_len` tokens the model in `model_dir` writes itself,
// sampled at temperature 1 from its start token (tokenizer_config's bos_token, else config's
// bos_token_id), documents packed after each end-of-sequence token. Sample i is drawn with a
// seed derived from (`seed`, i), so the set is reproducible. For a user with no dataset: the
// statistics then follow what the model itself predicts (data-free calibration, as in LLM-QAT).
// UserError when the model declares no start token.
CalibrationSet generate_calibration(const std::filesystem::path& model_dir, int64_t samples, int64_t seq_len,
                                    uint64_t seed, ProgressMode progress);

}  // namespace lowbit::pipeline
