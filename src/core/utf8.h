// UTF-8 helpers shared by the tokenizer and the recipe/config parsers.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code
// points past U+10FFFF count as invalid), or -1 if `s` is valid.
int64_t first_invalid_utf8(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s) < 0; }

// Appends code point `cp` encoded as UTF-8.
void append_utf8(std::string& s, uint32_t cp);

// Splits text into code-point strings (an invalid byte becomes a one-byte string).
std::vector<std::string> utf8_chars(const std::string& s);

}  // namespace lowbit
