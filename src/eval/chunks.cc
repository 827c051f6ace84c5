#include "eval/chunks.h"

#include <algorithm>

#include "core/error.h"

namespace lowbit::eval {

std::string to_string(Protocol p) { return p == Protocol::Paper ? "paper" : "llama.cpp"; }

Protocol parse_protocol(const std::string& name) {
  if (name == "llama.cpp") return Protocol::LlamaCpp;
  if (name == "paper") return Protocol::Paper;
  throw UserError("unknown protocol '" + name + "' (llama.cpp, paper)");
}

Chunks make_chunks(const std::vector<int32_t>& tokens, int64_t ctx, Protocol protocol, int32_t bos, int64_t limit) {
  if (ctx < 16) throw UserError("--ctx must be at least 16");
  int64_t n = int64_t(tokens.size()) / ctx;
  if (n == 0)
    throw UserError("the text has " + std::to_string(tokens.size()) + " tokens, fewer than one context of " +
                    std::to_string(ctx));
  if (limit > 0) n = std::min(n, limit);
  Chunks c;
  c.ctx = ctx;
  c.first = protocol == Protocol::LlamaCpp ? ctx / 2 : 0;
  for (int64_t i = 0; i < n; ++i) {
    c.tokens.emplace_back(tokens.begin() + i * ctx, tokens.begin() + (i + 1) * ctx);
    if (protocol == Protocol::LlamaCpp && bos >= 0) c.tokens.back()[0] = bos;
  }
  return c;
}

}  // namespace lowbit::eval
