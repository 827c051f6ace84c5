// Shared by the chat unit tests: render a template source with JSON variables, or get
// the UserError message it fails with.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "chat/template.h"
#include "core/error.h"

namespace lowbit::chat::testing {

inline Variables vars_from(const std::string& json) {
  Variables v;
  const auto j = nlohmann::ordered_json::parse(json);
  for (const auto& [k, x] : j.items()) v.emplace_back(k, Value::from_json(x));
  return v;
}

inline std::string render(const std::string& src, const std::string& json_vars = "{}") {
  return Template(src, "t").render(vars_from(json_vars));
}

// The error message, or "" (and a test failure) if it renders.
inline std::string error_of(const std::string& src, const std::string& json_vars = "{}",
                            const RenderLimits& limits = {}) {
  try {
    Template(src, "t").render(vars_from(json_vars), limits);
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error from: " << src;
  return "";
}

}  // namespace lowbit::chat::testing
