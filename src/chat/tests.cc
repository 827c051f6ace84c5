#include "chat/tests.h"

#include <algorithm>
#include <cmath>

#include "chat/filters.h"
#include "chat/format.h"
#include "chat/objects.h"
#include "chat/ops.h"
#include "chat/text.h"

namespace lowbit::chat {

namespace {

const Value& arg(const CallArgs& a, const char* test) {
  if (a.positional.size() != 1 || !a.keywords.empty())
    throw Error(std::string("the test '") + test + "' takes exactly one argument");
  return a.positional[0];
}

void no_args(const CallArgs& a, const char* test) {
  if (!a.positional.empty() || !a.keywords.empty())
    throw Error(std::string("the test '") + test + "' takes no arguments");
}

bool remainder_zero(const Value& v, const Value& d) { return !arithmetic(BinOp::Mod, v, d).truthy(); }

bool cased(const Value& v, bool upper) {
  bool any = false;
  for (char32_t c : text::decode(py_str(v))) {
    if (upper ? text::is_lower(c) : text::is_upper(c)) return false;
    any |= text::is_cased(c);
  }
  return any;
}

#define NOARG(name, expr) \
  {name, [](Renderer&, const Value& v, const CallArgs& a) { no_args(a, name); return bool(expr); }}
#define CMP(name, op) \
  {name, [](Renderer&, const Value& v, const CallArgs& a) { return compare_op(op, v, arg(a, name)); }}

const TestFn kTests[] = {
    NOARG("defined", !v.is_undefined()),
    NOARG("undefined", v.is_undefined()),
    NOARG("none", v.is_none()),
    NOARG("boolean", v.is_bool()),
    NOARG("false", v.is_bool() && !v.as_bool()),
    NOARG("true", v.is_bool() && v.as_bool()),
    NOARG("integer", v.is_int()),
    NOARG("float", v.is_float()),
    NOARG("number", v.is_number()),  // Python's bool is a Number
    NOARG("string", v.is_string()),
    NOARG("mapping", v.is_dict()),
    // Undefined and a loop are iterable (empty / their items); a namespace is not.
    NOARG("iterable", v.is_undefined() || v.is_string() || v.is_list() || v.is_dict() ||
                          (v.is_object() && dynamic_cast<LoopState*>(v.object()))),
    NOARG("sequence", v.is_undefined() || v.is_string() || v.is_dict() ||
                          (v.is_list() && v.list_kind() != ListKind::Iterator)),
    NOARG("callable", v.is_object() && v.object()->callable()),
    NOARG("odd", !remainder_zero(v, Value::integer(2))),
    NOARG("even", remainder_zero(v, Value::integer(2))),
    NOARG("lower", cased(v, false)),
    NOARG("upper", cased(v, true)),
    {"divisibleby", [](Renderer&, const Value& v, const CallArgs& a) { return remainder_zero(v, arg(a, "divisibleby")); }},
    {"sameas",
     [](Renderer&, const Value& v, const CallArgs& a) {
       // Python's `is`: the same object; scalars are compared by value (CPython shares them).
       const Value& o = arg(a, "sameas");
       if (v.type() != o.type()) return false;
       return v.identity() ? v.identity() == o.identity() : equal(v, o);
     }},
    {"in", [](Renderer&, const Value& v, const CallArgs& a) { return contains(arg(a, "in"), v); }},
    CMP("eq", CmpOp::Eq), CMP("equalto", CmpOp::Eq), CMP("==", CmpOp::Eq),
    CMP("ne", CmpOp::Ne), CMP("!=", CmpOp::Ne),
    CMP("lt", CmpOp::Lt), CMP("lessthan", CmpOp::Lt), CMP("<", CmpOp::Lt),
    CMP("le", CmpOp::Le), CMP("<=", CmpOp::Le),
    CMP("gt", CmpOp::Gt), CMP("greaterthan", CmpOp::Gt), CMP(">", CmpOp::Gt),
    CMP("ge", CmpOp::Ge), CMP(">=", CmpOp::Ge),
    NOARG("filter", v.is_string() && find_filter(v.str())),
    NOARG("test", v.is_string() && find_test(v.str())),
};

#undef NOARG
#undef CMP

// Markup is not tracked, so `escaped` cannot be answered truthfully.
const char* const kJinjaOnly[] = {"escaped"};

}  // namespace

const TestFn* find_test(const std::string& name) {
  for (const TestFn& t : kTests)
    if (name == t.name) return &t;
  return nullptr;
}

bool is_jinja_test(const std::string& name) {
  return std::find_if(std::begin(kJinjaOnly), std::end(kJinjaOnly), [&](const char* n) { return name == n; }) !=
         std::end(kJinjaOnly);
}

}  // namespace lowbit::chat
