// Base-model log-probabilities of the scored positions, saved once (`lowbit eval BASE
// --save-logits F`) and reused for KL divergence (`lowbit eval QUANT --base-logits F`)
// without loading the base model again, as llama.cpp's --kl-divergence-base does.
//
// Layout, little-endian:
//   "LBLOGPRB", u32 version (1), u32 ctx, u32 vocab, u32 chunks, u32 first
//   i32 tokens[chunks * ctx]            the chunks as evaluated (BOS included), to catch a
//                                       different text, tokenizer or --ctx
//   per chunk, per scored row (ctx - 1 - first of them):
//     f32 max_logprob, f32 next_logprob (exact), u32 argmax, u16 q[vocab]
//   with logprob[v] = max_logprob - q[v] * kStep, clipped kRange nats below the maximum
//   (max error kStep / 2 = 1.8e-4 nats; clipped tokens have p < 4e-11 of the top one).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "io/file_util.h"

namespace lowbit::eval {

struct LogProbHeader {
  uint32_t ctx = 0, vocab = 0, chunks = 0, first = 0;
  uint32_t rows_per_chunk() const { return ctx - 1 - first; }
};

// Written to `path`.tmp and renamed into place by commit(); removed if never committed.
class LogProbWriter {
 public:
  LogProbWriter(const std::filesystem::path& path, const LogProbHeader& h, const std::vector<int32_t>& tokens);
  ~LogProbWriter();
  // One row: log-probs (vocab doubles) and the id of the token that came next, encoded into
  // row_bytes(vocab) bytes at `out` (thread-safe), then written in order by write_rows.
  static size_t row_bytes(uint32_t vocab) { return 12 + size_t(vocab) * 2; }
  static void encode_row(const double* logprobs, uint32_t vocab, int32_t next, uint8_t* out);
  void write_rows(const uint8_t* rows, size_t n);
  void commit();
  static constexpr double kRange = 24.0, kStep = kRange / 65535.0;

 private:
  std::filesystem::path path_, tmp_;
  std::unique_ptr<io::FileWriter> out_;
  LogProbHeader h_;
  uint64_t rows_ = 0;
  bool committed_ = false;
};

class LogProbReader {
 public:
  explicit LogProbReader(const std::filesystem::path& path);  // validates; throws UserError
  const LogProbHeader& header() const { return h_; }
  const int32_t* chunk_tokens(uint32_t chunk) const;
  // Row `row` of chunk `chunk` decoded into `out` (vocab log-probs); returns next_logprob
  // and sets `argmax`.
  double row(uint32_t chunk, uint32_t row, std::vector<double>& out, uint32_t& argmax) const;

 private:
  io::MappedFile file_;
  LogProbHeader h_;
  size_t tokens_offset_ = 0, rows_offset_ = 0, row_bytes_ = 0;
};

}  // namespace lowbit::eval
