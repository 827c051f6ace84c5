// Python's operators on template values, and Jinja's attribute and item lookup (a.b tries
// the attribute, then the item; a['b'] the item, then the attribute; a miss is Undefined,
// and using an Undefined for anything but printing, testing or iterating is an error).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace lowbit::chat {

[[noreturn]] void undefined_error(const Value& u);
// Throws for Undefined: operands of arithmetic, calls, lookups.
inline const Value& defined(const Value& v) {
  if (v.is_undefined()) undefined_error(v);
  return v;
}

Value arithmetic(BinOp op, const Value& a, const Value& b);  // + - * / // % **
Value negate(const Value& v, bool minus);                    // unary - and +
bool contains(const Value& container, const Value& item);    // item in container
bool compare_op(CmpOp op, const Value& a, const Value& b);

Value get_attr(Renderer& r, const Value& obj, const std::string& name);
Value get_item(Renderer& r, const Value& obj, const Value& key);
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);  // None: omitted

// The items a for loop (or list()) visits: characters of a str, keys of a dict, nothing
// for Undefined. Error for values that are not iterable.
std::vector<Value> iterate(const Value& v);
// len(); Error where Python has none.
int64_t length(const Value& v);

// Largest string or list an operation may build: '*' can otherwise ask for gigabytes.
constexpr size_t kMaxBuild = size_t(64) << 20;

}  // namespace lowbit::chat
