// libFuzzer: the chat-template engine on arbitrary bytes. The input is split at the first
// NUL: before it a template, after it JSON variables (if they parse). Parsing and
// rendering either succeed or raise UserError; tight limits keep each run short.
#include <cstdint>
#include <string>

#include "chat/template.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string src = all.substr(0, nul), vars = nul == std::string::npos ? "" : all.substr(nul + 1);
  try {
    lowbit::chat::Variables v;
    const auto j = nlohmann::ordered_json::parse(vars, nullptr, false);
    if (j.is_object())
      for (const auto& [k, x] : j.items()) v.emplace_back(k, lowbit::chat::Value::from_json(x));
    lowbit::chat::Template t(src, "fuzz");
    lowbit::chat::RenderLimits limits;
    limits.max_steps = 20000;
    limits.max_output = 1 << 20;
    limits.max_call_depth = 50;
    (void)t.render(v, limits);
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
