#include "chat/objects.h"

#include <sys/time.h>

#include <ctime>

#include "chat/format.h"
#include "chat/ops.h"

namespace lowbit::chat {

Value Namespace::attribute(const std::string& name, Renderer&) {
  if (const Value* v = attrs.find(name)) return *v;
  return Value::undefined("'Namespace object' has no attribute '" + name + "'");
}

void Namespace::set(const std::string& name, Value v) {
  if (!name.empty() && name[0] == '_')
    throw Error("chat templates cannot store underscore-prefixed attributes on a namespace ('" + name + "')");
  attrs.set(Value::string(name), std::move(v));
}

Value LoopState::attribute(const std::string& name, Renderer& r) {
  const int64_t n = int64_t(items.size()), i = int64_t(index0);
  if (name == "index") return Value::integer(i + 1);
  if (name == "index0") return Value::integer(i);
  if (name == "revindex") return Value::integer(n - i);
  if (name == "revindex0") return Value::integer(n - i - 1);
  if (name == "first") return Value::boolean(i == 0);
  if (name == "last") return Value::boolean(i == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(1);
  if (name == "depth0") return Value::integer(0);
  if (name == "previtem") return i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item");
  if (name == "nextitem") return i + 1 < n ? items[size_t(i + 1)] : Value::undefined("there is no next item");
  if (name == "cycle")
    return Value::object(r.make<Function>("cycle", [](Renderer&, const Value& self, CallArgs& a) {
      if (!a.keywords.empty()) throw Error("loop.cycle() takes no keyword arguments");
      if (a.positional.empty()) throw Error("no items for cycling given");
      const auto* loop = static_cast<LoopState*>(self.object());
      return a.positional[loop->index0 % a.positional.size()];
    }, Value::object(this)));
  if (name == "changed")
    return Value::object(r.make<Function>("changed", [](Renderer&, const Value& self, CallArgs& a) {
      auto* loop = static_cast<LoopState*>(self.object());
      bool same = loop->changed_called && loop->last_changed.size() == a.positional.size();
      for (size_t k = 0; same && k < a.positional.size(); ++k) same = equal(loop->last_changed[k], a.positional[k]);
      loop->changed_called = true;
      loop->last_changed = a.positional;
      return Value::boolean(!same);
    }, Value::object(this)));
  return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
}

namespace {

// dict(*args, **kwargs) as Python builds it: a mapping or an iterable of pairs, then keywords.
DictData dict_from(const CallArgs& a, const char* what) {
  if (a.positional.size() > 1)
    throw Error(std::string(what) + " expected at most 1 argument, got " + std::to_string(a.positional.size()));
  DictData d;
  if (!a.positional.empty()) {
    const Value& src = a.positional[0];
    if (src.is_dict()) {
      d = src.dict();
    } else if (auto* ns = src.is_object() ? dynamic_cast<Namespace*>(src.object()) : nullptr) {
      d = ns->attrs;
    } else {
      for (const Value& pair : iterate(defined(src))) {
        const std::vector<Value> kv = iterate(pair);
        if (kv.size() != 2) throw Error("dictionary update sequence element has length " + std::to_string(kv.size()) +
                                        "; 2 is required");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.keywords) d.set(Value::string(k), v);
  return d;
}

Value range_fn(Renderer&, const Value&, CallArgs& a) {
  if (!a.keywords.empty()) throw Error("range() takes no keyword arguments");
  if (a.positional.empty() || a.positional.size() > 3)
    throw Error("range expected 1 to 3 arguments, got " + std::to_string(a.positional.size()));
  std::vector<int64_t> v;
  for (const Value& x : a.positional) {
    if (!x.is_int() && !x.is_bool()) throw Error("'" + x.type_name() + "' object cannot be interpreted as an integer");
    v.push_back(x.as_int());
  }
  const int64_t start = v.size() == 1 ? 0 : v[0], stop = v.size() == 1 ? v[0] : v[1], step = v.size() == 3 ? v[2] : 1;
  if (step == 0) throw Error("range() arg 3 must not be zero");
  // Jinja's sandbox refuses ranges past MAX_RANGE items.
  using Wide = __int128;
  const Wide count = step > 0 ? (stop > start ? (Wide(stop) - start - 1) / step + 1 : 0)
                              : (stop < start ? (Wide(start) - stop - 1) / -Wide(step) + 1 : 0);
  if (count > 100000) throw Error("range too big: the sandbox allows at most 100000 items");
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(Value::integer(i));
  return Value::list(std::move(out), ListKind::Iterator);
}

Value strftime_now_fn(Renderer&, const Value&, CallArgs& a) {
  const auto p = bind_args(a, {"format"}, "strftime_now");
  if (!p[0] || !p[0]->is_string()) throw Error("strftime_now() needs a format string");
  timeval tv;
  gettimeofday(&tv, nullptr);
  std::tm tm;
  localtime_r(&tv.tv_sec, &tm);
  // datetime.now() is naive: %z and %Z are empty; %f is the microseconds (Python's own).
  const std::string& f = p[0]->str();
  std::string fmt;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%' || i + 1 == f.size()) {
      fmt += f[i];
      continue;
    }
    const char c = f[++i];
    if (c == 'f') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%06ld", long(tv.tv_usec));
      fmt += buf;
    } else if (c == 'z' || c == 'Z') {
    } else if (c == ':' && i + 1 < f.size() && f[i + 1] == 'z') {
      ++i;
    } else {
      fmt += '%';
      fmt += c;
    }
  }
  std::string out(fmt.size() * 8 + 64, '\0');
  out.resize(std::strftime(out.data(), out.size(), fmt.c_str(), &tm));
  return Value::string(out);
}

Value unsupported_global(Renderer&, const Value& self, CallArgs&) {
  throw Error("the Jinja global '" + self.str() + "' is not supported by lowbit's template engine");
}

}  // namespace

void add_globals(Renderer& r, Scope& g) {
  auto fn = [&](const char* name, NativeFn f, Value self = {}) {
    g.set(name, Value::object(r.make<Function>(name, f, std::move(self))));
  };
  fn("range", range_fn);
  fn("dict", [](Renderer&, const Value&, CallArgs& a) { return Value::dict(dict_from(a, "dict")); });
  fn("namespace", [](Renderer& r, const Value&, CallArgs& a) {
    auto* ns = r.make<Namespace>();
    for (auto& [k, v] : dict_from(a, "namespace").items) {
      if (!k.is_string()) throw Error("namespace attribute names must be strings");
      ns->set(k.str(), v);
    }
    return Value::object(ns);
  });
  fn("raise_exception", [](Renderer&, const Value&, CallArgs& a) -> Value {
    const auto p = bind_args(a, {"message"}, "raise_exception");
    throw Error(p[0] ? py_str(*p[0]) : "", true);
  });
  fn("strftime_now", strftime_now_fn);
  for (const char* name : {"lipsum", "cycler", "joiner"}) fn(name, unsupported_global, Value::string(name));
}

}  // namespace lowbit::chat
