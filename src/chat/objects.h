// The objects templates handle: namespace(), the `loop` variable, macros, builtin
// functions and bound methods ('a,b'.split, d.items, loop.cycle).
#pragma once
#include <string>
#include <vector>

#include "chat/ast.h"
#include "chat/renderer.h"
#include "chat/value.h"

namespace lowbit::chat {

// namespace(a=1): attributes a template may set from inside loops ({% set ns.a = 2 %}).
class Namespace : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  Value attribute(const std::string& name, Renderer& r) override;
  void set(const std::string& name, Value v);  // Error for '_'-prefixed names, as transformers' sandbox
  DictData attrs;
};

// A for loop's `loop`: index, index0, revindex, revindex0, first, last, length, depth,
// depth0, previtem, nextitem, cycle(), changed().
class LoopState : public Object {
 public:
  explicit LoopState(std::vector<Value> items) : items(std::move(items)) {}
  std::string type_name() const override { return "LoopContext"; }
  Value attribute(const std::string& name, Renderer& r) override;
  std::vector<Value> items;  // owned: a template may keep `loop` past the loop
  size_t index0 = 0;
  std::vector<Value> last_changed;
  bool changed_called = false;
};

class Macro : public Object {
 public:
  Macro(const MacroDef* def, const Scope* closure) : def(def), closure(closure) {}
  std::string type_name() const override { return "Macro"; }
  bool callable() const override { return true; }
  Value call(Renderer& r, CallArgs& args) override { return r.call_macro(*def, closure, args); }
  const MacroDef* def;
  const Scope* closure;
};

using NativeFn = Value (*)(Renderer& r, const Value& self, CallArgs& args);

// A builtin (range, namespace, raise_exception, ...) or a method bound to its object.
class Function : public Object {
 public:
  Function(std::string name, NativeFn fn, Value self = {}) : name(std::move(name)), fn(fn), self(std::move(self)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  bool callable() const override { return true; }
  Value call(Renderer& r, CallArgs& args) override { return fn(r, self, args); }
  std::string name;
  NativeFn fn;
  Value self;
};

// The method `name` of a str, dict or list, bound to `self`. Otherwise Undefined: with an
// empty hint if the type has no such method, with a message if the method mutates its
// object (transformers' immutable sandbox forbids those: list.append, dict.update, ...).
Value bound_method(Renderer& r, const Value& self, const std::string& name);

// Adds range, namespace, dict, raise_exception, strftime_now and Jinja's other globals.
void add_globals(Renderer& r, Scope& globals);

}  // namespace lowbit::chat
