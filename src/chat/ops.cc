#include "chat/ops.h"

#include <cmath>

#include "chat/objects.h"
#include "chat/text.h"

namespace lowbit::chat {

void undefined_error(const Value& u) {
  throw Error(u.undefined_hint().empty() ? "undefined value" : u.undefined_hint());
}

namespace {

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  throw Error(std::string("unsupported operand type(s) for ") + op + ": '" + a.type_name() + "' and '" +
              b.type_name() + "'");
}

bool is_int_like(const Value& v) { return v.is_int() || v.is_bool(); }

[[noreturn]] void overflow() { throw Error("integer overflow (the template engine uses 64-bit integers)"); }

int64_t add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
int64_t mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

// Python's float divmod: the quotient floors and the remainder takes the divisor's sign.
std::pair<double, double> float_divmod(double x, double y) {
  if (y == 0) throw Error("float division by zero");
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, x / y);
  }
  return {floordiv, mod};
}

Value repeat(const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value::string("") : Value::list({}, seq.list_kind());
  if (seq.is_string()) {
    if (seq.str().size() * uint64_t(n) > kMaxBuild) throw Error("string repetition result too large");
    std::string out;
    for (int64_t k = 0; k < n; ++k) out += seq.str();
    return Value::string(std::move(out));
  }
  if (seq.items().size() * uint64_t(n) > kMaxBuild / 16) throw Error("list repetition result too large");
  std::vector<Value> out;
  for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out), seq.list_kind());
}

bool is_sequence(const Value& v) { return v.is_list() && v.list_kind() != ListKind::Iterator; }

std::string object_name(const Value& v) {
  return v.is_none() ? std::string("'None'") : std::string("'") + v.type_name() + " object'";
}

}  // namespace

Value arithmetic(BinOp op, const Value& a, const Value& b) {
  defined(a);
  defined(b);
  const bool nums = a.is_number() && b.is_number();
  const bool ints = is_int_like(a) && is_int_like(b);
  switch (op) {
    case BinOp::Add:
      if (ints) return Value::integer(add(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_float() + b.as_float());
      if (a.is_string() && b.is_string()) {
        if (a.str().size() + b.str().size() > kMaxBuild) throw Error("string concatenation result too large");
        return Value::string(a.str() + b.str());
      }
      if (is_sequence(a) && is_sequence(b) && a.list_kind() == b.list_kind()) {
        if (a.items().size() + b.items().size() > kMaxBuild / 16) throw Error("list concatenation result too large");
        std::vector<Value> out = a.items();
        out.insert(out.end(), b.items().begin(), b.items().end());
        return Value::list(std::move(out), a.list_kind());
      }
      if (a.is_string())
        throw Error("can only concatenate str (not \"" + b.type_name() + "\") to str");
      if (is_sequence(a) && b.is_list())
        throw Error("can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " + a.type_name());
      unsupported("+", a, b);
    case BinOp::Sub:
      if (ints) return Value::integer(sub(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_float() - b.as_float());
      unsupported("-", a, b);
    case BinOp::Mul:
      if (ints) return Value::integer(mul(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_float() * b.as_float());
      if ((a.is_string() || is_sequence(a)) && is_int_like(b)) return repeat(a, b.as_int());
      if (is_int_like(a) && (b.is_string() || is_sequence(b))) return repeat(b, a.as_int());
      unsupported("*", a, b);
    case BinOp::Div:
      if (nums) {
        if (b.as_float() == 0) throw Error("division by zero");
        return Value::number(a.as_float() / b.as_float());
      }
      unsupported("/", a, b);
    case BinOp::FloorDiv:
    case BinOp::Mod:
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) throw Error("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) overflow();
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          m += y;
          q -= 1;
        }
        return Value::integer(op == BinOp::FloorDiv ? q : m);
      }
      if (nums) {
        const auto [q, m] = float_divmod(a.as_float(), b.as_float());
        return Value::number(op == BinOp::FloorDiv ? q : m);
      }
      if (op == BinOp::Mod && a.is_string())
        throw Error("printf-style '%' formatting of strings is not supported by lowbit's template engine");
      unsupported(op == BinOp::Mod ? "%" : "//", a, b);
    case BinOp::Pow:
      if (ints && b.as_int() >= 0) {
        int64_t base = a.as_int(), e = b.as_int(), out = 1;
        while (e > 0) {
          if (e & 1) out = mul(out, base);
          e >>= 1;
          if (e) base = mul(base, base);
        }
        return Value::integer(out);
      }
      if (nums) {
        if (a.as_float() == 0 && b.as_float() < 0) throw Error("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a.as_float(), b.as_float()));
      }
      unsupported("**", a, b);
    case BinOp::And:
    case BinOp::Or:
      break;
  }
  throw Error("internal: not an arithmetic operator");
}

Value negate(const Value& v, bool minus) {
  defined(v);
  if (is_int_like(v)) {
    if (!minus) return Value::integer(v.as_int());
    if (v.as_int() == INT64_MIN) overflow();
    return Value::integer(-v.as_int());
  }
  if (v.is_float()) return Value::number(minus ? -v.as_float() : v.as_float());
  throw Error(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" + v.type_name() + "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::Undefined:
      return false;  // Undefined iterates as empty
    case Value::Type::String:
      if (!item.is_string())
        throw Error("'in <string>' requires string as left operand, not " + item.type_name());
      return container.str().find(item.str()) != std::string::npos;
    case Value::Type::List:
      for (const Value& v : container.items())
        if (equal(v, item)) return true;
      return false;
    case Value::Type::Dict:
      return container.dict().find(item) != nullptr;
    default:
      throw Error("argument of type '" + container.type_name() + "' is not iterable");
  }
}

bool compare_op(CmpOp op, const Value& a, const Value& b) {
  switch (op) {
    case CmpOp::Eq: return equal(a, b);
    case CmpOp::Ne: return !equal(a, b);
    case CmpOp::In: return contains(b, a);
    case CmpOp::NotIn: return !contains(b, a);
    default: break;
  }
  defined(a);
  defined(b);
  if (a.is_float() && std::isnan(a.as_float())) return false;
  if (b.is_float() && std::isnan(b.as_float())) return false;
  const int c = compare(a, b);
  switch (op) {
    case CmpOp::Lt: return c < 0;
    case CmpOp::Le: return c <= 0;
    case CmpOp::Gt: return c > 0;
    case CmpOp::Ge: return c >= 0;
    default: return false;
  }
}

Value get_attr(Renderer& r, const Value& obj, const std::string& name) {
  if (obj.is_object()) return obj.object()->attribute(name, r);
  Value m = bound_method(r, obj, name);
  if (!m.is_undefined() || !m.undefined_hint().empty()) return m;  // a method, or an unsafe one
  if (obj.is_dict())
    if (const Value* v = obj.dict().find(name)) return *v;
  return Value::undefined(object_name(obj) + " has no attribute '" + name + "'");
}

Value get_item(Renderer& r, const Value& obj, const Value& key) {
  if (is_int_like(key) && (is_sequence(obj) || obj.is_string())) {
    const int64_t n = length(obj);
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined(object_name(obj) + " has no element " + std::to_string(key.as_int()));
    if (obj.is_string()) {
      const size_t b = text::byte_offset(obj.str(), i), e = text::byte_offset(obj.str(), i + 1);
      return Value::string(obj.str().substr(b, e - b));
    }
    return obj.items()[size_t(i)];
  }
  if (obj.is_dict())
    if (const Value* v = obj.dict().find(key)) return *v;
  if (key.is_string()) return get_attr(r, obj, key.str());  // Jinja falls back to the attribute
  return Value::undefined(object_name(obj) + " has no element " + (key.is_string() ? key.str() : key.type_name()));
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (!obj.is_string() && !is_sequence(obj)) return Value::undefined(object_name(obj) + " cannot be sliced");
  auto index = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (!is_int_like(v)) throw Error("slice indices must be integers or None");
    return v.as_int();
  };
  const int64_t st = index(step).value_or(1);
  if (st == 0) throw Error("slice step cannot be zero");
  const int64_t n = length(obj);
  auto adjust = [&](std::optional<int64_t> v, bool is_start) -> int64_t {
    if (!v) return is_start ? (st < 0 ? n - 1 : 0) : (st < 0 ? -1 : n);
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = adjust(index(start), true), e = adjust(index(stop), false);
  std::vector<int64_t> picks;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) picks.push_back(i);
  if (obj.is_string()) {
    const std::u32string cps = text::decode(obj.str());
    std::u32string out;
    for (int64_t i : picks) out += cps[size_t(i)];
    return Value::string(text::encode(out));
  }
  std::vector<Value> out;
  for (int64_t i : picks) out.push_back(obj.items()[size_t(i)]);
  return Value::list(std::move(out), obj.list_kind());
}

std::vector<Value> iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined:
      return {};
    case Value::Type::String: {
      std::vector<Value> out;
      for (char32_t c : text::decode(v.str())) out.push_back(Value::string(text::encode(std::u32string(1, c))));
      return out;
    }
    case Value::Type::List:
      return v.items();
    case Value::Type::Dict: {
      std::vector<Value> out;
      for (const auto& kv : v.dict().items) out.push_back(kv.first);
      return out;
    }
    default:
      throw Error("'" + v.type_name() + "' object is not iterable");
  }
}

int64_t length(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return 0;
    case Value::Type::String: return int64_t(text::length(v.str()));
    case Value::Type::List: return int64_t(v.items().size());
    case Value::Type::Dict: return int64_t(v.dict().items.size());
    default: throw Error("object of type '" + v.type_name() + "' has no len()");
  }
}

}  // namespace lowbit::chat
