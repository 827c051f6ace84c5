// Small string helpers shared by the parsers.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <string>

namespace lowbit {

inline std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

inline std::string to_upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return s;
}

// Appends printf-formatted text to `out`: at most N - 1 bytes of it, as snprintf into a char[N].
template <size_t N = 1024, class... Args>
void appendf(std::string& out, const char* fmt, Args... args) {
  char buf[N];
  std::snprintf(buf, sizeof buf, fmt, args...);
  out += buf;
}

}  // namespace lowbit
