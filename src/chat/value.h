// Template values with Python's semantics, since chat templates are Jinja run on Python
// objects: None, bool, int, float, str, list/tuple, dict (insertion-ordered, as json.loads
// gives it), Jinja's Undefined, and objects (namespaces, loop state, callables). Lists and
// dicts are immutable once built (transformers renders in Jinja's immutable sandbox), so
// values share them freely.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lowbit::chat {

// A template error. `line` 0 means not known yet: the renderer adds the line of the node it
// was evaluating. `raised` marks raise_exception() from the template itself.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, bool raised = false) : std::runtime_error(what), raised(raised) {}
  Error(int line, const std::string& what) : std::runtime_error(what), line(line) {}
  bool raised = false;
  int line = 0;
};

class Value;
class Object;
class Renderer;

enum class ListKind : uint8_t {
  List,
  Tuple,
  Iterator,  // a generator, dict view or reversed(): iterable, but Python prints no contents
};

// Lists and dicts nest at most this deep, so recursion over them (printing, comparing,
// freeing) stays far inside the stack; real chat data nests a few levels.
constexpr int kMaxNesting = 500;

struct ListData {
  std::vector<Value> items;
  ListKind kind = ListKind::List;
  int depth = 1;
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;  // insertion order; keys are distinct
  int depth = 1;                                // set by Value::dict
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(Value key, Value value);  // replaces an equal key in place, as a Python dict does
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

class Value {
 public:
  enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Object };

  Value() : v_(Undef{}) {}  // Undefined
  static Value undefined(std::string hint);
  static Value none() { return Value(Raw{}, nullptr); }
  static Value boolean(bool b) { return Value(Raw{}, b); }
  static Value integer(int64_t i) { return Value(Raw{}, i); }
  static Value number(double d) { return Value(Raw{}, d); }
  static Value string(std::string s) { return Value(Raw{}, Str(std::make_shared<const std::string>(std::move(s)))); }
  // Error past kMaxNesting levels.
  static Value list(std::vector<Value> items, ListKind kind = ListKind::List);
  static Value dict(DictData d);
  static Value object(Object* o) { return Value(Raw{}, o); }
  // JSON as json.loads gives it: objects keep their key order. UserError for integers past int64.
  static Value from_json(const nlohmann::ordered_json& j);

  Type type() const { return Type(v_.index()); }
  bool is_undefined() const { return type() == Type::Undefined; }
  bool is_none() const { return type() == Type::None; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_int() const { return type() == Type::Int; }
  bool is_float() const { return type() == Type::Float; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }  // Python: bool is an int
  bool is_string() const { return type() == Type::String; }
  bool is_list() const { return type() == Type::List; }
  bool is_dict() const { return type() == Type::Dict; }
  bool is_object() const { return type() == Type::Object; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const;  // bool or int
  double as_float() const;  // bool, int or float
  const std::string& str() const { return *std::get<Str>(v_); }
  const std::vector<Value>& items() const { return std::get<ListPtr>(v_)->items; }
  ListKind list_kind() const { return std::get<ListPtr>(v_)->kind; }
  const DictData& dict() const { return *std::get<DictPtr>(v_); }
  Object* object() const { return std::get<Object*>(v_); }
  const std::string& undefined_hint() const;
  // Identity of shared data, for Jinja's `sameas` test.
  const void* identity() const;

  bool truthy() const;  // Python's bool()
  int depth() const;    // nesting of lists and dicts: 0 for scalars
  // Python's type name as error messages show it: "str", "int", "dict", "NoneType".
  std::string type_name() const;

 private:
  struct Undef {
    std::shared_ptr<const std::string> hint;
  };
  using Str = std::shared_ptr<const std::string>;
  using ListPtr = std::shared_ptr<const ListData>;
  using DictPtr = std::shared_ptr<const DictData>;
  struct Raw {};
  static Value from_json(const nlohmann::ordered_json& j, int depth);
  template <class T>
  Value(Raw, T v) : v_(std::move(v)) {}
  std::variant<Undef, std::nullptr_t, bool, int64_t, double, Str, ListPtr, DictPtr, Object*> v_;
};

// Python ==, and the ordering of <, <=, >, >= (Error for types Python cannot order, or for
// values so large that comparing them would run away: shared sublists can make a small
// value a huge tree).
bool equal(const Value& a, const Value& b);
int compare(const Value& a, const Value& b);  // <0, 0, >0

// Objects live in the renderer's arena for one render call (so namespaces that hold
// themselves, or macros that hold their own scope, never leak).
class Object {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  virtual Value attribute(const std::string& name, Renderer& r);  // Undefined if absent
  virtual bool callable() const { return false; }
  virtual Value call(Renderer& r, CallArgs& args);
};

// Binds call arguments to parameter names as Python does (`what` names the callee in
// errors); a parameter not given is nullopt. Error for extra or unknown arguments.
std::vector<std::optional<Value>> bind_args(const CallArgs& args, const std::vector<std::string>& names,
                                            const std::string& what);

}  // namespace lowbit::chat
