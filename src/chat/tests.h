// Jinja's tests (`x is defined`, `x is string`, `x is divisibleby 3`, ...): all of
// Jinja's built-in tests are here.
#pragma once
#include <string>

#include "chat/value.h"

namespace lowbit::chat {

struct TestFn {
  const char* name;
  bool (*fn)(Renderer& r, const Value& input, const CallArgs& args);
};

const TestFn* find_test(const std::string& name);
bool is_jinja_test(const std::string& name);

}  // namespace lowbit::chat
