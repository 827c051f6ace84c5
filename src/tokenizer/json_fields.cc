#include "tokenizer/json_fields.h"

#include <algorithm>

#include "core/error.h"

namespace lowbit::tokenizer {

int32_t json_int(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& what) {
  if (!v.is_number_integer()) throw UserError("tokenizer.json: " + what + " is not an integer");
  const int64_t x = v.is_number_unsigned() ? int64_t(std::min<uint64_t>(v.get<uint64_t>(), uint64_t(INT64_MAX)))
                                           : v.get<int64_t>();
  if (x < lo || x > hi) throw UserError("tokenizer.json: " + what + " " + std::to_string(x) + " is out of range");
  return int32_t(x);
}

std::string regex_of(const nlohmann::json& pattern) {
  if (pattern.contains("Regex")) return pattern["Regex"].get<std::string>();
  std::string re;
  for (char c : pattern.at("String").get<std::string>()) {  // literal
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
    re += c;
  }
  return re;
}

}  // namespace lowbit::tokenizer
