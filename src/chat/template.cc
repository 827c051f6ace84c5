#include "chat/template.h"

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/objects.h"
#include "chat/parser.h"
#include "core/error.h"
#include "core/utf8.h"

namespace lowbit::chat {

struct Template::Impl {
  std::string label;
  Body body;
};

namespace {

UserError located(const std::string& label, const Error& e) {
  std::string where = label + (e.line > 0 ? " line " + std::to_string(e.line) : "");
  return UserError(where + ": " + (e.raised ? "the template raised an error: " : "") + e.what());
}

}  // namespace

Template::Template(std::string_view source, std::string label) {
  auto impl = std::make_shared<Impl>();
  impl->label = std::move(label);
  if (const int64_t bad = first_invalid_utf8(source); bad >= 0)
    throw UserError(impl->label + ": not valid UTF-8 (byte " + std::to_string(bad) + ")");
  try {
    impl->body = parse(lex(source));
  } catch (const Error& e) {
    throw located(impl->label, e);
  }
  impl_ = std::move(impl);
}

std::string Template::render(const Variables& vars, const RenderLimits& limits) const {
  Renderer r(limits);
  Scope* globals = r.new_scope(nullptr);
  add_globals(r, *globals);
  for (const auto& [name, v] : vars) globals->set(name, v);
  try {
    return r.render(impl_->body, *globals);
  } catch (const Error& e) {
    throw located(impl_->label, e);
  }
}

const std::string& Template::label() const { return impl_->label; }

}  // namespace lowbit::chat
