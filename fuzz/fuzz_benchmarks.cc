// libFuzzer: the benchmark readers of ARC's JSONL and MMLU's CSV on arbitrary bytes (the first byte
// picks the reader). Any input must either raise UserError or give tasks each with a gold answer
// among its choices: ARC 2 or more choices and a "Question: ...\nAnswer:" prompt, MMLU 4 choices.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "eval/benchmarks.h"

using namespace lowbit::eval;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] & 1) {
      for (const McTask& t : parse_arc_jsonl(text, "fuzz")) {
        if (t.choices.size() < 2 || t.gold < 0 || size_t(t.gold) >= t.choices.size()) std::abort();
        if (t.context.rfind("Question: ", 0) != 0 || !t.context.ends_with("\nAnswer:")) std::abort();
      }
    } else {
      const auto qs = parse_mmlu_csv(text, "fuzz");
      if (qs.empty()) std::abort();
      for (const MmluQuestion& q : qs) {
        if (q.answer < 0 || q.answer > 3) std::abort();
        if (!mmlu_prompt("a_b", {q}, q).ends_with("\nAnswer:")) std::abort();
      }
    }
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
