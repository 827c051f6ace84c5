// Reading tokenizer.json fields: integers are checked, never converted from floats.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace lowbit::tokenizer {

// A JSON integer in [lo, hi]; anything else (floats, huge values) is a UserError, never a
// float-to-int conversion (undefined behaviour, found by fuzz_tokenizer).
int32_t json_int(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& what);

// A tokenizers pattern ({"Regex": ...} or a literal {"String": ...}) as a regex.
std::string regex_of(const nlohmann::json& pattern);

}  // namespace lowbit::tokenizer
