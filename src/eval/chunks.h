// How a token stream becomes the sequences a model is scored on (shared by perplexity,
// --save-logits and calibration): non-overlapping chunks of ctx tokens, the tail that does
// not fill one dropped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::eval {

enum class Protocol {
  LlamaCpp,  // llama.cpp's perplexity: first token -> BOS (if the model adds one), score the second half
  Paper,     // GPTQ/AWQ papers: the windows as they are, every next-token prediction scored
};

std::string to_string(Protocol p);  // "llama.cpp" | "paper"
Protocol parse_protocol(const std::string& name);  // UserError if unknown

struct Chunks {
  int64_t ctx = 0;
  int64_t first = 0;  // first scored row: row i predicts token i + 1, rows [first, ctx - 1) are scored
  std::vector<std::vector<int32_t>> tokens;  // each chunk as the model runs it
  int64_t count() const { return int64_t(tokens.size()); }
  int64_t rows() const { return ctx - 1 - first; }
};

// `bos` >= 0 replaces each chunk's first token (llama.cpp protocol only); `limit` > 0 keeps the
// first `limit` chunks. UserError for ctx < 16 or a text shorter than one chunk.
Chunks make_chunks(const std::vector<int32_t>& tokens, int64_t ctx, Protocol protocol, int32_t bos, int64_t limit);

}  // namespace lowbit::eval
