// A Jinja template as transformers renders chat templates: its environment
// (trim_blocks, lstrip_blocks, loopcontrols, the immutable sandbox) and its globals
// (raise_exception, strftime_now, namespace, dict, range). Parsed once, rendered many times.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/renderer.h"
#include "chat/value.h"

namespace lowbit::chat {

using Variables = std::vector<std::pair<std::string, Value>>;

class Template {
 public:
  // `label` names the template in errors ("model/chat_template.jinja"). UserError
  // "<label> line N: ..." for a syntax error or an unsupported construct.
  Template(std::string_view source, std::string label);

  // UserError "<label> line N: ..." when rendering fails; for the template's own
  // raise_exception(msg) the message is "... line N: the template raised an error: msg".
  std::string render(const Variables& vars, const RenderLimits& limits = {}) const;
  const std::string& label() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace lowbit::chat
