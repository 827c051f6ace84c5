// Python's str, dict and list methods that templates call ('a,b'.split(','),
// message.get('content'), d.items()), with Python's arguments and results.
#include <algorithm>

#include "chat/format.h"
#include "chat/objects.h"
#include "chat/ops.h"
#include "chat/text.h"

namespace lowbit::chat {

namespace {

using Args = CallArgs;

std::string want_str(const std::optional<Value>& v, const std::string& what) {
  if (!v || !v->is_string()) throw Error(what + " must be a str, not " + (v ? v->type_name() : "nothing"));
  return v->str();
}

int64_t want_int(const std::optional<Value>& v, int64_t fallback, const std::string& what) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool()) throw Error(what + " must be an int, not " + v->type_name());
  return v->as_int();
}

// The [start:end] window of str methods, as code-point offsets clamped like a slice.
std::pair<int64_t, int64_t> window(const std::string& s, const std::optional<Value>& start,
                                   const std::optional<Value>& end) {
  const int64_t n = int64_t(text::length(s));
  auto clamp = [&](const std::optional<Value>& v, int64_t fallback) {
    int64_t x = want_int(v, fallback, "slice index");
    if (x < 0) x = std::max<int64_t>(0, x + n);
    return std::min(x, n);
  };
  return {clamp(start, 0), clamp(end, n)};
}

std::string cp_sub(const std::string& s, int64_t b, int64_t e) {
  if (e <= b) return "";
  const size_t bb = text::byte_offset(s, b), eb = text::byte_offset(s, e);
  return s.substr(bb, eb - bb);
}

Value strip_method(const Value& self, Args& a, bool left, bool right, const char* name) {
  const auto p = bind_args(a, {"chars"}, name);
  if (p[0] && !p[0]->is_none()) {
    const std::u32string chars = text::decode(want_str(p[0], std::string(name) + "() argument"));
    return Value::string(text::strip(self.str(), &chars, left, right));
  }
  return Value::string(text::strip(self.str(), nullptr, left, right));
}

Value split_method(const Value& self, Args& a, bool right) {
  const char* name = right ? "rsplit" : "split";
  const auto p = bind_args(a, {"sep", "maxsplit"}, name);
  const bool ws = !p[0] || p[0]->is_none();
  const std::string sep = ws ? "" : want_str(p[0], std::string(name) + "() sep");
  if (!ws && sep.empty()) throw Error("empty separator");
  std::vector<Value> out;
  for (auto& part : text::split(self.str(), sep, ws, want_int(p[1], -1, "maxsplit"), right))
    out.push_back(Value::string(std::move(part)));
  return Value::list(std::move(out));
}

// Index of `sub` in self[start:end] (code points), or -1.
int64_t find_in(const Value& self, Args& a, bool from_right, const char* name) {
  const auto p = bind_args(a, {"sub", "start", "end"}, name);
  const std::string sub = want_str(p[0], std::string(name) + "() argument");
  const auto [b, e] = window(self.str(), p[1], p[2]);
  if (e - b < int64_t(text::length(sub))) return -1;
  const std::string hay = cp_sub(self.str(), b, e);
  const size_t at = from_right ? hay.rfind(sub) : hay.find(sub);
  return at == std::string::npos ? -1 : b + text::cp_index(hay, at);
}

Value affix_method(const Value& self, Args& a, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  const auto p = bind_args(a, {"prefix", "start", "end"}, name);
  if (!p[0]) throw Error(std::string(name) + "() takes at least 1 argument");
  const auto [b, e] = window(self.str(), p[1], p[2]);
  const std::string hay = b <= e ? cp_sub(self.str(), b, e) : "";
  if (b > e) return Value::boolean(false);
  std::vector<Value> options = p[0]->is_list() && p[0]->list_kind() == ListKind::Tuple ? p[0]->items()
                                                                                         : std::vector<Value>{*p[0]};
  for (const Value& o : options) {
    if (!o.is_string())
      throw Error(std::string(name) + " first arg must be str or a tuple of str, not " + o.type_name());
    const std::string& x = o.str();
    if (x.size() <= hay.size() && (prefix ? hay.compare(0, x.size(), x) == 0
                                          : hay.compare(hay.size() - x.size(), x.size(), x) == 0))
      return Value::boolean(true);
  }
  return Value::boolean(false);
}

template <class Pred>
Value all_chars(const Value& self, Args& a, const char* name, Pred pred) {
  bind_args(a, {}, name);
  const std::u32string cps = text::decode(self.str());
  if (cps.empty()) return Value::boolean(false);
  return Value::boolean(std::all_of(cps.begin(), cps.end(), pred));
}

Value cased_test(const Value& self, Args& a, const char* name, bool upper) {
  bind_args(a, {}, name);
  bool any = false;
  for (char32_t c : text::decode(self.str())) {
    if (upper ? text::is_lower(c) : text::is_upper(c)) return Value::boolean(false);
    any |= text::is_cased(c);
  }
  return Value::boolean(any);
}

Value pad(const Value& self, Args& a, const char* name, int where) {
  const auto p = bind_args(a, {"width", "fillchar"}, name);
  const int64_t width = want_int(p[0], 0, "width");
  std::u32string fill = U" ";
  if (p[1]) {
    fill = text::decode(want_str(p[1], "fillchar"));
    if (fill.size() != 1) throw Error("The fill character must be exactly one character long");
  }
  const int64_t n = int64_t(text::length(self.str()));
  if (width <= n) return self;
  if (width > int64_t(kMaxBuild)) throw Error("width too large");
  const int64_t marg = width - n;
  // Python's centring puts the odd space on the left when the width is odd.
  const int64_t left = where < 0 ? 0 : where > 0 ? marg : marg / 2 + (marg & width & 1);
  const std::string f = text::encode(fill);
  std::string out;
  for (int64_t k = 0; k < left; ++k) out += f;
  out += self.str();
  for (int64_t k = 0; k < marg - left; ++k) out += f;
  return Value::string(std::move(out));
}

Value partition(const Value& self, Args& a, bool right) {
  const auto p = bind_args(a, {"sep"}, right ? "rpartition" : "partition");
  const std::string sep = want_str(p[0], "separator");
  if (sep.empty()) throw Error("empty separator");
  const std::string& s = self.str();
  const size_t at = right ? s.rfind(sep) : s.find(sep);
  std::vector<Value> out;
  if (at == std::string::npos) {
    out = right ? std::vector<Value>{Value::string(""), Value::string(""), self}
                : std::vector<Value>{self, Value::string(""), Value::string("")};
  } else {
    out = {Value::string(s.substr(0, at)), Value::string(sep), Value::string(s.substr(at + sep.size()))};
  }
  return Value::list(std::move(out), ListKind::Tuple);
}

// str.format with plain replacement fields: {}, {0}, {name}; escapes {{ and }}.
Value format_method(const Value& self, Args& a) {
  const std::string& f = self.str();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else throw Error("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (f[i] != '{') {
      out += f[i];
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) throw Error("Single '{' encountered in format string");
    const std::string field = f.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      throw Error("str.format fields with conversions, format specs or lookups are not supported: {" + field + "}");
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const size_t k = field.empty() ? auto_index++ : size_t(std::stoul(field));
      if (k >= a.positional.size()) throw Error("Replacement index " + std::to_string(k) + " out of range");
      v = &a.positional[k];
    } else {
      for (const auto& [key, val] : a.keywords)
        if (key == field) v = &val;
      if (!v) throw Error("KeyError: '" + field + "'");
    }
    out += py_str(*v);
    i = close;
  }
  return Value::string(std::move(out));
}

Value join_method(const Value& self, Args& a) {
  const auto p = bind_args(a, {"iterable"}, "join");
  if (!p[0]) throw Error("join() takes exactly one argument");
  std::string out;
  size_t k = 0;
  for (const Value& v : iterate(*p[0])) {
    if (!v.is_string())
      throw Error("sequence item " + std::to_string(k) + ": expected str instance, " + v.type_name() + " found");
    if (k++) out += self.str();
    out += v.str();
    if (out.size() > kMaxBuild) throw Error("join result too large");
  }
  return Value::string(std::move(out));
}

struct Method {
  const char* name;
  NativeFn fn;
};

const Method kStrMethods[] = {
    {"strip", [](Renderer&, const Value& s, Args& a) { return strip_method(s, a, true, true, "strip"); }},
    {"lstrip", [](Renderer&, const Value& s, Args& a) { return strip_method(s, a, true, false, "lstrip"); }},
    {"rstrip", [](Renderer&, const Value& s, Args& a) { return strip_method(s, a, false, true, "rstrip"); }},
    {"split", [](Renderer&, const Value& s, Args& a) { return split_method(s, a, false); }},
    {"rsplit", [](Renderer&, const Value& s, Args& a) { return split_method(s, a, true); }},
    {"splitlines",
     [](Renderer&, const Value& s, Args& a) {
       const auto p = bind_args(a, {"keepends"}, "splitlines");
       std::vector<Value> out;
       for (auto& l : text::splitlines(s.str(), p[0] && p[0]->truthy())) out.push_back(Value::string(std::move(l)));
       return Value::list(std::move(out));
     }},
    {"startswith", [](Renderer&, const Value& s, Args& a) { return affix_method(s, a, true); }},
    {"endswith", [](Renderer&, const Value& s, Args& a) { return affix_method(s, a, false); }},
    {"replace",
     [](Renderer&, const Value& s, Args& a) {
       const auto p = bind_args(a, {"old", "new", "count"}, "replace");
       return Value::string(text::replace(s.str(), want_str(p[0], "replace() old"), want_str(p[1], "replace() new"),
                                          want_int(p[2], -1, "count")));
     }},
    {"upper", [](Renderer&, const Value& s, Args& a) { bind_args(a, {}, "upper"); return Value::string(text::upper(s.str())); }},
    {"lower", [](Renderer&, const Value& s, Args& a) { bind_args(a, {}, "lower"); return Value::string(text::lower(s.str())); }},
    {"casefold", [](Renderer&, const Value& s, Args& a) { bind_args(a, {}, "casefold"); return Value::string(text::lower(s.str())); }},
    {"title", [](Renderer&, const Value& s, Args& a) { bind_args(a, {}, "title"); return Value::string(text::title(s.str())); }},
    {"capitalize",
     [](Renderer&, const Value& s, Args& a) { bind_args(a, {}, "capitalize"); return Value::string(text::capitalize(s.str())); }},
    {"swapcase",
     [](Renderer&, const Value& s, Args& a) { bind_args(a, {}, "swapcase"); return Value::string(text::swapcase(s.str())); }},
    {"find", [](Renderer&, const Value& s, Args& a) { return Value::integer(find_in(s, a, false, "find")); }},
    {"rfind", [](Renderer&, const Value& s, Args& a) { return Value::integer(find_in(s, a, true, "rfind")); }},
    {"index",
     [](Renderer&, const Value& s, Args& a) {
       const int64_t i = find_in(s, a, false, "index");
       if (i < 0) throw Error("substring not found");
       return Value::integer(i);
     }},
    {"rindex",
     [](Renderer&, const Value& s, Args& a) {
       const int64_t i = find_in(s, a, true, "rindex");
       if (i < 0) throw Error("substring not found");
       return Value::integer(i);
     }},
    {"count",
     [](Renderer&, const Value& s, Args& a) {
       const auto p = bind_args(a, {"sub", "start", "end"}, "count");
       const std::string sub = want_str(p[0], "count() argument");
       const auto [b, e] = window(s.str(), p[1], p[2]);
       if (e < b) return Value::integer(0);
       const std::string hay = cp_sub(s.str(), b, e);
       if (sub.empty()) return Value::integer(int64_t(text::length(hay)) + 1);
       int64_t n = 0;
       for (size_t at = hay.find(sub); at != std::string::npos; at = hay.find(sub, at + sub.size())) ++n;
       return Value::integer(n);
     }},
    {"join", [](Renderer&, const Value& s, Args& a) { return join_method(s, a); }},
    {"format", [](Renderer&, const Value& s, Args& a) { return format_method(s, a); }},
    {"isdigit", [](Renderer&, const Value& s, Args& a) { return all_chars(s, a, "isdigit", text::is_decimal); }},
    {"isdecimal", [](Renderer&, const Value& s, Args& a) { return all_chars(s, a, "isdecimal", text::is_decimal); }},
    {"isnumeric", [](Renderer&, const Value& s, Args& a) { return all_chars(s, a, "isnumeric", text::is_numeric); }},
    {"isalpha", [](Renderer&, const Value& s, Args& a) { return all_chars(s, a, "isalpha", text::is_alpha); }},
    {"isalnum",
     [](Renderer&, const Value& s, Args& a) {
       return all_chars(s, a, "isalnum", [](char32_t c) { return text::is_alpha(c) || text::is_numeric(c); });
     }},
    {"isspace", [](Renderer&, const Value& s, Args& a) { return all_chars(s, a, "isspace", text::is_space); }},
    {"isupper", [](Renderer&, const Value& s, Args& a) { return cased_test(s, a, "isupper", true); }},
    {"islower", [](Renderer&, const Value& s, Args& a) { return cased_test(s, a, "islower", false); }},
    {"center", [](Renderer&, const Value& s, Args& a) { return pad(s, a, "center", 0); }},
    {"ljust", [](Renderer&, const Value& s, Args& a) { return pad(s, a, "ljust", -1); }},
    {"rjust", [](Renderer&, const Value& s, Args& a) { return pad(s, a, "rjust", 1); }},
    {"zfill",
     [](Renderer&, const Value& s, Args& a) {
       const auto p = bind_args(a, {"width"}, "zfill");
       const int64_t width = want_int(p[0], 0, "width"), n = int64_t(text::length(s.str()));
       if (width <= n) return s;
       if (width > int64_t(kMaxBuild)) throw Error("width too large");
       std::string body = s.str(), sign;
       if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
         sign = body.substr(0, 1);
         body.erase(0, 1);
       }
       return Value::string(sign + std::string(size_t(width - n), '0') + body);
     }},
    {"partition", [](Renderer&, const Value& s, Args& a) { return partition(s, a, false); }},
    {"rpartition", [](Renderer&, const Value& s, Args& a) { return partition(s, a, true); }},
    {"removeprefix",
     [](Renderer&, const Value& s, Args& a) {
       const std::string x = want_str(bind_args(a, {"prefix"}, "removeprefix")[0], "removeprefix() argument");
       return s.str().compare(0, x.size(), x) == 0 ? Value::string(s.str().substr(x.size())) : s;
     }},
    {"removesuffix",
     [](Renderer&, const Value& s, Args& a) {
       const std::string x = want_str(bind_args(a, {"suffix"}, "removesuffix")[0], "removesuffix() argument");
       const std::string& t = s.str();
       return !x.empty() && x.size() <= t.size() && t.compare(t.size() - x.size(), x.size(), x) == 0
                  ? Value::string(t.substr(0, t.size() - x.size()))
                  : s;
     }},
};

Value pairs(const Value& d, int which) {  // 0 keys, 1 values, 2 items
  std::vector<Value> out;
  for (const auto& [k, v] : d.dict().items)
    out.push_back(which == 0 ? k : which == 1 ? v : Value::list({k, v}, ListKind::Tuple));
  return Value::list(std::move(out), ListKind::Iterator);
}

const Method kDictMethods[] = {
    {"items", [](Renderer&, const Value& d, Args& a) { bind_args(a, {}, "items"); return pairs(d, 2); }},
    {"keys", [](Renderer&, const Value& d, Args& a) { bind_args(a, {}, "keys"); return pairs(d, 0); }},
    {"values", [](Renderer&, const Value& d, Args& a) { bind_args(a, {}, "values"); return pairs(d, 1); }},
    {"get",
     [](Renderer&, const Value& d, Args& a) {
       const auto p = bind_args(a, {"key", "default"}, "get");
       if (!p[0]) throw Error("get expected at least 1 argument, got 0");
       const Value* v = d.dict().find(*p[0]);
       return v ? *v : p[1] ? *p[1] : Value::none();
     }},
    {"copy", [](Renderer&, const Value& d, Args& a) { bind_args(a, {}, "copy"); return d; }},
};

const Method kListMethods[] = {
    {"index",
     [](Renderer&, const Value& l, Args& a) {
       const auto p = bind_args(a, {"value"}, "index");
       if (!p[0]) throw Error("index expected 1 argument, got 0");
       for (size_t i = 0; i < l.items().size(); ++i)
         if (equal(l.items()[i], *p[0])) return Value::integer(int64_t(i));
       throw Error("value is not in list");
     }},
    {"count",
     [](Renderer&, const Value& l, Args& a) {
       const auto p = bind_args(a, {"value"}, "count");
       if (!p[0]) throw Error("count() takes exactly one argument (0 given)");
       return Value::integer(
           int64_t(std::count_if(l.items().begin(), l.items().end(), [&](const Value& x) { return equal(x, *p[0]); })));
     }},
    {"copy", [](Renderer&, const Value& l, Args& a) { bind_args(a, {}, "copy"); return Value::list(l.items()); }},
};

const char* const kMutatingDict[] = {"update", "pop", "popitem", "setdefault", "clear"};
const char* const kMutatingList[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};

template <size_t N>
const Method* find_method(const Method (&table)[N], const std::string& name) {
  for (const Method& m : table)
    if (name == m.name) return &m;
  return nullptr;
}

template <size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  return std::find_if(std::begin(names), std::end(names), [&](const char* n) { return name == n; }) != std::end(names);
}

}  // namespace

Value bound_method(Renderer& r, const Value& self, const std::string& name) {
  const Method* m = nullptr;
  bool mutating = false;
  if (self.is_string()) {
    m = find_method(kStrMethods, name);
  } else if (self.is_dict()) {
    m = find_method(kDictMethods, name);
    mutating = listed(kMutatingDict, name);
  } else if (self.is_list() && self.list_kind() != ListKind::Iterator) {
    m = find_method(kListMethods, name);
    mutating = self.list_kind() == ListKind::List && listed(kMutatingList, name);
  }
  if (mutating)
    return Value::undefined("access to attribute '" + name + "' of '" + self.type_name() +
                            "' object is unsafe (the sandbox forbids changing it)");
  if (!m) return Value();
  return Value::object(r.make<Function>(name, m->fn, self));
}

}  // namespace lowbit::chat
