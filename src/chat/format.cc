#include "chat/format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/ops.h"
#include "chat/text.h"
#include "core/utf8.h"

namespace lowbit::chat {

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest round-trip digits (what Python's repr uses), then Python's layout: fixed
  // notation when the decimal point falls within 16 digits, else an exponent.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  const int exp10 = std::stoi(sci.substr(e + 1));
  std::string sign;
  if (mant[0] == '-') {
    sign = "-";
    mant.erase(0, 1);
  }
  mant.erase(std::remove(mant.begin(), mant.end(), '.'), mant.end());
  const int decpt = exp10 + 1, n = int(mant.size());
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(size_t(-decpt), '0') + mant;
    } else if (decpt >= n) {
      out += mant + std::string(size_t(decpt - n), '0') + ".0";
    } else {
      out += mant.substr(0, size_t(decpt)) + "." + mant.substr(size_t(decpt));
    }
    return out;
  }
  out += mant.substr(0, 1);
  if (n > 1) out += "." + mant.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  return out + ebuf;
}

namespace {

void append_hex(std::string& out, const char* prefix, uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, v);
  out += buf;
}

}  // namespace

std::string string_repr(const std::string& s) {
  const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : text::decode(s)) {
    if (c == char32_t(q) || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      append_hex(out, "\\x", uint32_t(c), 2);
    } else if (c < 0x80 || text::is_printable(c)) {
      append_utf8(out, uint32_t(c));
    } else if (c < 0x100) {
      append_hex(out, "\\x", uint32_t(c), 2);
    } else if (c < 0x10000) {
      append_hex(out, "\\u", uint32_t(c), 4);
    } else {
      append_hex(out, "\\U", uint32_t(c), 8);
    }
  }
  out += q;
  return out;
}

namespace {

void unprintable(const Value& v) {
  if (v.is_list() && v.list_kind() == ListKind::Iterator)
    throw Error("cannot print a generator or dict view (Python prints its address); add '| list'");
  throw Error("cannot print a " + v.type_name() + " (Python prints its address)");
}

// Shared sublists can make a small value print as a huge text; stop before memory does.
void check_size(const std::string& out) {
  if (out.size() > kMaxBuild) throw Error("value too large to print");
}

void append_str(std::string& out, const Value& v, bool repr) {
  check_size(out);
  using T = Value::Type;
  switch (v.type()) {
    case T::Undefined: out += repr ? "Undefined" : ""; return;
    case T::None: out += "None"; return;
    case T::Bool: out += v.as_bool() ? "True" : "False"; return;
    case T::Int: out += std::to_string(v.as_int()); return;
    case T::Float: out += float_repr(v.as_float()); return;
    case T::String: out += repr ? string_repr(v.str()) : v.str(); return;
    case T::List: {
      if (v.list_kind() == ListKind::Iterator) unprintable(v);
      const bool tuple = v.list_kind() == ListKind::Tuple;
      out += tuple ? '(' : '[';
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) out += ", ";
        append_str(out, v.items()[i], true);
      }
      if (tuple && v.items().size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return;
    }
    case T::Dict: {
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.dict().items) {
        if (!first) out += ", ";
        first = false;
        append_str(out, k, true);
        out += ": ";
        append_str(out, x, true);
      }
      out += '}';
      return;
    }
    case T::Object: unprintable(v);
  }
}

void append_json_string(std::string& out, const std::string& s, bool ascii) {
  out += '"';
  for (char32_t c : text::decode(s)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ascii && c == 0x7F)) {
      append_hex(out, "\\u", uint32_t(c), 4);
    } else if (ascii && c >= 0x80) {
      if (c >= 0x10000) {  // a surrogate pair, as json.dumps writes it
        const uint32_t v = uint32_t(c) - 0x10000;
        append_hex(out, "\\u", 0xD800 + (v >> 10), 4);
        append_hex(out, "\\u", 0xDC00 + (v & 0x3FF), 4);
      } else {
        append_hex(out, "\\u", uint32_t(c), 4);
      }
    } else {
      append_utf8(out, uint32_t(c));
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

std::string json_key(const Value& k) {
  switch (k.type()) {
    case Value::Type::String: return k.str();
    case Value::Type::Bool: return k.as_bool() ? "true" : "false";
    case Value::Type::None: return "null";
    case Value::Type::Int: return std::to_string(k.as_int());
    case Value::Type::Float: return json_float(k.as_float());
    default: throw Error("keys must be str, int, float, bool or None, not " + k.type_name());
  }
}

void append_json(std::string& out, const Value& v, const JsonOptions& o, int level) {
  check_size(out);
  using T = Value::Type;
  auto newline = [&](int lvl) {
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += *o.indent;
    check_size(out);
  };
  switch (v.type()) {
    case T::None: out += "null"; return;
    case T::Bool: out += v.as_bool() ? "true" : "false"; return;
    case T::Int: out += std::to_string(v.as_int()); return;
    case T::Float: out += json_float(v.as_float()); return;
    case T::String: append_json_string(out, v.str(), o.ensure_ascii); return;
    case T::List: {
      if (v.list_kind() == ListKind::Iterator) break;
      if (v.items().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) out += o.item_separator;
        if (o.indent) newline(level + 1);
        append_json(out, v.items()[i], o, level + 1);
      }
      if (o.indent) newline(level);
      out += ']';
      return;
    }
    case T::Dict: {
      if (v.dict().items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : v.dict().items) items.push_back(&kv);
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return compare(a->first, b->first) < 0; });
      out += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += o.item_separator;
        first = false;
        if (o.indent) newline(level + 1);
        append_json_string(out, json_key(kv->first), o.ensure_ascii);
        out += o.key_separator;
        append_json(out, kv->second, o, level + 1);
      }
      if (o.indent) newline(level);
      out += '}';
      return;
    }
    default: break;
  }
  throw Error("Object of type " + v.type_name() + " is not JSON serializable");
}

}  // namespace

std::string py_str(const Value& v) {
  if (v.is_string()) return v.str();
  std::string out;
  append_str(out, v, false);
  return out;
}

std::string py_repr(const Value& v) {
  std::string out;
  append_str(out, v, true);
  return out;
}

std::string to_json(const Value& v, const JsonOptions& o) {
  std::string out;
  append_json(out, v, o, 0);
  return out;
}

}  // namespace lowbit::chat
