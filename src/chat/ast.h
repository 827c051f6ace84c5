// The parsed template: Jinja's node types for the statements and expressions chat
// templates use. Every node keeps its source line for error messages.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "chat/value.h"

namespace lowbit::chat {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct ArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  ExprPtr star, star_star;  // *args, **kwargs
};

enum class BinOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, And, Or };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct FilterFn;
struct TestFn;

namespace expr {
struct Const { Value value; };
struct Name { std::string name; };
struct List { std::vector<ExprPtr> items; bool tuple = false; };
struct Dict { std::vector<std::pair<ExprPtr, ExprPtr>> items; };
struct Attr { ExprPtr object; std::string name; };       // a.b
struct Item { ExprPtr object, index; };                  // a[b], a.0
struct Slice { ExprPtr start, stop, step; };             // only as an Item index
struct Call { ExprPtr callee; ArgExprs args; };
// `fn` null: a filter lowbit does not have, an error if evaluated (Jinja too defers the
// error to run time inside if blocks). `input` null: the body of a filter block.
struct Filter { ExprPtr input; std::string name; ArgExprs args; const FilterFn* fn = nullptr; };
struct Test { ExprPtr input; std::string name; ArgExprs args; const TestFn* fn = nullptr; bool negated = false; };
struct Neg { ExprPtr operand; };
struct Pos { ExprPtr operand; };
struct Not { ExprPtr operand; };
struct Binary { BinOp op; ExprPtr left, right; };
struct Concat { std::vector<ExprPtr> items; };                     // a ~ b ~ c
struct Compare { ExprPtr first; std::vector<std::pair<CmpOp, ExprPtr>> rest; };
struct Cond { ExprPtr test, then, otherwise; };                     // otherwise may be null
}  // namespace expr

struct Expr {
  int line = 0;
  std::variant<expr::Const, expr::Name, expr::List, expr::Dict, expr::Attr, expr::Item, expr::Slice, expr::Call,
               expr::Filter, expr::Test, expr::Neg, expr::Pos, expr::Not, expr::Binary, expr::Concat,
               expr::Compare, expr::Cond>
      node;
};

// An assignment target: a name, a (nested) tuple of names, or namespace.attr.
struct Target {
  std::string name;
  std::string attr;              // set: name.attr (a namespace attribute)
  std::vector<Target> elements;  // non-empty: unpack a sequence into these
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  // Whether the body reads varargs / kwargs / caller: Jinja then accepts extra positional
  // or keyword arguments (or a call block), else it rejects them.
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
};

namespace stmt {
struct Text { std::string text; };
struct Print { ExprPtr value; };
struct If { std::vector<std::pair<ExprPtr, Body>> branches; Body otherwise; };
struct For { Target target; ExprPtr iterable, filter; Body body, otherwise; };
struct Set { Target target; ExprPtr value; };
struct SetBlock { Target target; ExprPtr filter; Body body; };  // filter: a Filter chain with null input
struct Macro { std::shared_ptr<MacroDef> def; };
struct CallBlock { ExprPtr call; std::shared_ptr<MacroDef> caller; };
struct FilterBlock { ExprPtr filter; Body body; };
struct With { std::vector<std::pair<Target, ExprPtr>> assignments; Body body; };
struct Break {};
struct Continue {};
}  // namespace stmt

struct Stmt {
  int line = 0;
  std::variant<stmt::Text, stmt::Print, stmt::If, stmt::For, stmt::Set, stmt::SetBlock, stmt::Macro, stmt::CallBlock,
               stmt::FilterBlock, stmt::With, stmt::Break, stmt::Continue>
      node;
};

}  // namespace lowbit::chat
