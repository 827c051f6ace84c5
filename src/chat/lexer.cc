#include "chat/lexer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "chat/text.h"
#include "chat/value.h"
#include "core/utf8.h"

namespace lowbit::chat {

namespace {

// Longest first, as Jinja's operator regex tries them.
const char* const kOperators[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                  "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code point at `s[i]` and its byte length (the source is valid UTF-8).
char32_t code_point(std::string_view s, size_t i, size_t* len) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  n = std::min(n, s.size() - i);
  *len = n;
  const std::u32string one = text::decode(s.substr(i, n));
  return one.empty() ? 0 : one[0];
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;  // Jinja's \s+ needs one
  for (char32_t c : text::decode(s))
    if (!text::is_space(c)) return false;
  return true;
}

// Python's unicode-escape decoding of a string literal's body, after Jinja first turned
// non-ASCII characters into \x / \u / \U escapes (so a backslash before one is literal).
std::string unescape(std::string_view b, int line) {
  std::string out;
  size_t i = 0;
  auto hex = [&](size_t at, int digits) -> uint32_t {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k) {
      const int h = at + size_t(k) < b.size() ? hex_value(b[at + size_t(k)]) : -1;
      if (h < 0) throw Error(line, "truncated \\" + std::string(1, b[at - 1]) + " escape in a string literal");
      v = v * 16 + uint32_t(h);
    }
    return v;
  };
  auto code = [&](uint32_t cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) throw Error(line, "a lone surrogate escape in a string literal cannot be rendered");
    if (cp > 0x10FFFF) throw Error(line, "illegal Unicode character escape in a string literal");
    append_utf8(out, cp);
  };
  while (i < b.size()) {
    if (b[i] != '\\' || i + 1 == b.size()) {
      out += b[i++];
      continue;
    }
    const char d = b[i + 1];
    if (static_cast<unsigned char>(d) >= 0x80) {
      size_t len;
      const char32_t cp = code_point(b, i + 1, &len);
      char buf[16];
      std::snprintf(buf, sizeof buf, cp < 0x100 ? "\\x%02x" : cp < 0x10000 ? "\\u%04x" : "\\U%08x", unsigned(cp));
      out += buf;
      i += 1 + len;
      continue;
    }
    i += 2;
    switch (d) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': code(hex(i, 2)); i += 2; break;
      case 'u': code(hex(i, 4)); i += 4; break;
      case 'U': code(hex(i, 8)); i += 8; break;
      case 'N': throw Error(line, "\\N{...} escapes in string literals are not supported");
      default:
        if (d >= '0' && d <= '7') {
          uint32_t v = uint32_t(d - '0');
          for (int k = 0; k < 2 && i < b.size() && b[i] >= '0' && b[i] <= '7'; ++k) v = v * 8 + uint32_t(b[i++] - '0');
          code(v);
        } else {
          out += '\\';  // unknown escapes stay as written
          i -= 1;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) root();
    push(Tok::Eof, "");
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw Error(line_, msg); }

  void push(Tok t, std::string text, int line = 0) {
    Token k;
    k.type = t;
    k.text = std::move(text);
    k.line = line ? line : line_;
    out_.push_back(std::move(k));
  }

  // Moves to `to`, counting lines.
  void advance(size_t to) {
    for (; pos_ < to; ++pos_) line_ += s_[pos_] == '\n';
  }
  bool at(std::string_view lit) const { return s_.compare(pos_, lit.size(), lit) == 0; }
  void skip_whitespace() {
    while (pos_ < s_.size()) {
      size_t len;
      if (!text::is_space(code_point(s_, pos_, &len))) break;
      advance(pos_ + len);
    }
  }

  // Text before a tag: `-` strips all whitespace; otherwise lstrip_blocks drops a block or
  // comment tag's indentation when only whitespace stands between it and the line start.
  std::string before_tag(std::string_view text, char sign, bool block_or_comment) const {
    if (sign == '-') return text::strip(text, nullptr, false, true);
    if (sign != '+' && block_or_comment) {
      const size_t nl = text.rfind('\n');
      const size_t l = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l > 0 || line_starting_) && all_space(text.substr(l))) return std::string(text.substr(0, l));
    }
    return std::string(text);
  }

  void emit_data(std::string_view text, char sign, bool block_or_comment) {
    const int line = line_;
    std::string t = before_tag(text, sign, block_or_comment);
    if (!t.empty()) push(Tok::Data, std::move(t), line);
  }

  void root() {
    size_t i = pos_;
    while ((i = s_.find('{', i)) != std::string::npos) {
      if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) break;
      ++i;
    }
    if (i == std::string::npos) {
      push(Tok::Data, s_.substr(pos_));
      advance(s_.size());
      return;
    }
    const char kind = s_[i + 1];
    size_t j = i + 2;
    const char sign = j < s_.size() && (s_[j] == '-' || s_[j] == '+') ? s_[j] : 0;
    if (sign) ++j;
    const std::string_view text = std::string_view(s_).substr(pos_, i - pos_);
    if (kind == '%' && raw_begin(j)) {
      emit_data(text, sign, true);
      advance(i);
      advance(raw_end_);
      line_starting_ = s_[raw_end_ - 1] == '\n';
      raw_body();
      return;
    }
    emit_data(text, sign, kind != '{');
    advance(j);
    if (kind == '#') {
      comment();
    } else {
      push(kind == '{' ? Tok::VarBegin : Tok::BlockBegin, "");
      tag(kind == '%');
    }
  }

  // {%(-|+|)\s*raw\s*(-%}\s*|%}) at `j` (after the sign); sets raw_end_.
  bool raw_begin(size_t j) {
    auto ws = [&](size_t k) {
      while (k < s_.size()) {
        size_t len;
        if (!text::is_space(code_point(s_, k, &len))) break;
        k += len;
      }
      return k;
    };
    size_t k = ws(j);
    if (s_.compare(k, 3, "raw") != 0) return false;
    k = ws(k + 3);
    if (s_.compare(k, 3, "-%}") == 0) {
      raw_end_ = ws(k + 3);
      return true;
    }
    if (s_.compare(k, 2, "%}") == 0) {
      raw_end_ = k + 2;  // no trim_blocks after a raw opening tag, as in Jinja
      return true;
    }
    return false;
  }

  void raw_body() {
    for (size_t i = s_.find("{%", pos_); i != std::string::npos; i = s_.find("{%", i + 1)) {
      size_t k = i + 2;
      const char sign = k < s_.size() && (s_[k] == '-' || s_[k] == '+') ? s_[k] : 0;
      if (sign) ++k;
      while (k < s_.size() && text::is_space(char32_t(static_cast<unsigned char>(s_[k])))) ++k;
      if (s_.compare(k, 6, "endraw") != 0) continue;
      k += 6;
      while (k < s_.size() && text::is_space(char32_t(static_cast<unsigned char>(s_[k])))) ++k;
      size_t end;
      if (s_.compare(k, 3, "+%}") == 0) {
        end = k + 3;
      } else if (s_.compare(k, 3, "-%}") == 0) {
        end = k + 3;
        while (end < s_.size() && text::is_space(char32_t(static_cast<unsigned char>(s_[end])))) ++end;
      } else if (s_.compare(k, 2, "%}") == 0) {
        end = k + 2 + (k + 2 < s_.size() && s_[k + 2] == '\n');
      } else {
        continue;
      }
      emit_data(std::string_view(s_).substr(pos_, i - pos_), sign, true);
      advance(end);
      line_starting_ = s_[end - 1] == '\n';
      return;
    }
    fail("missing end of raw directive ({% endraw %})");
  }

  void comment() {
    for (size_t k = pos_; k < s_.size(); ++k) {
      size_t end = 0;
      if (s_.compare(k, 3, "+#}") == 0) {
        end = k + 3;
      } else if (s_.compare(k, 3, "-#}") == 0) {
        advance(k + 3);
        skip_whitespace();
        line_starting_ = s_[pos_ - 1] == '\n';
        return;
      } else if (s_.compare(k, 2, "#}") == 0) {
        end = k + 2 + (k + 2 < s_.size() && s_[k + 2] == '\n');
      } else {
        continue;
      }
      advance(end);
      line_starting_ = s_[end - 1] == '\n';
      return;
    }
    fail("missing end of comment tag (#})");
  }

  // Tokens inside {{ }} or {% %}, up to the end tag (an end tag inside open brackets is
  // operators, as in Jinja, so {{ {'a': {'b': 1}} }} works).
  void tag(bool block) {
    std::vector<char> open;
    const int start_line = line_;
    while (true) {
      if (pos_ >= s_.size())
        throw Error(start_line, std::string("unexpected end of template: ") + (block ? "{% tag" : "{{ expression") +
                                    " is not closed");
      if (open.empty()) {
        if (block && (at("+%}") || at("-%}") || at("%}"))) {
          const char sign = s_[pos_] == '%' ? 0 : s_[pos_];
          advance(pos_ + (sign ? 3 : 2));
          if (sign == '-') {
            skip_whitespace();
          } else if (!sign && pos_ < s_.size() && s_[pos_] == '\n') {
            advance(pos_ + 1);  // trim_blocks
          }
          push(Tok::BlockEnd, "");
          line_starting_ = s_[pos_ - 1] == '\n';
          return;
        }
        if (!block && (at("-}}") || at("}}"))) {
          const bool minus = at("-}}");
          advance(pos_ + (minus ? 3 : 2));
          if (minus) skip_whitespace();
          push(Tok::VarEnd, "");
          line_starting_ = s_[pos_ - 1] == '\n';
          return;
        }
      }
      const char c = s_[pos_];
      size_t len;
      if (text::is_space(code_point(s_, pos_, &len))) {
        advance(pos_ + len);
      } else if (is_digit(c)) {
        number();
      } else if (is_name_start(c)) {
        size_t e = pos_;
        while (e < s_.size() && is_name_char(s_[e])) ++e;
        if (e < s_.size() && static_cast<unsigned char>(s_[e]) >= 0x80) fail("non-ASCII names are not supported");
        push(Tok::Name, s_.substr(pos_, e - pos_));
        advance(e);
      } else if (c == '\'' || c == '"') {
        string_literal(c);
      } else {
        operator_token(open);
      }
    }
  }

  void number() {
    // Jinja's float: digits with '_' separators, then a fraction and/or an exponent.
    auto digits = [&](size_t k) {
      size_t e = k;
      while (e < s_.size() && (is_digit(s_[e]) || (s_[e] == '_' && e > k && e + 1 < s_.size() && is_digit(s_[e + 1]))))
        ++e;
      return e;
    };
    const bool after_dot = pos_ > 0 && s_[pos_ - 1] == '.';
    size_t e = digits(pos_);
    bool is_float = false;
    if (!after_dot) {
      if (e + 1 < s_.size() && s_[e] == '.' && is_digit(s_[e + 1])) {
        e = digits(e + 1);
        is_float = true;
      }
      if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
        size_t k = e + 1;
        if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
        if (k < s_.size() && is_digit(s_[k])) {
          e = digits(k);
          is_float = true;
        }
      }
    }
    if (is_float) {
      std::string t;
      for (size_t k = pos_; k < e; ++k)
        if (s_[k] != '_') t += s_[k];
      Token tok;
      tok.type = Tok::Float;
      tok.text = s_.substr(pos_, e - pos_);
      tok.line = line_;
      std::from_chars(t.data(), t.data() + t.size(), tok.float_value);
      out_.push_back(std::move(tok));
      advance(e);
      return;
    }
    // Integers: 0b / 0o / 0x prefixes, decimal without leading zeros, or zeros.
    int base = 10;
    size_t k = pos_, body = pos_;
    if (s_[k] == '0' && k + 1 < s_.size()) {
      const char p = char(s_[k + 1] | 0x20);
      if (p == 'b' || p == 'o' || p == 'x') {
        base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
        body = k + 2;
      }
    }
    auto ok = [&](char ch) {
      const int v = hex_value(ch);
      return v >= 0 && v < base;
    };
    if (base != 10) {
      e = body;
      while (e < s_.size() && (ok(s_[e]) || (s_[e] == '_' && e + 1 < s_.size() && ok(s_[e + 1])))) ++e;
      if (e == body) {  // "0x" without digits: the integer 0, then a name
        base = 10;
        e = pos_ + 1;
        body = pos_;
      }
    } else if (s_[pos_] == '0') {
      e = pos_ + 1;
      while (e < s_.size() && (s_[e] == '0' || (s_[e] == '_' && e + 1 < s_.size() && s_[e + 1] == '0'))) ++e;
    }
    int64_t v = 0;
    for (size_t q = body; q < e; ++q) {
      if (s_[q] == '_') continue;
      const int d = hex_value(s_[q]);
      if (v > (INT64_MAX - d) / base) fail("integer literal " + s_.substr(pos_, e - pos_) + " is too large");
      v = v * base + d;
    }
    Token tok;
    tok.type = Tok::Int;
    tok.text = s_.substr(pos_, e - pos_);
    tok.line = line_;
    tok.int_value = v;
    out_.push_back(std::move(tok));
    advance(e);
  }

  void string_literal(char q) {
    size_t e = pos_ + 1;
    while (e < s_.size() && s_[e] != q) e += s_[e] == '\\' ? 2 : 1;
    if (e >= s_.size()) fail("unterminated string literal");
    push(Tok::String, unescape(std::string_view(s_).substr(pos_ + 1, e - pos_ - 1), line_));
    advance(e + 1);
  }

  void operator_token(std::vector<char>& open) {
    for (const char* op : kOperators) {
      if (!at(op)) continue;
      const std::string o = op;
      if (o == "{" || o == "(" || o == "[") {
        open.push_back(o == "{" ? '}' : o == "(" ? ')' : ']');
      } else if (o == "}" || o == ")" || o == "]") {
        if (open.empty()) fail("unexpected '" + o + "'");
        if (open.back() != o[0]) fail("unexpected '" + o + "', expected '" + std::string(1, open.back()) + "'");
        open.pop_back();
      }
      push(Tok::Op, o);
      advance(pos_ + o.size());
      return;
    }
    size_t len;
    const char32_t cp = code_point(s_, pos_, &len);
    std::string shown = s_.substr(pos_, len);
    if (cp < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(cp));
      shown = buf;
    }
    fail("unexpected character '" + shown + "' in a tag");
  }

  std::string s_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  size_t raw_end_ = 0;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(std::string_view source) {
  // Newlines normalised first and one trailing newline dropped, as Jinja's tokeniter does.
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return Lexer(std::move(s)).run();
}

}  // namespace lowbit::chat
