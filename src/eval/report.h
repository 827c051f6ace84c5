// The report of an evaluation run, as text for a terminal and as JSON for machines.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/chunks.h"
#include "eval/perplexity.h"

namespace lowbit::eval {

struct EvalReport {
  std::string model, text, base;  // base: the base model or --base-logits file ("" if none)
  int64_t text_tokens = 0, ctx = 0;
  Protocol protocol = Protocol::LlamaCpp;
  bool bos = false;
  EvalResult result;
};

std::string to_text(const EvalReport& r);
nlohmann::json to_json(const EvalReport& r);

}  // namespace lowbit::eval
