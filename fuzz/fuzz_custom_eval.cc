// libFuzzer: the custom-eval prompt file (`lowbit eval --prompts`) on arbitrary bytes. Any input must
// either raise UserError or give prompts that each have exactly one of a prompt text and chat
// messages, a unique id, max_tokens in 1..4096, an answer among its choices, and checks that run on
// any output (a regex that compiled at parse time, on text that may not be UTF-8).
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "core/error.h"
#include "eval/custom_eval.h"

using namespace lowbit::eval;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto prompts = parse_custom_prompts(text, "fuzz");
    if (prompts.empty()) std::abort();
    std::set<std::string> ids;
    for (const CustomPrompt& p : prompts) {
      if (p.prompt.empty() == !p.is_chat()) std::abort();
      if (!ids.insert(p.id).second) std::abort();
      if (p.max_tokens < 1 || p.max_tokens > 4096) std::abort();
      if (!p.choices.empty() && (p.answer < 0 || size_t(p.answer) >= p.choices.size())) std::abort();
      if (p.choices.empty() != (p.answer < 0)) std::abort();
      if (p.check_descriptions().empty() == p.has_checks()) std::abort();
      const int pick = p.choices.empty() ? -1 : p.answer;
      const auto pass = check_output(p, p.expected ? *p.expected : text, pick);
      if (pass.has_value() != p.has_checks()) std::abort();
      if (p.expected && p.contains.empty() && !p.regex && strip(*p.expected) == *p.expected && !*pass) std::abort();
    }
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
