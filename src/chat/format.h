// Values as text, the way Python writes them: str() (what {{ x }} prints), repr() (items
// inside a printed list or dict), float repr (shortest round-trip digits), and json.dumps
// with the options of transformers' tojson filter.
#pragma once
#include <optional>
#include <string>

#include "chat/value.h"

namespace lowbit::chat {

// str(v); Undefined is "". Error for values Python would print as an object address
// (macros, namespaces, generators), which no template can mean to print.
std::string py_str(const Value& v);
std::string py_repr(const Value& v);
std::string float_repr(double d);
std::string string_repr(const std::string& s);

struct JsonOptions {
  std::optional<std::string> indent;  // json.dumps(indent=...): the string per level, or none
  std::string item_separator = ", ", key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;  // transformers' tojson default
};
// json.dumps(v, ...). Error for values JSON cannot hold (Undefined, objects).
std::string to_json(const Value& v, const JsonOptions& o);

}  // namespace lowbit::chat
