#include "quant/quant_args.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace lowbit::quant {

using nlohmann::json;

namespace {

std::string lower(const std::string& s) { return to_lower(s); }

}  // namespace

Strategy parse_strategy(const std::string& s, const std::string& where) {
  static const std::pair<const char*, Strategy> kNames[] = {
      {"tensor", Strategy::Tensor}, {"channel", Strategy::Channel},         {"group", Strategy::Group},
      {"block", Strategy::Block},   {"token", Strategy::Token},             {"tensor_group", Strategy::TensorGroup},
      {"attn_head", Strategy::AttnHead}};
  for (auto& [n, v] : kNames)
    if (lower(s) == n) return v;
  throw UserError(where + ": unknown strategy '" + s + "' (tensor, channel, group, block, token, tensor_group, attn_head)");
}

namespace {

template <class T>
T get_as(const json& v, const std::string& where, const char* key, const char* what) {
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    throw UserError(where + ": " + key + " must be " + what + ", got " + v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

}  // namespace

std::string to_string(QType t) { return t == QType::Int ? "int" : "float"; }

std::string to_string(Strategy s) {
  switch (s) {
    case Strategy::Tensor: return "tensor";
    case Strategy::Channel: return "channel";
    case Strategy::Group: return "group";
    case Strategy::Block: return "block";
    case Strategy::Token: return "token";
    case Strategy::TensorGroup: return "tensor_group";
    case Strategy::AttnHead: return "attn_head";
  }
  return "?";
}

bool QuantArgs::is_dynamic() const { return !(dynamic.is_boolean() && !dynamic.get<bool>()); }
bool QuantArgs::actorder_group() const { return actorder && (*actorder == "group" || *actorder == "dynamic"); }

std::string actorder_group_removed(const std::string& where) {
  return where + ": actorder group (groups in activation order, weight_g_idx) was removed from compressed-tensors "
         "and llm-compressor in 2026-08: compressed-tensors now rejects a config that has it, so vLLM and "
         "transformers could not load the checkpoint. Use actorder static (= weight: the same GPTQ sweep order, "
         "groups kept in column order) or null";
}

int QuantArgs::qmax() const {
  return (1 << (num_bits - 1)) - 1;
}
int QuantArgs::qmin() const {
  return restricted_range && symmetric ? -qmax() : -(1 << (num_bits - 1));
}

QuantArgs parse_quant_args(const json& j, const std::string& where) {
  if (!j.is_object()) throw UserError(where + ": expected a mapping of quantization args, got " + j.dump(-1, ' ', false, json::error_handler_t::replace));
  static const std::set<std::string> kKeys = {"num_bits", "type",     "symmetric",   "group_size",
                                              "strategy", "block_structure", "dynamic", "actorder",
                                              "scale_dtype", "zp_dtype", "observer", "observer_kwargs"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kKeys.count(it.key()))
      throw UserError(where + ": unknown quantization arg '" + it.key() + "' (compressed-tensors forbids extra keys)");
  QuantArgs a;
  std::optional<Strategy> strategy;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "num_bits") {
      a.num_bits = get_as<int>(v, where, "num_bits", "an integer");
      if (a.num_bits < 1 || a.num_bits > 32) throw UserError(where + ": num_bits must be in 1..32");
    } else if (k == "type") {
      std::string t = lower(get_as<std::string>(v, where, "type", "\"int\" or \"float\""));
      if (t == "int") a.type = QType::Int;
      else if (t == "float") a.type = QType::Float;
      else throw UserError(where + ": type must be \"int\" or \"float\", got " + v.dump(-1, ' ', false, json::error_handler_t::replace));
    } else if (k == "symmetric") {
      a.symmetric = get_as<bool>(v, where, "symmetric", "true or false");
    } else if (k == "group_size") {
      if (!v.is_null()) {
        int g = get_as<int>(v, where, "group_size", "an integer");
        if (g < -1 || g == 0)
          throw UserError(where + ": invalid group_size " + std::to_string(g) +
                          " (use > 0 for strategy group, -1 for channel)");
        a.group_size = g;
      }
    } else if (k == "strategy") {
      if (!v.is_null()) strategy = parse_strategy(get_as<std::string>(v, where, "strategy", "a string"), where);
    } else if (k == "block_structure") {
      if (v.is_string()) {
        const auto b = parse_block_shape(v.get<std::string>(), where + ": block_structure");
        a.block_structure = std::vector<int>{b[0], b[1]};
      } else if (!v.is_null()) {
        a.block_structure = get_as<std::vector<int>>(v, where, "block_structure", "a list [rows, cols]");
      }
      if (a.block_structure && (a.block_structure->size() != 2 || (*a.block_structure)[0] <= 0 ||
                                (*a.block_structure)[1] <= 0))
        throw UserError(where + ": block_structure must be two positive ints [rows, cols]");
    } else if (k == "dynamic") {
      if (v.is_string()) {
        if (lower(v.get<std::string>()) != "local") throw UserError(where + ": dynamic must be true, false or \"local\"");
        a.dynamic = "local";
      } else {
        a.dynamic = get_as<bool>(v, where, "dynamic", "true, false or \"local\"");
      }
    } else if (k == "actorder") {
      if (v.is_boolean()) {
        if (v.get<bool>()) a.actorder = "group";
      } else if (!v.is_null()) {
        std::string s = lower(get_as<std::string>(v, where, "actorder", "a string"));
        if (s != "group" && s != "weight" && s != "static" && s != "dynamic")
          throw UserError(where + ": actorder must be group, weight, static, dynamic or null");
        a.actorder = s;
      }
    } else if (k == "scale_dtype" || k == "zp_dtype") {
      if (!v.is_null()) {
        std::string s = get_as<std::string>(v, where, k.c_str(), "a torch dtype string");
        if (s.rfind("torch.", 0) != 0) s = "torch." + s;
        (k == "scale_dtype" ? a.scale_dtype : a.zp_dtype) = s;
      }
    } else if (k == "observer") {
      if (!v.is_null()) a.observer = get_as<std::string>(v, where, "observer", "a string");
    } else if (k == "observer_kwargs") {
      if (!v.is_null() && !v.is_object()) throw UserError(where + ": observer_kwargs must be a mapping");
      if (!v.is_null()) a.observer_kwargs = v;
    }
  }
  // compressed-tensors' validate_model_after, in the same order.
  if (!strategy) {
    if (!a.group_size) strategy = Strategy::Tensor;
    else if (*a.group_size > 0) strategy = Strategy::Group;
    else strategy = Strategy::Channel;
  }
  a.strategy = *strategy;
  const bool dyn = a.is_dynamic();
  if (a.strategy == Strategy::Token && !dyn)
    throw UserError(where + ": static token quantization is impossible; use dynamic: true");
  if ((a.strategy == Strategy::Group || a.strategy == Strategy::TensorGroup) && (!a.group_size || *a.group_size <= 0))
    throw UserError(where + ": strategy " + to_string(a.strategy) + " requires a positive group_size");
  if (a.group_size && *a.group_size > 0 && a.strategy != Strategy::Group && a.strategy != Strategy::TensorGroup)
    throw UserError(where + ": group_size requires strategy group (or tensor_group)");
  if ((a.strategy == Strategy::Block) != a.block_structure.has_value())
    throw UserError(where + ": strategy block and block_structure go together");
  if (a.actorder && (*a.actorder == "group" || *a.actorder == "dynamic") && a.strategy != Strategy::Group &&
      a.strategy != Strategy::TensorGroup)
    throw UserError(where + ": actorder group needs strategy group or tensor_group");
  if (dyn) {
    if (a.strategy != Strategy::Token && a.strategy != Strategy::Tensor && a.strategy != Strategy::TensorGroup &&
        a.strategy != Strategy::Group)
      throw UserError(where + ": dynamic quantization needs strategy token, tensor, tensor_group or group");
    if (a.dynamic.is_string() && a.strategy != Strategy::TensorGroup)
      throw UserError(where + ": dynamic \"local\" is only for strategy tensor_group");
    if (a.dynamic.is_string()) {
      if (!a.observer) a.observer = "minmax";
    } else {
      a.observer.reset();
    }
  } else if (!a.observer) {
    a.observer = "memoryless_minmax";
  }
  if (!a.zp_dtype && !a.symmetric) {
    if (a.type == QType::Float) a.zp_dtype = "torch.float8_e4m3fn";
    else a.zp_dtype = a.num_bits <= 8 ? "torch.int8" : a.num_bits <= 16 ? "torch.int16" : "torch.int32";
  }
  if (a.symmetric) a.zp_dtype.reset();  // serialised as null when symmetric
  return a;
}

json to_json(const QuantArgs& a) {
  json j;
  j["num_bits"] = a.num_bits;
  j["type"] = to_string(a.type);
  j["symmetric"] = a.symmetric;
  j["group_size"] = a.group_size ? json(*a.group_size) : json(nullptr);
  j["strategy"] = to_string(a.strategy);
  j["block_structure"] = a.block_structure ? json(*a.block_structure) : json(nullptr);
  j["dynamic"] = a.dynamic;
  j["actorder"] = a.actorder ? json(*a.actorder) : json(nullptr);
  j["scale_dtype"] = a.scale_dtype ? json(*a.scale_dtype) : json(nullptr);
  j["zp_dtype"] = (!a.symmetric && a.zp_dtype) ? json(*a.zp_dtype) : json(nullptr);
  j["observer"] = a.observer ? json(*a.observer) : json(nullptr);
  j["observer_kwargs"] = a.observer_kwargs;
  return j;
}

QuantScheme parse_quant_scheme(const json& j, const std::string& where) {
  if (!j.is_object()) throw UserError(where + ": expected a mapping");
  QuantScheme s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "targets") {
      if (v.is_string()) s.targets = {v.get<std::string>()};
      else s.targets = get_as<std::vector<std::string>>(v, where, "targets", "a list of strings");
    } else if (k == "weights" || k == "input_activations" || k == "output_activations") {
      if (v.is_null()) continue;
      QuantArgs a = parse_quant_args(v, where + "." + k);
      if (k != "weights" && a.actorder) throw UserError(where + "." + k + ": actorder is only for weights");
      (k == "weights" ? s.weights : k == "input_activations" ? s.input_activations : s.output_activations) = a;
    } else if (k == "format") {
      if (!v.is_null()) s.format = get_as<std::string>(v, where, "format", "a string");
    } else {
      throw UserError(where + ": unknown scheme key '" + k + "' (targets, weights, input_activations, output_activations, format)");
    }
  }
  if (s.targets.empty()) throw UserError(where + ": targets is empty");
  return s;
}

std::array<int, 2> parse_block_shape(const std::string& text, const std::string& what) {
  auto x = text.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument(text);
    size_t a = 0, b = 0;
    const int r = std::stoi(text.substr(0, x), &a), c = std::stoi(text.substr(x + 1), &b);
    if (a != x || b != text.size() - x - 1 || r <= 0 || c <= 0) throw std::invalid_argument(text);
    return {r, c};
  } catch (const std::exception&) {
    throw UserError(what + " must look like 128x128");
  }
}

json to_json(const QuantScheme& s) {
  json j;
  j["targets"] = s.targets;
  j["weights"] = s.weights ? to_json(*s.weights) : json(nullptr);
  j["input_activations"] = s.input_activations ? to_json(*s.input_activations) : json(nullptr);
  j["output_activations"] = s.output_activations ? to_json(*s.output_activations) : json(nullptr);
  j["format"] = s.format ? json(*s.format) : json(nullptr);
  return j;
}

}  // namespace lowbit::quant
