#include "chat/renderer.h"

#include "chat/filters.h"
#include "chat/format.h"
#include "chat/objects.h"
#include "chat/ops.h"
#include "chat/tests.h"

namespace lowbit::chat {

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent_) {
    auto it = s->vars_.find(name);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

namespace {

// Adds the line of the innermost node that failed, once.
template <class F>
auto at_line(int line, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (Error& e) {
    if (e.line == 0) e.line = line;
    throw;
  }
}

}  // namespace

void Renderer::step() {
  if (++steps_ > limits_.max_steps)
    throw Error("the template ran for more than " + std::to_string(limits_.max_steps) + " steps");
}

void Renderer::append(std::string& out, const std::string& s) {
  if (out.size() + s.size() > limits_.max_output)
    throw Error("the template output grew past " + std::to_string(limits_.max_output) + " bytes");
  out += s;
}

std::string Renderer::render(const Body& body, const Scope& globals) {
  Scope* root = new_scope(&globals);
  std::string out;
  exec(body, *root, out);
  return out;
}

Renderer::Flow Renderer::exec(const Body& body, Scope& scope, std::string& out) {
  for (const StmtPtr& s : body) {
    const Flow f = at_line(s->line, [&] { return exec(*s, scope, out); });
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec(const Stmt& st, Scope& scope, std::string& out) {
  step();
  if (const auto* t = std::get_if<stmt::Text>(&st.node)) {
    append(out, t->text);
  } else if (const auto* p = std::get_if<stmt::Print>(&st.node)) {
    append(out, py_str(eval(*p->value, scope)));
  } else if (const auto* i = std::get_if<stmt::If>(&st.node)) {
    for (const auto& [test, body] : i->branches)
      if (eval(*test, scope).truthy()) return exec(body, scope, out);
    return exec(i->otherwise, scope, out);
  } else if (const auto* f = std::get_if<stmt::For>(&st.node)) {
    return exec_for(*f, scope, out);
  } else if (const auto* s = std::get_if<stmt::Set>(&st.node)) {
    assign(s->target, eval(*s->value, scope), scope);
  } else if (const auto* b = std::get_if<stmt::SetBlock>(&st.node)) {
    std::string buf;
    exec(b->body, *new_scope(&scope), buf);
    Value v = Value::string(std::move(buf));
    if (b->filter) v = eval_filter(*b->filter, scope, &v);
    assign(b->target, v, scope);
  } else if (const auto* m = std::get_if<stmt::Macro>(&st.node)) {
    scope.set(m->def->name, Value::object(make<Macro>(m->def.get(), &scope)));
  } else if (const auto* c = std::get_if<stmt::CallBlock>(&st.node)) {
    const Value caller = Value::object(make<Macro>(c->caller.get(), &scope));
    const Expr& call = *c->call;
    append(out, py_str(at_line(call.line, [&] { return eval_call(std::get<expr::Call>(call.node), scope, &caller); })));
  } else if (const auto* fb = std::get_if<stmt::FilterBlock>(&st.node)) {
    std::string buf;
    exec(fb->body, *new_scope(&scope), buf);
    const Value v = Value::string(std::move(buf));
    append(out, py_str(eval_filter(*fb->filter, scope, &v)));
  } else if (const auto* w = std::get_if<stmt::With>(&st.node)) {
    std::vector<Value> values;
    for (const auto& [target, e] : w->assignments) values.push_back(eval(*e, scope));
    Scope* inner = new_scope(&scope);
    for (size_t k = 0; k < values.size(); ++k) assign(w->assignments[k].first, values[k], *inner);
    return exec(w->body, *inner, out);
  } else if (std::holds_alternative<stmt::Break>(st.node)) {
    return Flow::Break;
  } else if (std::holds_alternative<stmt::Continue>(st.node)) {
    return Flow::Continue;
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec_for(const stmt::For& f, Scope& scope, std::string& out) {
  std::vector<Value> items = iterate(eval(*f.iterable, scope));
  Scope* body = new_scope(&scope);
  if (f.filter) {
    // `for x in xs if cond`: the condition sees the loop variable; loop.length counts what passes.
    std::vector<Value> kept;
    for (Value& v : items) {
      body->clear();
      assign(f.target, v, *body);
      if (eval(*f.filter, *body).truthy()) kept.push_back(std::move(v));
    }
    items = std::move(kept);
  }
  LoopState* loop = make<LoopState>(std::move(items));
  // Jinja runs the else block unless some iteration reached the end of the body (so also
  // after a break or continue in every iteration).
  bool completed = false;
  for (size_t k = 0; k < loop->items.size(); ++k) {
    step();
    body->clear();
    loop->index0 = k;
    assign(f.target, loop->items[k], *body);
    body->set("loop", Value::object(loop));
    const Flow flow = exec(f.body, *body, out);
    if (flow == Flow::Break) break;
    completed |= flow == Flow::Normal;
  }
  if (!completed) return exec(f.otherwise, *new_scope(&scope), out);
  return Flow::Normal;
}

void Renderer::assign(const Target& t, const Value& v, Scope& scope) {
  if (!t.elements.empty()) {
    const std::vector<Value> items = iterate(v);
    if (items.size() != t.elements.size())
      throw Error(items.size() > t.elements.size()
                      ? "too many values to unpack (expected " + std::to_string(t.elements.size()) + ")"
                      : "not enough values to unpack (expected " + std::to_string(t.elements.size()) + ", got " +
                            std::to_string(items.size()) + ")");
    for (size_t k = 0; k < items.size(); ++k) assign(t.elements[k], items[k], scope);
    return;
  }
  if (!t.attr.empty()) {
    const Value* ns = scope.find(t.name);
    auto* n = ns && ns->is_object() ? dynamic_cast<Namespace*>(ns->object()) : nullptr;
    if (!n) throw Error("cannot assign attribute on non-namespace object ('" + t.name + "." + t.attr + "')");
    n->set(t.attr, v);
    return;
  }
  scope.set(t.name, v);
}

Value Renderer::eval(const Expr& e, const Scope& scope) {
  return at_line(e.line, [&] { return eval_node(e, scope); });
}

CallArgs Renderer::eval_args(const ArgExprs& a, const Scope& scope) {
  CallArgs out;
  for (const auto& p : a.positional) out.positional.push_back(eval(*p, scope));
  if (a.star)
    for (Value& v : iterate(defined(eval(*a.star, scope)))) out.positional.push_back(std::move(v));
  for (const auto& [k, v] : a.keywords) out.keywords.emplace_back(k, eval(*v, scope));
  if (a.star_star) {
    const Value d = eval(*a.star_star, scope);
    if (!d.is_dict()) throw Error("argument after ** must be a mapping, not " + d.type_name());
    for (const auto& [k, v] : d.dict().items) {
      if (!k.is_string()) throw Error("keywords must be strings");
      out.keywords.emplace_back(k.str(), v);
    }
  }
  return out;
}

Value Renderer::eval_call(const expr::Call& c, const Scope& scope, const Value* caller) {
  const Value callee = eval(*c.callee, scope);
  CallArgs args = eval_args(c.args, scope);
  if (caller) args.keywords.emplace_back("caller", *caller);
  defined(callee);
  if (!callee.is_object() || !callee.object()->callable())
    throw Error("'" + callee.type_name() + "' object is not callable");
  return callee.object()->call(*this, args);
}

Value Renderer::eval_filter(const Expr& e, const Scope& scope, const Value* block_input) {
  return at_line(e.line, [&]() -> Value {
    const auto& f = std::get<expr::Filter>(e.node);
    const Value input = f.input ? (std::holds_alternative<expr::Filter>(f.input->node)
                                       ? eval_filter(*f.input, scope, block_input)
                                       : eval(*f.input, scope))
                                : *block_input;
    const CallArgs args = eval_args(f.args, scope);
    if (!f.fn)
      throw Error(is_jinja_filter(f.name) ? "the Jinja filter '" + f.name + "' is not supported by lowbit's template engine"
                                          : "no filter named '" + f.name + "'");
    return f.fn->fn(*this, input, args);
  });
}

Value Renderer::call_macro(const MacroDef& d, const Scope* closure, CallArgs& args) {
  if (call_depth_ >= limits_.max_call_depth)
    throw Error("macro calls nested deeper than " + std::to_string(limits_.max_call_depth));
  Scope* s = new_scope(closure);
  const std::string what = "macro '" + d.name + "'";
  const size_t n = d.params.size();
  if (args.positional.size() > n && !d.uses_varargs)
    throw Error(what + " takes not more than " + std::to_string(n) + " argument(s)");
  std::vector<bool> given(n, false);
  for (size_t k = 0; k < n && k < args.positional.size(); ++k) {
    s->set(d.params[k], args.positional[k]);
    given[k] = true;
  }
  DictData extra_kw;
  bool has_caller = false;
  for (auto& [key, v] : args.keywords) {
    size_t k = 0;
    while (k < n && d.params[k] != key) ++k;
    if (k < n) {
      if (given[k]) throw Error(what + " got multiple values for argument '" + key + "'");
      s->set(key, v);
      given[k] = true;
    } else if (key == "caller" && d.uses_caller) {
      s->set("caller", v);
      has_caller = true;
    } else if (d.uses_kwargs) {
      extra_kw.set(Value::string(key), v);
    } else {
      throw Error(what + " takes no keyword argument '" + key + "'");
    }
  }
  // Defaults are evaluated at call time, in the macro's scope (they may use earlier parameters).
  const size_t first_default = n - d.defaults.size();
  for (size_t k = 0; k < n; ++k) {
    if (given[k]) continue;
    if (k >= first_default) {
      s->set(d.params[k], eval(*d.defaults[k - first_default], *s));
    } else {
      s->set(d.params[k], Value::undefined("parameter '" + d.params[k] + "' was not provided"));
    }
  }
  if (d.uses_varargs) {
    std::vector<Value> rest;
    for (size_t k = n; k < args.positional.size(); ++k) rest.push_back(args.positional[k]);
    s->set("varargs", Value::list(std::move(rest), ListKind::Tuple));
  }
  if (d.uses_kwargs) s->set("kwargs", Value::dict(std::move(extra_kw)));
  if (d.uses_caller && !has_caller) s->set("caller", Value::undefined("no caller defined"));
  std::string out;
  ++call_depth_;
  try {
    exec(d.body, *s, out);
  } catch (...) {
    --call_depth_;
    throw;
  }
  --call_depth_;
  return Value::string(std::move(out));
}

Value Renderer::eval_node(const Expr& e, const Scope& scope) {
  step();
  using namespace expr;
  if (const auto* c = std::get_if<Const>(&e.node)) return c->value;
  if (const auto* n = std::get_if<Name>(&e.node)) {
    const Value* v = scope.find(n->name);
    return v ? *v : Value::undefined("'" + n->name + "' is undefined");
  }
  if (const auto* l = std::get_if<List>(&e.node)) {
    std::vector<Value> items;
    for (const auto& x : l->items) items.push_back(eval(*x, scope));
    return Value::list(std::move(items), l->tuple ? ListKind::Tuple : ListKind::List);
  }
  if (const auto* d = std::get_if<Dict>(&e.node)) {
    DictData out;
    for (const auto& [k, v] : d->items) {
      Value key = eval(*k, scope);
      if (key.is_list() || key.is_dict() || key.is_undefined()) throw Error("unhashable type: '" + key.type_name() + "'");
      out.set(std::move(key), eval(*v, scope));
    }
    return Value::dict(std::move(out));
  }
  if (const auto* a = std::get_if<Attr>(&e.node)) return get_attr(*this, defined(eval(*a->object, scope)), a->name);
  if (const auto* i = std::get_if<Item>(&e.node)) {
    const Value obj = defined(eval(*i->object, scope));
    if (const auto* s = std::get_if<Slice>(&i->index->node)) {
      auto part = [&](const ExprPtr& x) { return x ? eval(*x, scope) : Value::none(); };
      return slice(obj, part(s->start), part(s->stop), part(s->step));
    }
    return get_item(*this, obj, eval(*i->index, scope));
  }
  if (std::holds_alternative<Slice>(e.node)) throw Error("a slice is only valid inside []");
  if (const auto* c = std::get_if<Call>(&e.node)) return eval_call(*c, scope, nullptr);
  if (std::holds_alternative<Filter>(e.node)) return eval_filter(e, scope, nullptr);
  if (const auto* t = std::get_if<Test>(&e.node)) {
    const Value input = eval(*t->input, scope);
    const CallArgs args = eval_args(t->args, scope);
    if (!t->fn)
      throw Error(is_jinja_test(t->name) ? "the Jinja test '" + t->name + "' is not supported by lowbit's template engine"
                                         : "no test named '" + t->name + "'");
    return Value::boolean(t->fn->fn(*this, input, args) != t->negated);
  }
  if (const auto* n = std::get_if<Neg>(&e.node)) return negate(eval(*n->operand, scope), true);
  if (const auto* p = std::get_if<Pos>(&e.node)) return negate(eval(*p->operand, scope), false);
  if (const auto* n = std::get_if<Not>(&e.node)) return Value::boolean(!eval(*n->operand, scope).truthy());
  if (const auto* b = std::get_if<Binary>(&e.node)) {
    Value l = eval(*b->left, scope);
    if (b->op == BinOp::And) return l.truthy() ? eval(*b->right, scope) : l;
    if (b->op == BinOp::Or) return l.truthy() ? l : eval(*b->right, scope);
    return arithmetic(b->op, l, eval(*b->right, scope));
  }
  if (const auto* c = std::get_if<Concat>(&e.node)) {
    std::string s;
    for (const auto& x : c->items) {
      s += py_str(eval(*x, scope));
      if (s.size() > kMaxBuild) throw Error("string concatenation result too large");
    }
    return Value::string(std::move(s));
  }
  if (const auto* c = std::get_if<Compare>(&e.node)) {
    // Python's chained comparison: a < b < c is a < b and b < c, each operand evaluated once.
    Value left = eval(*c->first, scope);
    for (const auto& [op, rhs] : c->rest) {
      Value right = eval(*rhs, scope);
      if (!compare_op(op, left, right)) return Value::boolean(false);
      left = std::move(right);
    }
    return Value::boolean(true);
  }
  if (const auto* c = std::get_if<Cond>(&e.node)) {
    if (eval(*c->test, scope).truthy()) return eval(*c->then, scope);
    if (c->otherwise) return eval(*c->otherwise, scope);
    return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                            " evaluated to false and no else section was defined");
  }
  throw Error("internal: unknown expression node");
}

}  // namespace lowbit::chat
