#include "quant/quant_args.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace lowbit::quant {

using nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

Strategy parse_strategy(const std::string& s, const std::string& where) {
  static const std::pair<const char*, Strategy> kNames[] = {
      {"tensor", Strategy::Tensor}, {"channel", Strategy::Channel},         {"group", Strategy::Group},
      {"block", Strategy::Block},   {"token", Strategy::Token},             {"tensor_group", Strategy::TensorGroup},
      {"attn_head", Strategy::AttnHead}};
  for (auto& [n, v] : kNames)
    if (lower(s) == n) return v;
  throw UserError(where + ": unknown strategy '" + s + "' (tensor, channel, group, block, token, tensor_group, attn_head)");
}

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
        std::string s = v.get<std::string>();
        auto x = s.find('x');
        try {
          if (x == std::string::npos) throw std::invalid_argument(s);
          a.block_structure = std::vector<int>{std::stoi(s.substr(0, x)), std::stoi(s.substr(x + 1))};
        } catch (const std::exception&) {
          throw UserError(where + ": invalid block_structure '" + s + "'");
        }
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
  const bool dyn = !(a.dynamic.is_boolean() && !a.dynamic.get<bool>());
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

json to_json(const QuantScheme& s) {
  json j;
  j["targets"] = s.targets;
  j["weights"] = s.weights ? to_json(*s.weights) : json(nullptr);
  j["input_activations"] = s.input_activations ? to_json(*s.input_activations) : json(nullptr);
  j["output_activations"] = s.output_activations ? to_json(*s.output_activations) : json(nullptr);
  j["format"] = s.format ? json(*s.format) : json(nullptr);
  return j;
}

namespace {
QuantArgs args_of(const nlohmann::json& j) { return parse_quant_args(j, "preset"); }

QuantArgs int_weights(int bits, bool symmetric, std::optional<int> group) {
  json j = {{"num_bits", bits}, {"type", "int"}, {"symmetric", symmetric}};
  if (group) j["group_size"] = *group, j["strategy"] = "group";
  else j["strategy"] = "channel";
  return args_of(j);
}

json fp(int bits, const char* strategy) { return {{"num_bits", bits}, {"type", "float"}, {"strategy", strategy}}; }
}  // namespace

std::optional<QuantScheme> preset_scheme(const std::string& name, const std::vector<std::string>& targets) {
  std::string n = upper(name);
  QuantScheme s;
  s.targets = targets;
  // compressed-tensors >= 0.16: WnA16 presets (W8A16 included) are int, symmetric, group 128.
  if (n.size() == 5 && n[0] == 'W' && n[1] >= '2' && n[1] <= '8' && n.substr(2) == "A16") {
    s.weights = int_weights(n[1] - '0', true, 128);
  } else if (n == "W4A16_ASYM") {
    s.weights = int_weights(4, false, 128);
  } else if (n == "W8A8" || n == "INT8") {
    s.weights = int_weights(8, true, std::nullopt);
    s.input_activations = args_of({{"num_bits", 8}, {"type", "int"}, {"strategy", "token"}, {"dynamic", true}});
  } else if (n == "W4A8") {
    s.weights = int_weights(4, true, 128);
    s.input_activations = args_of({{"num_bits", 8}, {"type", "int"}, {"strategy", "token"}, {"dynamic", true}});
  } else if (n == "FP8") {
    s.weights = args_of(fp(8, "tensor"));
    json in = fp(8, "tensor");
    in["observer"] = "static_minmax";
    s.input_activations = args_of(in);
  } else if (n == "FP8_DYNAMIC") {
    s.weights = args_of(fp(8, "channel"));
    json in = fp(8, "token");
    in["dynamic"] = true;
    s.input_activations = args_of(in);
  } else if (n == "FP8_BLOCK") {
    json w = fp(8, "block");
    w["block_structure"] = {128, 128};
    s.weights = args_of(w);
    json in = fp(8, "group");
    in["group_size"] = 128;
    in["dynamic"] = true;
    s.input_activations = args_of(in);
  } else if (n == "NVFP4A16" || n == "NVFP4") {
    json w = fp(4, "tensor_group");
    w["group_size"] = 16;
    w["scale_dtype"] = "torch.float8_e4m3fn";
    s.weights = args_of(w);
    if (n == "NVFP4") {
      json in = w;
      in["dynamic"] = "local";
      in["observer"] = "static_minmax";
      s.input_activations = args_of(in);
    }
  } else if (n == "MXFP4A16" || n == "MXFP4" || n == "MXFP8A16" || n == "MXFP8") {
    const int bits = n.rfind("MXFP4", 0) == 0 ? 4 : 8;
    json w = fp(bits, "group");
    w["group_size"] = 32;
    w["scale_dtype"] = "torch.uint8";
    s.weights = args_of(w);
    if (n == "MXFP4" || n == "MXFP8") {
      json in = w;
      in["dynamic"] = true;
      s.input_activations = args_of(in);
    }
  } else {
    return std::nullopt;
  }
  return s;
}

std::vector<std::string> supported_preset_names() {
  return {"W4A16", "W4A16_ASYM", "W8A16", "W2A16", "W3A16", "W5A16", "W6A16", "W7A16", "W8A8", "INT8",
          "W4A8", "FP8_DYNAMIC", "FP8_BLOCK", "MXFP8A16", "MXFP8", "MXFP4A16", "MXFP4", "NVFP4A16"};
}

bool is_known_unsupported_preset(const std::string& name) {
  static const std::set<std::string> kCt = {"W4AFP8", "MXFP6A16", "MXFP6A8", "MXFP4XFP8", "W2A4", "W3A4", "W4A4"};
  return kCt.count(upper(name)) > 0;
}

namespace {
bool is_dynamic(const QuantArgs& a) { return !(a.dynamic.is_boolean() && !a.dynamic.get<bool>()); }

std::string supported_list() {
  std::string s;
  for (const auto& n : supported_preset_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}
}  // namespace

std::string supported_schemes_text() { return supported_list(); }

namespace {
void check_supported_args(const QuantScheme& s, const std::string& where);
}

void check_supported(const QuantScheme& s, const std::string& where) {
  check_supported_args(s, where);
  if (s.format) {
    QuantScheme inferred = s;
    inferred.format.reset();
    if (*s.format != compression_format(inferred))
      throw UserError(where + ": format '" + *s.format + "' differs from the format compressed-tensors uses for this "
                      "scheme ('" + compression_format(inferred) + "'); overriding it is not supported");
  }
}

namespace {
void check_supported_args(const QuantScheme& s, const std::string& where) {
  if (!s.weights) throw UserError(where + ": weight quantization is required (activation-only schemes are not supported)");
  if (s.output_activations) throw UserError(where + ": output activation quantization is not supported");
  const QuantArgs& w = *s.weights;
  if (is_dynamic(w)) throw UserError(where + ": weights cannot be dynamic");
  if (w.actorder && (*w.actorder == "group" || *w.actorder == "dynamic"))
    throw UserError(where + ": actorder group needs GPTQ, which is not implemented yet");
  if (w.observer && *w.observer != "memoryless_minmax" && *w.observer != "minmax" && *w.observer != "static_minmax")
    throw UserError(where + ": observer '" + *w.observer + "' is not supported yet (min-max observers only)");
  if (s.input_activations) {
    const QuantArgs& in = *s.input_activations;
    if (in.dynamic.is_string())
      throw UserError(where + ": input activations with dynamic \"local\" (NVFP4) need a static input global scale "
                      "from calibration, which lowbit does not implement yet; use NVFP4A16 (weight-only)");
    if (!is_dynamic(in))
      throw UserError(where + ": static input activation scales (e.g. the FP8 preset) need calibration data, which "
                      "lowbit does not implement yet; use FP8_DYNAMIC (per-token scales at run time)");
    if (in.type != w.type && !(w.type == QType::Int && in.type == QType::Int))
      throw UserError(where + ": int weights with float activations (W4AFP8) are not supported yet");
  }
  if (w.type == QType::Int) {
    if (w.num_bits < 2 || w.num_bits > 8)
      throw UserError(where + ": int weights need 2..8 bits (got " + std::to_string(w.num_bits) + ")");
    if (w.strategy != Strategy::Tensor && w.strategy != Strategy::Channel && w.strategy != Strategy::Group)
      throw UserError(where + ": weight strategy " + to_string(w.strategy) +
                      " is not supported for int weights (tensor, channel, group)");
    if (w.scale_dtype) throw UserError(where + ": scale_dtype is not supported for int weights (scales use the model dtype)");
    return;
  }
  // Float weights.
  if (!w.symmetric)
    throw UserError(where + ": asymmetric float quantization is not supported (compressed-tensors refuses it for FP4, "
                    "and FP8 zero points are not served by vLLM)");
  if (w.num_bits == 8) {
    if (w.strategy == Strategy::Group && w.group_size == 32 && w.scale_dtype == "torch.uint8") return;  // MXFP8
    if (w.scale_dtype) throw UserError(where + ": fp8 weights take scales in the model dtype (or uint8 for MXFP8)");
    if (w.strategy == Strategy::Tensor || w.strategy == Strategy::Channel || w.strategy == Strategy::Block) return;
    throw UserError(where + ": fp8 weights support strategies tensor, channel, block, or group 32 with "
                    "scale_dtype torch.uint8 (MXFP8)");
  }
  if (w.num_bits == 4) {
    if (w.strategy == Strategy::Group && w.group_size == 32) {
      if (w.scale_dtype && *w.scale_dtype != "torch.uint8") throw UserError(where + ": MXFP4 scales are torch.uint8");
      return;
    }
    if (w.strategy == Strategy::TensorGroup && w.group_size == 16) {
      if (w.scale_dtype && *w.scale_dtype != "torch.float8_e4m3fn")
        throw UserError(where + ": NVFP4 scales are torch.float8_e4m3fn");
      return;
    }
    throw UserError(where + ": fp4 weights are MXFP4 (group 32) or NVFP4 (tensor_group 16)");
  }
  throw UserError(where + ": float weights need 8 or 4 bits (fp8_e4m3, fp4_e2m1)");
}
}  // namespace

std::string shape_problem(const QuantArgs& a, int64_t rows, int64_t cols) {
  (void)rows;  // vLLM's block kernels tolerate a partial last block of rows, not of columns
  if (a.strategy == Strategy::Group || a.strategy == Strategy::TensorGroup) {
    if (cols % *a.group_size != 0)
      return "input size " + std::to_string(cols) + " is not divisible by group size " + std::to_string(*a.group_size);
  } else if (a.strategy == Strategy::Block) {
    if (cols % (*a.block_structure)[1] != 0)
      return "input size " + std::to_string(cols) + " is not divisible by block width " +
             std::to_string((*a.block_structure)[1]);
  }
  return "";
}

std::string compression_format(const QuantScheme& s) {
  if (s.format) return *s.format;
  const QuantArgs& w = *s.weights;
  // compressed-tensors' inference order (compressors/format.py).
  if (w.type == QType::Float && w.num_bits == 4 && w.group_size == 32) return "mxfp4-pack-quantized";
  if (w.type == QType::Float && w.num_bits == 8 && w.group_size == 32 && w.scale_dtype == "torch.uint8")
    return "mxfp8-quantized";
  if (w.type == QType::Float && w.num_bits == 4 && w.group_size == 16) return "nvfp4-pack-quantized";
  if (w.type == QType::Int && s.input_activations) return "int-quantized";
  if (w.type == QType::Int && w.num_bits <= 8) return "pack-quantized";
  if (w.type == QType::Float && s.input_activations) return "float-quantized";
  return "naive-quantized";
}

}  // namespace lowbit::quant
