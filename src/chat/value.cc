#include "chat/value.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lowbit::chat {

Value Value::undefined(std::string hint) {
  Value v;
  v.v_ = Undef{std::make_shared<const std::string>(std::move(hint))};
  return v;
}

namespace {
void check_depth(int depth) {
  if (depth > kMaxNesting) throw Error("lists and dicts nested deeper than " + std::to_string(kMaxNesting));
}
}  // namespace

Value Value::list(std::vector<Value> items, ListKind kind) {
  auto d = std::make_shared<ListData>();
  for (const Value& v : items) d->depth = std::max(d->depth, v.depth() + 1);
  check_depth(d->depth);
  d->items = std::move(items);
  d->kind = kind;
  return Value(Raw{}, ListPtr(std::move(d)));
}

Value Value::dict(DictData d) {
  d.depth = 1;
  for (const auto& [k, v] : d.items) d.depth = std::max({d.depth, k.depth() + 1, v.depth() + 1});
  check_depth(d.depth);
  return Value(Raw{}, DictPtr(std::make_shared<const DictData>(std::move(d))));
}

int Value::depth() const {
  if (is_list()) return std::get<ListPtr>(v_)->depth;
  if (is_dict()) return std::get<DictPtr>(v_)->depth;
  return 0;
}

Value Value::from_json(const nlohmann::ordered_json& j) { return from_json(j, 0); }

Value Value::from_json(const nlohmann::ordered_json& j, int depth) {
  if (depth >= kMaxNesting) throw UserError("JSON nested deeper than " + std::to_string(kMaxNesting) + " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return none();
    case nlohmann::ordered_json::value_t::boolean:
      return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
      if (j.get<uint64_t>() > uint64_t(INT64_MAX))
        throw UserError("integer " + j.dump() + " is too large for the template engine (64-bit integers)");
      return integer(int64_t(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float:
      return number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(x, depth + 1));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      DictData d;
      d.items.reserve(j.size());
      for (const auto& [k, v] : j.items()) d.items.emplace_back(string(k), from_json(v, depth + 1));
      return dict(std::move(d));
    }
    default:
      throw UserError("unsupported JSON value in template input");
  }
}

int64_t Value::as_int() const { return is_bool() ? int64_t(as_bool()) : std::get<int64_t>(v_); }

double Value::as_float() const { return is_float() ? std::get<double>(v_) : double(as_int()); }

const std::string& Value::undefined_hint() const {
  static const std::string none;
  const auto& h = std::get<Undef>(v_).hint;
  return h ? *h : none;
}

const void* Value::identity() const {
  switch (type()) {
    case Type::String: return std::get<Str>(v_).get();
    case Type::List: return std::get<ListPtr>(v_).get();
    case Type::Dict: return std::get<DictPtr>(v_).get();
    case Type::Object: return object();
    default: return nullptr;
  }
}

bool Value::truthy() const {
  switch (type()) {
    case Type::Undefined: case Type::None: return false;
    case Type::Bool: return as_bool();
    case Type::Int: return as_int() != 0;
    case Type::Float: return as_float() != 0.0;
    case Type::String: return !str().empty();
    case Type::List: return list_kind() == ListKind::Iterator || !items().empty();  // a generator is always true
    case Type::Dict: return !dict().items.empty();
    case Type::Object: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (type()) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::List:
      return list_kind() == ListKind::Tuple ? "tuple" : list_kind() == ListKind::List ? "list" : "generator";
    case Type::Dict: return "dict";
    case Type::Object: return object()->type_name();
  }
  return "?";
}

const Value* DictData::find(const Value& key) const {
  for (const auto& [k, v] : items)
    if (equal(k, key)) return &v;
  return nullptr;
}

const Value* DictData::find(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k.is_string() && k.str() == key) return &v;
  return nullptr;
}

void DictData::set(Value key, Value value) {
  for (auto& [k, v] : items)
    if (equal(k, key)) {
      v = std::move(value);
      return;
    }
  items.emplace_back(std::move(key), std::move(value));
}

namespace {

// Work left for one top-level comparison.
struct Budget {
  int64_t left = 10'000'000;
  void spend() {
    if (--left < 0) throw Error("values too large to compare");
  }
};

bool equal(const Value& a, const Value& b, Budget& budget);
int compare(const Value& a, const Value& b, Budget& budget);

bool equal(const Value& a, const Value& b, Budget& budget) {
  budget.spend();
  using T = Value::Type;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::Undefined: case T::None: return true;
    case T::String: return a.str() == b.str();
    case T::List: {
      if (a.identity() == b.identity()) return true;
      const bool at = a.list_kind() == ListKind::Tuple, bt = b.list_kind() == ListKind::Tuple;
      if (at != bt || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!equal(a.items()[i], b.items()[i], budget)) return false;
      return true;
    }
    case T::Dict: {
      if (a.dict().items.size() != b.dict().items.size()) return false;
      for (const auto& [k, v] : a.dict().items) {
        const Value* w = nullptr;
        for (const auto& [k2, v2] : b.dict().items)
          if (equal(k, k2, budget)) w = &v2;
        if (!w || !equal(v, *w, budget)) return false;
      }
      return true;
    }
    case T::Object: return a.object() == b.object();
    default: return false;
  }
}

int compare(const Value& a, const Value& b, Budget& budget) {
  budget.spend();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : x > y ? 1 : 0;  // NaN compares equal-ish; Python's < and > are both false too
    }
    const int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code-point order, which is Python's string order.
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.list_kind() == b.list_kind() && a.list_kind() != ListKind::Iterator) {
    const auto &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equal(x[i], y[i], budget)) return compare(x[i], y[i], budget);
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw Error("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace

bool equal(const Value& a, const Value& b) {
  Budget budget;
  return equal(a, b, budget);
}

int compare(const Value& a, const Value& b) {
  Budget budget;
  return compare(a, b, budget);
}

Value Object::attribute(const std::string& name, Renderer&) {
  std::string hint = "'";
  hint += type_name();
  hint += " object' has no attribute '" + name + "'";
  return Value::undefined(std::move(hint));
}

Value Object::call(Renderer&, CallArgs&) { throw Error("'" + type_name() + "' object is not callable"); }

std::vector<std::optional<Value>> bind_args(const CallArgs& args, const std::vector<std::string>& names,
                                            const std::string& what) {
  if (args.positional.size() > names.size())
    throw Error(what + "() takes at most " + std::to_string(names.size()) + " argument(s) (" +
                std::to_string(args.positional.size()) + " given)");
  std::vector<std::optional<Value>> out(names.size());
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [k, v] : args.keywords) {
    size_t i = 0;
    while (i < names.size() && names[i] != k) ++i;
    if (i == names.size()) throw Error(what + "() got an unexpected keyword argument '" + k + "'");
    if (out[i]) throw Error(what + "() got multiple values for argument '" + k + "'");
    out[i] = v;
  }
  return out;
}

}  // namespace lowbit::chat
