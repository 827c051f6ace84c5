// Jinja's lexer as transformers configures it: {{ }}, {% %}, {# #}, {% raw %}; `-` strips
// the whitespace beside a tag, `+` keeps it; trim_blocks drops the newline after a block
// or comment tag, lstrip_blocks the indentation before one; newlines normalised to \n and
// one trailing newline dropped (keep_trailing_newline is off).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::chat {

enum class Tok : uint8_t { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok type;
  std::string text;  // Data: the text; Name: the name; String: the unescaped value; Op: the operator
  int line = 1;
  int64_t int_value = 0;
  double float_value = 0;
};

// Throws chat::Error with "line N: " in front for text it cannot split into tokens.
std::vector<Token> lex(std::string_view source);

}  // namespace lowbit::chat
