#include "chat/filters.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/format.h"
#include "chat/objects.h"
#include "chat/ops.h"
#include "chat/tests.h"
#include "chat/text.h"

namespace lowbit::chat {

namespace {

using P = std::vector<std::optional<Value>>;

std::string s_of(const std::optional<Value>& v, const std::string& fallback = "") { return v ? py_str(*v) : fallback; }
bool b_of(const std::optional<Value>& v, bool fallback = false) { return v ? v->truthy() : fallback; }

// Jinja's attribute getter: "a.b.0" looks up a, then b, then item 0 (digits become ints).
Value lookup_path(Renderer& r, Value v, const std::string& path) {
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    defined(v);
    v = digits ? get_item(r, v, Value::integer(std::stoll(part))) : get_item(r, v, Value::string(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// The key a sort compares: the attribute (comma-separated attributes give a tuple), lowered
// when not case-sensitive.
Value sort_key(Renderer& r, const Value& item, const std::optional<Value>& attribute, bool case_sensitive) {
  auto fold = [&](Value v) { return !case_sensitive && v.is_string() ? Value::string(text::lower(v.str())) : v; };
  if (!attribute || attribute->is_none()) return fold(item);
  const std::string attrs = py_str(*attribute);
  if (attrs.find(',') == std::string::npos) return fold(lookup_path(r, item, attrs));
  std::vector<Value> parts;
  for (const std::string& a : text::split(attrs, ",", false, -1, false)) parts.push_back(fold(lookup_path(r, item, a)));
  return Value::list(std::move(parts), ListKind::Tuple);
}

bool less(const Value& a, const Value& b) { return compare(a, b) < 0; }

Value f_default(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"default_value", "boolean"}, "default");
  if (v.is_undefined() || (b_of(p[1]) && !v.truthy())) return p[0] ? *p[0] : Value::string("");
  return v;
}

Value f_length(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "length");
  return Value::integer(length(v));
}

Value f_upper(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "upper");
  return Value::string(text::upper(py_str(v)));
}
Value f_lower(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "lower");
  return Value::string(text::lower(py_str(v)));
}
Value f_capitalize(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "capitalize");
  return Value::string(text::capitalize(py_str(v)));
}

// Jinja's title is not str.title: words start after '-', whitespace or an opening bracket.
Value f_title(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "title");
  std::u32string cps = text::decode(py_str(v));
  bool start = true;
  for (char32_t& c : cps) {
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || text::is_space(c);
    if (sep) {
      start = true;
      continue;
    }
    c = text::decode(start ? text::upper(text::encode(std::u32string(1, c)))
                           : text::lower(text::encode(std::u32string(1, c))))[0];
    start = false;
  }
  return Value::string(text::encode(cps));
}

Value f_trim(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"chars"}, "trim");
  if (p[0] && !p[0]->is_none()) {
    const std::u32string chars = text::decode(py_str(*p[0]));
    return Value::string(text::strip(py_str(v), &chars, true, true));
  }
  return Value::string(text::strip(py_str(v), nullptr, true, true));
}

Value f_replace(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"old", "new", "count"}, "replace");
  if (!p[0] || !p[1]) throw Error("replace needs the old and new strings");
  const int64_t count = p[2] && !p[2]->is_none() ? p[2]->as_int() : -1;
  std::string out = text::replace(py_str(v), py_str(*p[0]), py_str(*p[1]), count);
  if (out.size() > kMaxBuild) throw Error("replace result too large");
  return Value::string(std::move(out));
}

Value f_join(Renderer& r, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"d", "attribute"}, "join");
  const std::string sep = s_of(p[0]);
  std::string out;
  bool first = true;
  for (const Value& x : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += py_str(p[1] && !p[1]->is_none() ? lookup_path(r, x, py_str(*p[1])) : x);
    if (out.size() > kMaxBuild) throw Error("join result too large");
  }
  return Value::string(std::move(out));
}

Value f_first(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "first");
  const std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "last");
  if (v.is_list() && v.list_kind() == ListKind::Iterator) throw Error("a generator cannot be reversed (last)");
  const std::vector<Value> items = iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "list");
  return Value::list(iterate(v));
}

Value f_items(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "items");
  if (v.is_undefined()) return Value::list({}, ListKind::Iterator);
  if (!v.is_dict()) throw Error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict().items) out.push_back(Value::list({k, x}, ListKind::Tuple));
  return Value::list(std::move(out), ListKind::Iterator);
}

Value f_dictsort(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"case_sensitive", "by", "reverse"}, "dictsort");
  if (!v.is_dict()) throw Error("dictsort needs a mapping, not " + v.type_name());
  const std::string by = s_of(p[1], "key");
  if (by != "key" && by != "value") throw Error("You can only sort by either \"key\" or \"value\"");
  const bool cs = b_of(p[0]), rev = b_of(p[2]);
  std::vector<std::pair<Value, Value>> items = v.dict().items;
  auto key = [&](const std::pair<Value, Value>& kv) {
    const Value& x = by == "key" ? kv.first : kv.second;
    return !cs && x.is_string() ? Value::string(text::lower(x.str())) : x;
  };
  std::stable_sort(items.begin(), items.end(),
                   [&](const auto& x, const auto& y) { return rev ? less(key(y), key(x)) : less(key(x), key(y)); });
  std::vector<Value> out;
  for (auto& [k, x] : items) out.push_back(Value::list({k, x}, ListKind::Tuple));
  return Value::list(std::move(out));
}

Value f_sort(Renderer& r, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"reverse", "case_sensitive", "attribute"}, "sort");
  const bool rev = b_of(p[0]), cs = b_of(p[1]);
  std::vector<Value> items = iterate(v);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) keyed.emplace_back(sort_key(r, items[i], p[2], cs), i);
  std::stable_sort(keyed.begin(), keyed.end(),
                   [&](const auto& x, const auto& y) { return rev ? less(y.first, x.first) : less(x.first, y.first); });
  std::vector<Value> out;
  for (const auto& k : keyed) out.push_back(items[k.second]);
  return Value::list(std::move(out));
}

Value f_unique(Renderer& r, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"case_sensitive", "attribute"}, "unique");
  std::vector<Value> seen, out;
  for (const Value& x : iterate(v)) {
    Value k = sort_key(r, x, p[1], b_of(p[0]));
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
      seen.push_back(std::move(k));
      out.push_back(x);
    }
  }
  return Value::list(std::move(out), ListKind::Iterator);
}

Value min_max(Renderer& r, const Value& v, const CallArgs& a, bool max) {
  const P p = bind_args(a, {"case_sensitive", "attribute"}, max ? "max" : "min");
  const std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(r, items[0], p[1], b_of(p[0]));
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(r, items[i], p[1], b_of(p[0]));
    if (max ? less(best_key, k) : less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value f_sum(Renderer& r, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"attribute", "start"}, "sum");
  Value total = p[1] ? *p[1] : Value::integer(0);
  for (const Value& x : iterate(v))
    total = arithmetic(BinOp::Add, total, p[0] && !p[0]->is_none() ? lookup_path(r, x, py_str(*p[0])) : x);
  return total;
}

Value f_reverse(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "reverse");
  if (v.is_string()) {
    std::u32string cps = text::decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value::string(text::encode(cps));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  // reversed() of a list or dict is an iterator; a generator is listed first, so a list.
  const bool was_generator = v.is_list() && v.list_kind() == ListKind::Iterator;
  return Value::list(std::move(items), was_generator ? ListKind::List : ListKind::Iterator);
}

// map(attribute='x', default=...) or map('filter', args...).
Value f_map(Renderer& r, const Value& v, const CallArgs& a) {
  std::vector<Value> out;
  const std::vector<Value> items = iterate(v);
  std::optional<Value> attribute, fallback;
  for (const auto& [k, x] : a.keywords) {
    if (k == "attribute") attribute = x;
    else if (k == "default") fallback = x;
  }
  if (attribute) {
    for (const auto& [k, x] : a.keywords)
      if (k != "attribute" && k != "default") throw Error("map() got an unexpected keyword argument '" + k + "'");
    for (const Value& x : items) {
      Value got = lookup_path(r, x, py_str(*attribute));
      out.push_back(got.is_undefined() && fallback ? *fallback : got);
    }
    return Value::list(std::move(out), ListKind::Iterator);
  }
  if (a.positional.empty()) throw Error("map requires a filter argument");
  const std::string name = py_str(a.positional[0]);
  const FilterFn* fn = find_filter(name);
  if (!fn) throw Error("no filter named '" + name + "'");
  CallArgs rest{{a.positional.begin() + 1, a.positional.end()}, a.keywords};
  for (const Value& x : items) out.push_back(fn->fn(r, x, rest));
  return Value::list(std::move(out), ListKind::Iterator);
}

// select / reject / selectattr / rejectattr.
Value select(Renderer& r, const Value& v, const CallArgs& a, bool keep, bool by_attr) {
  size_t k = 0;
  std::string attr;
  if (by_attr) {
    if (a.positional.empty()) throw Error("selectattr/rejectattr need an attribute name");
    attr = py_str(a.positional[k++]);
  }
  const TestFn* test = nullptr;
  if (k < a.positional.size()) {
    const std::string name = py_str(a.positional[k++]);
    test = find_test(name);
    if (!test) throw Error("no test named '" + name + "'");
  }
  CallArgs rest{{a.positional.begin() + std::ptrdiff_t(k), a.positional.end()}, a.keywords};
  std::vector<Value> out;
  for (const Value& x : iterate(v)) {
    const Value probe = by_attr ? lookup_path(r, x, attr) : x;
    const bool pass = test ? test->fn(r, probe, rest) : probe.truthy();
    if (pass == keep) out.push_back(x);
  }
  return Value::list(std::move(out), ListKind::Iterator);
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson");
  JsonOptions o;
  o.ensure_ascii = b_of(p[0]);
  o.sort_keys = b_of(p[3]);
  if (p[1] && !p[1]->is_none()) {
    if (p[1]->is_string()) {
      o.indent = p[1]->str();
    } else if (p[1]->is_int() || p[1]->is_bool()) {
      o.indent = std::string(size_t(std::clamp<int64_t>(p[1]->as_int(), 0, 1 << 16)), ' ');
    } else {
      throw Error("tojson indent must be an int or a str");
    }
    o.item_separator = ",";
  }
  if (p[2] && !p[2]->is_none()) {
    const std::vector<Value> seps = iterate(*p[2]);
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string())
      throw Error("tojson separators must be a pair of strings");
    o.item_separator = seps[0].str();
    o.key_separator = seps[1].str();
  }
  std::string out = to_json(v, o);
  if (out.size() > kMaxBuild) throw Error("tojson result too large");
  return Value::string(std::move(out));
}

Value f_string(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "string");
  return Value::string(py_str(v));
}

// Python's float(str): surrounding whitespace, underscores between digits, inf/nan.
std::optional<double> parse_float(const std::string& raw) {
  std::string s = text::strip(raw, nullptr, true, true), t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit((unsigned char)s[i - 1]) || !std::isdigit((unsigned char)s[i + 1]))
        return std::nullopt;
      continue;
    }
    t += s[i];
  }
  if (t.empty()) return std::nullopt;
  const std::string body = (t[0] == '+' || t[0] == '-') ? t.substr(1) : t;
  const double sign = t[0] == '-' ? -1.0 : 1.0;
  const std::string low = text::lower(body);
  if (low == "inf" || low == "infinity") return sign * INFINITY;
  if (low == "nan") return NAN;
  if (body.empty() || !(std::isdigit((unsigned char)body[0]) || body[0] == '.')) return std::nullopt;
  double d;
  const auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ec != std::errc() || r.ptr != body.data() + body.size()) return std::nullopt;
  return sign * d;
}

// Python's int(str, base) for the bases templates use.
std::optional<int64_t> parse_int(const std::string& raw, int64_t base) {
  std::string s = text::strip(raw, nullptr, true, true);
  if (s.empty()) return std::nullopt;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (base == 16 && s.compare(i, 2, "0x") == 0) i += 2;
  if (i >= s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t k = i; k < s.size(); ++k) {
    if (s[k] == '_' && k > i && k + 1 < s.size() && s[k + 1] != '_') continue;
    const char c = char(std::tolower((unsigned char)s[k]));
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
    if (v > (INT64_MAX - d) / base) throw Error("integer too large for the template engine");
    v = v * base + d;
  }
  return neg ? -v : v;
}

Value float_to_int(double d) {
  if (std::isnan(d) || std::isinf(d)) throw Error("cannot convert float " + float_repr(d) + " to integer");
  if (std::fabs(d) >= 9.2e18) throw Error("integer too large for the template engine");
  return Value::integer(int64_t(std::trunc(d)));
}

Value f_int(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"default", "base"}, "int");
  const Value fallback = p[0] ? *p[0] : Value::integer(0);
  const int64_t base = p[1] && !p[1]->is_none() ? p[1]->as_int() : 10;
  if (base < 2 || base > 36) throw Error("int() base must be >= 2 and <= 36");
  if (v.is_string()) {
    if (auto i = parse_int(v.str(), base)) return Value::integer(*i);
    if (auto d = parse_float(v.str())) return float_to_int(*d);  // "42.23"|int is 42
    return fallback;
  }
  if (v.is_bool() || v.is_int()) return Value::integer(v.as_int());
  if (v.is_float()) return float_to_int(v.as_float());
  return fallback;
}

Value f_float(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"default"}, "float");
  const Value fallback = p[0] ? *p[0] : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string())
    if (auto d = parse_float(v.str())) return Value::number(*d);
  return fallback;
}

Value f_abs(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "abs");
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) return negate(v, v.as_int() < 0);
  throw Error("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"precision", "method"}, "round");
  const int64_t prec = p[0] ? p[0]->as_int() : 0;
  const std::string method = s_of(p[1], "common");
  if (method != "common" && method != "ceil" && method != "floor")
    throw Error("method must be 'common', 'ceil' or 'floor'");
  if (!v.is_number()) throw Error("round() needs a number, not " + v.type_name());
  if (method == "common") {
    if (!v.is_float()) return Value::integer(v.as_int());  // round(int, n) stays an int
    const double d = v.as_float();
    if (std::isnan(d) || std::isinf(d) || prec > 300) return v;
    if (prec >= 0) {
      // printf rounds the exact binary value half-to-even at the digit, as Python's round() does.
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", int(prec), d);
      return Value::number(std::strtod(buf, nullptr));
    }
    const double m = std::pow(10.0, double(-prec));
    return Value::number(std::nearbyint(d / m) * m);
  }
  const double m = std::pow(10.0, double(prec));
  const double x = v.as_float() * m;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / m);
}

Value f_safe(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "safe");
  return Value::string(py_str(v));
}

Value f_escape(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "escape");
  std::string out;
  for (char c : py_str(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value::string(std::move(out));
}

// indent(width=4, first=False, blank=False), Jinja 3.1's rules (it splits with splitlines).
Value f_indent(Renderer&, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"width", "first", "blank"}, "indent");
  std::string pad = "    ";
  if (p[0]) {
    if (p[0]->is_string()) pad = p[0]->str();
    else pad = std::string(size_t(std::clamp<int64_t>(p[0]->as_int(), 0, 1 << 16)), ' ');
  }
  const std::vector<std::string> lines = text::splitlines(py_str(v) + "\n", false);
  std::string out;
  if (b_of(p[2])) {
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" + pad : "") + lines[i];
  } else {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) out += "\n" + (lines[i].empty() ? "" : pad);
      out += lines[i];
    }
  }
  if (b_of(p[1])) out = pad + out;
  if (out.size() > kMaxBuild) throw Error("indent result too large");
  return Value::string(std::move(out));
}

Value f_center(Renderer& r, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"width"}, "center");
  CallArgs args{{p[0] ? *p[0] : Value::integer(80)}, {}};
  return bound_method(r, Value::string(py_str(v)), "center").object()->call(r, args);
}

Value f_wordcount(Renderer&, const Value& v, const CallArgs& a) {
  bind_args(a, {}, "wordcount");
  int64_t n = 0;
  bool in = false;
  for (char32_t c : text::decode(py_str(v))) {
    const bool w = text::is_alpha(c) || text::is_numeric(c) || c == '_';
    n += w && !in;
    in = w;
  }
  return Value::integer(n);
}

Value f_attr(Renderer& r, const Value& v, const CallArgs& a) {
  const P p = bind_args(a, {"name"}, "attr");
  const std::string name = s_of(p[0]);
  if (v.is_object()) return v.object()->attribute(name, r);
  const Value m = bound_method(r, v, name);  // a real attribute only: no item fallback
  return m.is_undefined() && m.undefined_hint().empty()
             ? Value::undefined("'" + v.type_name() + " object' has no attribute '" + name + "'")
             : m;
}

const FilterFn kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_escape},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", [](Renderer& r, const Value& v, const CallArgs& a) { return min_max(r, v, a, true); }},
    {"min", [](Renderer& r, const Value& v, const CallArgs& a) { return min_max(r, v, a, false); }},
    {"reject", [](Renderer& r, const Value& v, const CallArgs& a) { return select(r, v, a, false, false); }},
    {"rejectattr", [](Renderer& r, const Value& v, const CallArgs& a) { return select(r, v, a, false, true); }},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", [](Renderer& r, const Value& v, const CallArgs& a) { return select(r, v, a, true, false); }},
    {"selectattr", [](Renderer& r, const Value& v, const CallArgs& a) { return select(r, v, a, true, true); }},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

// Jinja's other built-in filters: named in the error so it says "not supported", not "unknown".
const char* const kJinjaOnly[] = {"batch",    "filesizeformat", "format", "groupby", "pprint",  "random",
                                  "slice",    "striptags",      "truncate", "urlencode", "urlize", "wordwrap",
                                  "xmlattr"};

}  // namespace

const FilterFn* find_filter(const std::string& name) {
  for (const FilterFn& f : kFilters)
    if (name == f.name) return &f;
  return nullptr;
}

bool is_jinja_filter(const std::string& name) {
  return std::find_if(std::begin(kJinjaOnly), std::end(kJinjaOnly), [&](const char* n) { return name == n; }) !=
         std::end(kJinjaOnly);
}

}  // namespace lowbit::chat
