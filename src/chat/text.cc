#include "chat/text.h"

#include <utf8proc.h>

#include <algorithm>

#include "core/utf8.h"

namespace lowbit::chat::text {

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t i = 0, n = utf8proc_ssize_t(s.size());
  while (i < n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len <= 0) {  // not reached with validated input; keep the byte rather than loop
      cp = 0xFFFD;
      len = 1;
    }
    out += char32_t(cp);
    i += len;
  }
  return out;
}

std::string encode(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t c : cps) append_utf8(out, uint32_t(c));
  return out;
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool is_space(char32_t c) {
  // Python's whitespace: bidirectional classes WS, B, S, or category Zs.
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {
utf8proc_category_t category(char32_t c) { return utf8proc_category(utf8proc_int32_t(c)); }
}  // namespace

bool is_printable(char32_t c) {
  if (c == ' ') return true;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

bool is_alpha(char32_t c) {
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}
bool is_decimal(char32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; }
bool is_numeric(char32_t c) {
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}
bool is_cased(char32_t c) {
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}
bool is_upper(char32_t c) { return category(c) == UTF8PROC_CATEGORY_LU || category(c) == UTF8PROC_CATEGORY_LT; }
bool is_lower(char32_t c) { return category(c) == UTF8PROC_CATEGORY_LL; }

namespace {
char32_t up(char32_t c) { return char32_t(utf8proc_toupper(utf8proc_int32_t(c))); }
char32_t down(char32_t c) { return char32_t(utf8proc_tolower(utf8proc_int32_t(c))); }
char32_t titled(char32_t c) { return char32_t(utf8proc_totitle(utf8proc_int32_t(c))); }

template <class F>
std::string map_chars(std::string_view s, F f) {
  std::u32string cps = decode(s);
  for (char32_t& c : cps) c = f(c);
  return encode(cps);
}
}  // namespace

std::string upper(std::string_view s) { return map_chars(s, up); }
std::string lower(std::string_view s) { return map_chars(s, down); }
std::string swapcase(std::string_view s) {
  return map_chars(s, [](char32_t c) { return is_upper(c) ? down(c) : is_lower(c) ? up(c) : c; });
}

std::string title(std::string_view s) {
  std::u32string cps = decode(s);
  bool prev_cased = false;
  for (char32_t& c : cps) {
    c = prev_cased ? down(c) : titled(c);
    prev_cased = is_cased(c);
  }
  return encode(cps);
}

std::string capitalize(std::string_view s) {
  std::u32string cps = decode(s);
  for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? titled(cps[i]) : down(cps[i]);
  return encode(cps);
}

std::string strip(std::string_view s, const std::u32string* chars, bool left, bool right) {
  const std::u32string cps = decode(s);
  auto drop = [&](char32_t c) { return chars ? chars->find(c) != std::u32string::npos : is_space(c); };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && drop(cps[b])) ++b;
  if (right)
    while (e > b && drop(cps[e - 1])) --e;
  return encode(std::u32string_view(cps).substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, std::string_view sep, bool whitespace, int64_t maxsplit,
                               bool from_right) {
  std::vector<std::string> out;
  if (whitespace) {
    // Runs of whitespace separate; leading and trailing runs give no empty fields.
    const std::u32string cps = decode(s);
    std::vector<std::pair<size_t, size_t>> fields;
    if (!from_right) {
      size_t i = 0;
      while (i < cps.size()) {
        while (i < cps.size() && is_space(cps[i])) ++i;
        if (i == cps.size()) break;
        if (maxsplit >= 0 && int64_t(fields.size()) == maxsplit) {
          fields.push_back({i, cps.size()});  // the rest, trailing whitespace kept
          break;
        }
        size_t j = i;
        while (j < cps.size() && !is_space(cps[j])) ++j;
        fields.push_back({i, j});
        i = j;
      }
    } else {
      size_t i = cps.size();
      while (i > 0) {
        while (i > 0 && is_space(cps[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && int64_t(fields.size()) == maxsplit) {
          fields.push_back({0, i});  // the rest, leading whitespace kept
          break;
        }
        size_t j = i;
        while (j > 0 && !is_space(cps[j - 1])) --j;
        fields.push_back({j, i});
        i = j;
      }
      std::reverse(fields.begin(), fields.end());
    }
    for (auto [b, e] : fields) out.push_back(encode(std::u32string_view(cps).substr(b, e - b)));
    return out;
  }
  // A separator: UTF-8 is self-synchronising, so byte search finds exactly the code-point matches.
  if (!from_right) {
    size_t start = 0;
    for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
      const size_t at = s.find(sep, start);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(start, at - start));
      start = at + sep.size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  size_t end = s.size();
  for (int64_t n = 0; maxsplit < 0 || n < maxsplit; ++n) {
    if (end < sep.size()) break;
    const size_t at = s.rfind(sep, end - sep.size());
    if (at == std::string_view::npos) break;
    out.emplace_back(s.substr(at + sep.size(), end - at - sep.size()));
    end = at;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  const std::u32string cps = decode(s);
  auto is_break = [](char32_t c) {
    return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
           c == 0x2028 || c == 0x2029;
  };
  std::vector<std::string> out;
  size_t i = 0, start = 0;
  while (i < cps.size()) {
    if (!is_break(cps[i])) {
      ++i;
      continue;
    }
    size_t eol = i + ((cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1);
    out.push_back(encode(std::u32string_view(cps).substr(start, (keepends ? eol : i) - start)));
    start = i = eol;
  }
  if (start < cps.size()) out.push_back(encode(std::u32string_view(cps).substr(start)));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `with` before every code point and at the end.
    const std::u32string cps = decode(s);
    int64_t n = 0;
    for (char32_t c : cps) {
      if (count < 0 || n < count) {
        out += with;
        ++n;
      }
      append_utf8(out, uint32_t(c));
    }
    if (count < 0 || n < count) out += with;
    return out;
  }
  size_t start = 0;
  for (int64_t n = 0; count < 0 || n < count; ++n) {
    const size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start));
    out.append(with);
    start = at + old.size();
  }
  out.append(s.substr(start));
  return out;
}

int64_t cp_index(std::string_view s, size_t byte) { return int64_t(length(s.substr(0, byte))); }

size_t byte_offset(std::string_view s, int64_t cp) {
  size_t i = 0;
  for (int64_t n = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == cp) return i;
      ++n;
    }
  }
  return s.size();
}

}  // namespace lowbit::chat::text
