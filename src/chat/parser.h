// Jinja's grammar (its parser.py, rule for rule) over the lexer's tokens: statements
// for/if/set/macro/call/filter/with/print, loopcontrols' break/continue and transformers'
// {% generation %}; expressions with Jinja's precedence. Constructs lowbit does not
// render (extends, include, import, block, recursive loops, unknown tags) are errors
// naming the construct and line, never skipped.
#pragma once
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace lowbit::chat {

// Throws chat::Error (with its line) for a syntax error or an unsupported construct.
Body parse(const std::vector<Token>& tokens);

}  // namespace lowbit::chat
