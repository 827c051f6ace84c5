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
  std::string text_sha256;        // of the text file's bytes ("" if not computed)
  int64_t text_tokens = 0, ctx = 0;
  Protocol protocol = Protocol::LlamaCpp;
  bool bos = false;
  EvalResult result;
};

std::string to_text(const EvalReport& r);
nlohmann::json to_json(const EvalReport& r);

// Which lowbit wrote a report, and when: {"version": "0.1.0", "date": "2026-12-07T16:00:00Z"} (UTC).
nlohmann::json run_info();

}  // namespace lowbit::eval
