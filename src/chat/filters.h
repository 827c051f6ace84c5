// Jinja's built-in filters that chat templates use, with transformers' tojson
// (json.dumps with ensure_ascii=False, indent, separators, sort_keys). Filters Jinja has
// but lowbit does not are known by name, so the error says so instead of "no filter".
#pragma once
#include <string>

#include "chat/value.h"

namespace lowbit::chat {

struct FilterFn {
  const char* name;
  Value (*fn)(Renderer& r, const Value& input, const CallArgs& args);
};

const FilterFn* find_filter(const std::string& name);  // null if lowbit has no such filter
bool is_jinja_filter(const std::string& name);         // a Jinja filter lowbit lacks

}  // namespace lowbit::chat
