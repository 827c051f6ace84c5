// Runs a parsed template. Scoping follows Jinja's: {% if %} shares its scope, a for loop
// body gets a fresh scope each iteration (assignments do not leave the loop, reads before
// an assignment see the outer value), a macro runs in a scope over the one it was defined
// in (seeing that scope's later assignments), and namespaces are the way out of a loop.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "chat/ast.h"
#include "chat/value.h"

namespace lowbit::chat {

class Scope {
 public:
  explicit Scope(const Scope* parent) : parent_(parent) {}
  const Value* find(const std::string& name) const;  // this scope, then its parents
  void set(const std::string& name, Value v) { vars_[name] = std::move(v); }
  void clear() { vars_.clear(); }

 private:
  const Scope* parent_;
  std::unordered_map<std::string, Value> vars_;
};

// Bounds on one render, so a hostile template fails cleanly instead of running forever
// or exhausting memory (Jinja has none; real chat templates come nowhere near these).
struct RenderLimits {
  uint64_t max_steps = 100'000'000;           // statements and expressions evaluated
  size_t max_output = size_t(256) << 20;      // bytes of any one output buffer
  int max_call_depth = 200;                   // nested macro calls
};

class Renderer {
 public:
  explicit Renderer(const RenderLimits& limits) : limits_(limits) {}

  // Renders `body` with `globals` (the caller's variables and the builtins) under it.
  std::string render(const Body& body, const Scope& globals);

  // Objects and scopes live until the render ends (see Object).
  template <class T, class... A>
  T* make(A&&... a) {
    auto p = std::make_unique<T>(std::forward<A>(a)...);
    T* raw = p.get();
    objects_.push_back(std::move(p));
    return raw;
  }
  Scope* new_scope(const Scope* parent) { return &scopes_.emplace_back(parent); }

  Value call_macro(const MacroDef& def, const Scope* closure, CallArgs& args);
  void step();

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, Scope& scope, std::string& out);
  Flow exec(const Stmt& s, Scope& scope, std::string& out);
  Flow exec_for(const stmt::For& f, Scope& scope, std::string& out);
  Value eval(const Expr& e, const Scope& scope);
  Value eval_node(const Expr& e, const Scope& scope);
  Value eval_call(const expr::Call& c, const Scope& scope, const Value* caller);
  Value eval_filter(const Expr& e, const Scope& scope, const Value* block_input);
  CallArgs eval_args(const ArgExprs& a, const Scope& scope);
  void assign(const Target& t, const Value& v, Scope& scope);
  void append(std::string& out, const std::string& s);

  RenderLimits limits_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  std::deque<Scope> scopes_;
  std::deque<std::unique_ptr<Object>> objects_;
};

}  // namespace lowbit::chat
