// Unicode string operations as Python's str does them, on UTF-8 text: templates index,
// slice, strip and split by code point, and "whitespace" is Python's (NBSP and U+3000
// included), so a template renders here as it does in Jinja.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::chat::text {

// `utf8` must be valid (template sources and JSON input are validated on the way in).
std::u32string decode(std::string_view utf8);
std::string encode(std::u32string_view cps);
size_t length(std::string_view utf8);  // in code points

bool is_space(char32_t c);      // str.isspace
bool is_printable(char32_t c);  // str.isprintable (what repr() leaves unescaped)
bool is_alpha(char32_t c);
bool is_decimal(char32_t c);
bool is_numeric(char32_t c);
bool is_cased(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);

// Simple (one-to-one) case mappings: Python's full mappings differ for a few characters
// (German sharp s, ligatures), which chat templates do not case-convert.
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);       // str.title
std::string capitalize(std::string_view s);  // str.capitalize
std::string swapcase(std::string_view s);

// str.strip / lstrip / rstrip; `chars` null strips whitespace.
std::string strip(std::string_view s, const std::u32string* chars, bool left, bool right);
// str.split / rsplit; an empty `sep` means split on runs of whitespace (sep=None).
std::vector<std::string> split(std::string_view s, std::string_view sep, bool whitespace, int64_t maxsplit,
                               bool from_right);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);

// Code-point index of the byte offset `byte` (which must start a code point).
int64_t cp_index(std::string_view s, size_t byte);
// Byte offset of code point `cp` (clamped to the end).
size_t byte_offset(std::string_view s, int64_t cp);

}  // namespace lowbit::chat::text
