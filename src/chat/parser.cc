#include "chat/parser.h"

#include <algorithm>

#include "chat/filters.h"
#include "chat/tests.h"

namespace lowbit::chat {

namespace {

// Deep nesting would overflow the stack of this recursive parser (and of the renderer).
constexpr int kMaxDepth = 200;

const char* const kUnsupportedTags[] = {"block", "extends", "include", "import", "from", "autoescape"};

bool reserved_name(const std::string& n) {
  return n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None";
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : t_(t) {}

  Body run() {
    Body body = subparse({});
    for (const Pending& p : pending_)
      if (!p.soft) throw Error(p.line, unknown_message(p.name, p.filter));
    return body;
  }

 private:
  struct Pending {
    int line;
    std::string name;
    bool filter;
    bool soft;
  };
  struct Open {
    std::string tag;
    int line;
  };

  // --- tokens ---
  const Token& cur() const { return t_[i_]; }
  const Token& look() const { return t_[std::min(i_ + 1, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
  bool is_op(const char* o) const { return cur().type == Tok::Op && cur().text == o; }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  bool skip_op(const char* o) {
    if (!is_op(o)) return false;
    next();
    return true;
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Data: return "template text";
      case Tok::VarBegin: return "'{{'";
      case Tok::VarEnd: return "'}}'";
      case Tok::BlockBegin: return "'{%'";
      case Tok::BlockEnd: return "'%}'";
      case Tok::Name: case Tok::Op: return "'" + t.text + "'";
      case Tok::String: return "a string";
      case Tok::Int: case Tok::Float: return "a number";
      case Tok::Eof: return "the end of the template";
    }
    return "?";
  }
  [[noreturn]] void fail(const std::string& msg) const { throw Error(cur().line, msg); }
  void expect(Tok type, const char* what) {
    if (cur().type != type) fail(std::string("expected ") + what + ", got " + describe(cur()));
    next();
  }
  void expect_op(const char* o) {
    if (!skip_op(o)) fail(std::string("expected '") + o + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail("expected a name, got " + describe(cur()));
    std::string n = cur().text;
    next();
    return n;
  }

  // --- nesting state ---
  struct Depth {
    explicit Depth(Parser& p) : p(p) {
      if (++p.depth_ > kMaxDepth) p.fail("template nested too deeply");
    }
    ~Depth() { --p.depth_; }
    Parser& p;
  };
  // A frame of Jinja's compiler: inside an if (or a conditional expression) an unknown
  // filter or test is an error only when evaluated; elsewhere it fails the template.
  struct Frame {
    Frame(Parser& p, bool soft, bool new_function = false) : p(p), loops(p.loop_depth_) {
      p.soft_.push_back(soft);
      if (new_function) p.loop_depth_ = 0;
    }
    ~Frame() {
      p.soft_.pop_back();
      p.loop_depth_ = loops;
    }
    Parser& p;
    int loops;
  };

  static std::string unknown_message(const std::string& name, bool filter) {
    const char* kind = filter ? "filter" : "test";
    if (filter ? is_jinja_filter(name) : is_jinja_test(name))
      return std::string("the Jinja ") + kind + " '" + name + "' is not supported by lowbit's template engine";
    return std::string("no ") + kind + " named '" + name + "'";
  }
  void note_unknown(int line, const std::string& name, bool filter) {
    pending_.push_back({line, name, filter, soft_.back()});
  }

  // --- statements ---
  Body subparse(const std::vector<std::string>& end_tokens) {
    Body body;
    while (cur().type != Tok::Eof) {
      const Token& t = cur();
      if (t.type == Tok::Data) {
        auto s = std::make_unique<Stmt>();
        s->line = t.line;
        s->node = stmt::Text{t.text};
        body.push_back(std::move(s));
        next();
      } else if (t.type == Tok::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->line = t.line;
        s->node = stmt::Print{parse_tuple(false, true, {}, false)};
        expect(Tok::VarEnd, "'}}'");
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        next();
        if (cur().type == Tok::Name &&
            std::find(end_tokens.begin(), end_tokens.end(), cur().text) != end_tokens.end())
          return body;
        for (auto& s : parse_statement()) body.push_back(std::move(s));
        expect(Tok::BlockEnd, "'%}'");
      } else {
        fail("unexpected " + describe(t));
      }
    }
    return body;
  }

  Body parse_statements(const std::vector<std::string>& end_tokens, bool drop_needle) {
    skip_op(":");
    expect(Tok::BlockEnd, "'%}'");
    Body body = subparse(end_tokens);
    if (cur().type == Tok::Eof) {
      std::string want;
      for (const auto& e : end_tokens) want += (want.empty() ? "'" : " or '") + e + "'";
      fail("unexpected end of template: '{% " + open_.back().tag + " %}' from line " +
           std::to_string(open_.back().line) + " is not closed (expected " + want + ")");
    }
    if (drop_needle) next();
    return body;
  }

  StmtPtr make(int line) {
    auto s = std::make_unique<Stmt>();
    s->line = line;
    return s;
  }

  Body parse_statement() {
    Depth depth(*this);
    if (cur().type != Tok::Name) fail("expected a tag name, got " + describe(cur()));
    const std::string tag = cur().text;
    const int line = cur().line;
    open_.push_back({tag, line});
    Body out;
    if (tag == "for") {
      out.push_back(parse_for());
    } else if (tag == "if") {
      out.push_back(parse_if());
    } else if (tag == "set") {
      out.push_back(parse_set());
    } else if (tag == "macro") {
      out.push_back(parse_macro());
    } else if (tag == "call") {
      out.push_back(parse_call_block());
    } else if (tag == "filter") {
      out.push_back(parse_filter_block());
    } else if (tag == "with") {
      out.push_back(parse_with());
    } else if (tag == "print") {
      next();
      bool first = true;
      while (cur().type != Tok::BlockEnd) {
        if (!first) expect_op(",");
        first = false;
        auto s = make(line);
        s->node = stmt::Print{parse_expression(true)};
        out.push_back(std::move(s));
      }
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'{% " + tag + " %}' outside of a for loop");
      next();
      auto s = make(line);
      if (tag == "break") {
        s->node = stmt::Break{};
      } else {
        s->node = stmt::Continue{};
      }
      out.push_back(std::move(s));
    } else if (tag == "generation") {
      // transformers' AssistantTracker: renders its body unchanged (it only marks the span).
      next();
      Frame f(*this, soft_.back());
      out = parse_statements({"endgeneration"}, true);
    } else if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), tag) != std::end(kUnsupportedTags)) {
      fail("'{% " + tag + " %}' is not supported (lowbit renders one self-contained chat template)");
    } else {
      open_.pop_back();
      std::string msg = "unknown tag '" + tag + "'";
      if (!open_.empty())
        msg += " (inside '{% " + open_.back().tag + " %}' from line " + std::to_string(open_.back().line) + ")";
      fail(msg);
    }
    open_.pop_back();
    return out;
  }

  StmtPtr parse_for() {
    auto s = make(cur().line);
    next();
    stmt::For f;
    f.target = parse_target(true, false, "in");
    if (!skip_name("in")) fail("expected 'in' in the for loop, got " + describe(cur()));
    f.iterable = parse_tuple(false, false, "recursive", false);
    {
      Frame frame(*this, false);
      if (skip_name("if")) f.filter = parse_expression(true);
      if (is_name("recursive")) fail("recursive for loops are not supported");
      ++loop_depth_;
      f.body = parse_statements({"endfor", "else"}, false);
    }
    const bool has_else = is_name("else");
    next();
    if (has_else) {
      Frame frame(*this, false);
      f.otherwise = parse_statements({"endfor"}, true);
    }
    s->node = std::move(f);
    return s;
  }

  StmtPtr parse_if() {
    auto s = make(cur().line);
    next();
    Frame frame(*this, true);
    stmt::If node;
    while (true) {
      ExprPtr test = parse_tuple(false, false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      node.branches.emplace_back(std::move(test), std::move(body));
      const std::string which = cur().text;
      next();
      if (which == "elif") continue;
      if (which == "else") node.otherwise = parse_statements({"endif"}, true);
      break;
    }
    s->node = std::move(node);
    return s;
  }

  StmtPtr parse_set() {
    auto s = make(cur().line);
    next();
    Target target = parse_target(true, true, "");
    if (skip_op("=")) {
      s->node = stmt::Set{std::move(target), parse_tuple(false, true, {}, false)};
      return s;
    }
    Frame frame(*this, false, true);  // a buffered body: break/continue cannot leave it
    stmt::SetBlock b;
    b.target = std::move(target);
    b.filter = parse_filter(nullptr, false);
    b.body = parse_statements({"endset"}, true);
    s->node = std::move(b);
    return s;
  }

  void parse_signature(MacroDef& m) {
    expect_op("(");
    while (!is_op(")")) {
      if (!m.params.empty()) expect_op(",");
      std::string name = expect_name();
      if (reserved_name(name)) fail("cannot use '" + name + "' as a parameter name");
      if (skip_op("=")) {
        m.defaults.push_back(parse_expression(true));
      } else if (!m.defaults.empty()) {
        fail("non-default argument follows default argument");
      }
      m.params.push_back(std::move(name));
    }
    expect_op(")");
  }

  StmtPtr parse_macro() {
    auto s = make(cur().line);
    next();
    auto def = std::make_shared<MacroDef>();
    def->name = expect_name();
    Frame frame(*this, false, true);
    parse_signature(*def);
    macros_.push_back(def.get());
    def->body = parse_statements({"endmacro"}, true);
    macros_.pop_back();
    s->node = stmt::Macro{std::move(def)};
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = make(cur().line);
    next();
    auto caller = std::make_shared<MacroDef>();
    caller->name = "caller";
    if (is_op("(")) parse_signature(*caller);
    ExprPtr call = parse_expression(true);
    if (!std::holds_alternative<expr::Call>(call->node)) fail("'{% call %}' needs a macro call");
    Frame frame(*this, false, true);
    macros_.push_back(caller.get());
    caller->body = parse_statements({"endcall"}, true);
    macros_.pop_back();
    s->node = stmt::CallBlock{std::move(call), std::move(caller)};
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make(cur().line);
    next();
    Frame frame(*this, false, true);  // a buffered body: break/continue cannot leave it
    ExprPtr filter = parse_filter(nullptr, true);
    s->node = stmt::FilterBlock{std::move(filter), parse_statements({"endfilter"}, true)};
    return s;
  }

  StmtPtr parse_with() {
    auto s = make(cur().line);
    next();
    stmt::With w;
    while (cur().type != Tok::BlockEnd) {
      if (!w.assignments.empty()) expect_op(",");
      Target t = parse_target(true, false, "");
      expect_op("=");
      w.assignments.emplace_back(std::move(t), parse_expression(true));
    }
    Frame frame(*this, false);
    w.body = parse_statements({"endwith"}, true);
    s->node = std::move(w);
    return s;
  }

  // An assignment target: names (a tuple of them when `with_tuple`), or ns.attr when
  // `with_namespace`; parentheses group nested tuples.
  Target parse_target(bool with_tuple, bool with_namespace, const char* end_name) {
    if (!with_tuple) return parse_target_one(with_namespace);
    std::vector<Target> items;
    bool tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (cur().type == Tok::BlockEnd || is_op("=") || (*end_name && is_name(end_name))) break;
      items.push_back(parse_target_one(with_namespace));
      if (!is_op(",")) break;
      tuple = true;
    }
    if (items.empty()) fail("expected an assignment target, got " + describe(cur()));
    if (!tuple) return std::move(items[0]);
    Target t;
    t.elements = std::move(items);
    return t;
  }

  Target parse_target_one(bool with_namespace) {
    Depth depth(*this);
    Target t;
    if (skip_op("(")) {
      std::vector<Target> items;
      bool tuple = false;
      while (!is_op(")")) {
        if (!items.empty()) {
          expect_op(",");
          tuple = true;
          if (is_op(")")) break;
        }
        items.push_back(parse_target_one(false));
      }
      expect_op(")");
      if (items.empty()) fail("cannot assign to an empty tuple");
      if (!tuple) return std::move(items[0]);
      t.elements = std::move(items);
      return t;
    }
    const int line = cur().line;
    t.name = expect_name();
    if (reserved_name(t.name)) throw Error(line, "cannot assign to '" + t.name + "'");
    if (with_namespace && skip_op(".")) t.attr = expect_name();
    return t;
  }

  // --- expressions ---
  ExprPtr node(int line) {
    auto e = std::make_unique<Expr>();
    e->line = line;
    return e;
  }

  bool is_tuple_end(const char* extra_end) const {
    return cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_op(")") ||
           (extra_end && *extra_end && is_name(extra_end));
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, const char* extra_end, bool explicit_parens) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(",")) {
        tuple = true;
      } else {
        break;
      }
    }
    if (!tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail("expected an expression, got " + describe(cur()));
    }
    auto e = node(line);
    e->node = expr::List{std::move(items), true};
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    Depth depth(*this);
    const size_t mark = pending_.size();
    ExprPtr e = parse_or();
    while (true) {
      const int line = cur().line;
      if (!skip_name("if")) break;
      ExprPtr test = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
      auto c = node(line);
      c->node = expr::Cond{std::move(test), std::move(e), std::move(otherwise)};
      e = std::move(c);
      for (size_t i = mark; i < pending_.size(); ++i) pending_[i].soft = true;
    }
    return e;
  }

  ExprPtr binary(BinOp op, ExprPtr l, ExprPtr r, int line) {
    auto e = node(line);
    e->node = expr::Binary{op, std::move(l), std::move(r)};
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (true) {
      const int line = cur().line;
      if (!skip_name("or")) return l;
      l = binary(BinOp::Or, std::move(l), parse_and(), line);
    }
  }

  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (true) {
      const int line = cur().line;
      if (!skip_name("and")) return l;
      l = binary(BinOp::And, std::move(l), parse_not(), line);
    }
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      Depth depth(*this);
      const int line = cur().line;
      next();
      auto e = node(line);
      e->node = expr::Not{parse_not()};
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::vector<std::pair<CmpOp, ExprPtr>> rest;
    while (true) {
      static const std::pair<const char*, CmpOp> ops[] = {{"==", CmpOp::Eq}, {"!=", CmpOp::Ne}, {"<", CmpOp::Lt},
                                                          {"<=", CmpOp::Le}, {">", CmpOp::Gt}, {">=", CmpOp::Ge}};
      bool found = false;
      for (const auto& [text, op] : ops)
        if (is_op(text)) {
          next();
          rest.emplace_back(op, parse_math1());
          found = true;
          break;
        }
      if (found) continue;
      if (skip_name("in")) {
        rest.emplace_back(CmpOp::In, parse_math1());
      } else if (is_name("not") && look().type == Tok::Name && look().text == "in") {
        next();
        next();
        rest.emplace_back(CmpOp::NotIn, parse_math1());
      } else {
        break;
      }
    }
    if (rest.empty()) return first;
    auto e = node(line);
    e->node = expr::Compare{std::move(first), std::move(rest)};
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const int line = cur().line;
      const BinOp op = is_op("+") ? BinOp::Add : BinOp::Sub;
      next();
      l = binary(op, std::move(l), parse_concat(), line);
    }
    return l;
  }

  ExprPtr parse_concat() {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    items.push_back(parse_math2());
    while (skip_op("~")) items.push_back(parse_math2());
    if (items.size() == 1) return std::move(items[0]);
    auto e = node(line);
    e->node = expr::Concat{std::move(items)};
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (true) {
      const int line = cur().line;
      BinOp op;
      if (is_op("*")) {
        op = BinOp::Mul;
      } else if (is_op("/")) {
        op = BinOp::Div;
      } else if (is_op("//")) {
        op = BinOp::FloorDiv;
      } else if (is_op("%")) {
        op = BinOp::Mod;
      } else {
        return l;
      }
      next();
      l = binary(op, std::move(l), parse_pow(), line);
    }
  }

  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (true) {
      const int line = cur().line;
      if (!skip_op("**")) return l;
      l = binary(BinOp::Pow, std::move(l), parse_unary(true), line);
    }
  }

  ExprPtr parse_unary(bool with_filter) {
    Depth depth(*this);
    const int line = cur().line;
    ExprPtr e;
    if (skip_op("-")) {
      e = node(line);
      e->node = expr::Neg{parse_unary(false)};
    } else if (skip_op("+")) {
      e = node(line);
      e->node = expr::Pos{parse_unary(false)};
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    Depth depth(*this);
    const Token& t = cur();
    auto e = node(t.line);
    if (t.type == Tok::Name) {
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        e->node = expr::Const{Value::boolean(t.text == "true" || t.text == "True")};
      } else if (t.text == "none" || t.text == "None") {
        e->node = expr::Const{Value::none()};
      } else {
        if (t.text == "varargs" || t.text == "kwargs" || t.text == "caller")
          for (MacroDef* m : macros_) {
            m->uses_varargs |= t.text == "varargs";
            m->uses_kwargs |= t.text == "kwargs";
            m->uses_caller |= t.text == "caller";
          }
        e->node = expr::Name{t.text};
      }
      next();
    } else if (t.type == Tok::String) {
      std::string s;
      while (cur().type == Tok::String) {  // adjacent literals concatenate
        s += cur().text;
        next();
      }
      e->node = expr::Const{Value::string(std::move(s))};
    } else if (t.type == Tok::Int) {
      e->node = expr::Const{Value::integer(t.int_value)};
      next();
    } else if (t.type == Tok::Float) {
      e->node = expr::Const{Value::number(t.float_value)};
      next();
    } else if (is_op("(")) {
      next();
      e = parse_tuple(false, true, {}, true);
      expect_op(")");
    } else if (is_op("[")) {
      next();
      expr::List l;
      while (!is_op("]")) {
        if (!l.items.empty()) expect_op(",");
        if (is_op("]")) break;
        l.items.push_back(parse_expression(true));
      }
      expect_op("]");
      e->node = std::move(l);
    } else if (is_op("{")) {
      next();
      expr::Dict d;
      while (!is_op("}")) {
        if (!d.items.empty()) expect_op(",");
        if (is_op("}")) break;
        ExprPtr k = parse_expression(true);
        expect_op(":");
        d.items.emplace_back(std::move(k), parse_expression(true));
      }
      expect_op("}");
      e->node = std::move(d);
    } else {
      fail("unexpected " + describe(t));
    }
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter(std::move(e), false);
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    Depth depth(*this);
    const int line = cur().line;
    auto e = node(line);
    if (skip_op(".")) {
      if (cur().type == Tok::Name) {
        e->node = expr::Attr{std::move(obj), cur().text};
      } else if (cur().type == Tok::Int) {
        auto idx = node(cur().line);
        idx->node = expr::Const{Value::integer(cur().int_value)};
        e->node = expr::Item{std::move(obj), std::move(idx)};
      } else {
        fail("expected a name or number after '.', got " + describe(cur()));
      }
      next();
      return e;
    }
    expect_op("[");
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.empty()) throw Error(line, "empty subscript '[]'");
    ExprPtr index;
    if (args.size() == 1) {
      index = std::move(args[0]);
    } else {
      index = node(line);
      index->node = expr::List{std::move(args), true};
    }
    e->node = expr::Item{std::move(obj), std::move(index)};
    return e;
  }

  ExprPtr parse_subscribed() {
    const int line = cur().line;
    ExprPtr start, stop, step;
    if (skip_op(":")) {
      // [:...]
    } else {
      ExprPtr e = parse_expression(true);
      if (!is_op(":")) return e;
      next();
      start = std::move(e);
    }
    if (!is_op(":") && !is_op("]") && !is_op(",")) stop = parse_expression(true);
    if (skip_op(":"))
      if (!is_op("]") && !is_op(",")) step = parse_expression(true);
    auto s = node(line);
    s->node = expr::Slice{std::move(start), std::move(stop), std::move(step)};
    return s;
  }

  ArgExprs parse_call_args() {
    const int line = cur().line;
    expect_op("(");
    ArgExprs a;
    bool need_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) throw Error(line, "invalid syntax for function call expression");
    };
    while (!is_op(")")) {
      if (need_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (skip_op("*")) {
        ensure(!a.star && !a.star_star);
        a.star = parse_expression(true);
      } else if (skip_op("**")) {
        ensure(!a.star_star);
        a.star_star = parse_expression(true);
      } else if (cur().type == Tok::Name && look().type == Tok::Op && look().text == "=") {
        ensure(!a.star_star);
        std::string key = cur().text;
        next();
        next();
        a.keywords.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!a.star && !a.star_star && a.keywords.empty());
        a.positional.push_back(parse_expression(true));
      }
      need_comma = true;
    }
    expect_op(")");
    return a;
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = node(cur().line);
    ArgExprs args = parse_call_args();
    e->node = expr::Call{std::move(callee), std::move(args)};
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  ExprPtr parse_filter(ExprPtr input, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      const int line = cur().line;
      expr::Filter f;
      f.input = std::move(input);
      f.name = dotted_name();
      if (is_op("(")) f.args = parse_call_args();
      f.fn = find_filter(f.name);
      if (!f.fn) note_unknown(line, f.name, true);
      input = node(line);
      input->node = std::move(f);
    }
    return input;
  }

  ExprPtr parse_test(ExprPtr input) {
    const int line = cur().line;
    next();  // 'is'
    expr::Test t;
    t.input = std::move(input);
    t.negated = skip_name("not");
    t.name = dotted_name();
    if (is_op("(")) {
      t.args = parse_call_args();
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                cur().type == Tok::Float || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("you cannot chain multiple tests with 'is'");
      t.args.positional.push_back(parse_postfix(parse_primary()));
    }
    t.fn = find_test(t.name);
    if (!t.fn) note_unknown(line, t.name, false);
    auto e = node(line);
    e->node = std::move(t);
    return e;
  }

  const std::vector<Token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<bool> soft_{false};
  std::vector<Pending> pending_;
  std::vector<Open> open_;
  std::vector<MacroDef*> macros_;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).run(); }

}  // namespace lowbit::chat
