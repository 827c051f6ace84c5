#include "quant/recipe.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/utf8.h"
#include "quant/presets.h"
#include "quant/schemes.h"

namespace lowbit::quant {

using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suf) { return s.ends_with(suf); }

// JSON (and so config.json) must be valid UTF-8; YAML input is checked here so that
// a stray byte is a clear error instead of a failure far downstream.
std::string checked_utf8(const std::string& s) {
  if (!is_valid_utf8(s)) throw UserError("not valid UTF-8 text");
  return s;
}

json scalar_to_json(const YAML::Node& n) {
  const std::string& v = checked_utf8(n.Scalar());
  if (n.Tag() == "!") return v;  // quoted: always a string
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (v == "null" || v == "Null" || v == "NULL" || v == "~" || v.empty()) return nullptr;
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  if (std::regex_match(v, kInt)) {
    try {
      return std::stoll(v);
    } catch (const std::out_of_range&) {
      return v;
    }
  }
  if (std::regex_match(v, kFloat)) {
    // strtod, not stod: an out-of-range literal (1e999) must not escape as std::out_of_range.
    double d = std::strtod(v.c_str(), nullptr);
    return std::isfinite(d) ? json(d) : json(v);
  }
  return v;
}

json node_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) a.push_back(node_to_json(e));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) o[checked_utf8(kv.first.as<std::string>())] = node_to_json(kv.second);
      return o;
    }
  }
  return nullptr;
}

std::vector<std::string> string_list(const json& v, const std::string& where) {
  if (v.is_null()) return {};
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw UserError(where + ": expected a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) throw UserError(where + ": expected strings, got " + e.dump(-1, ' ', false, json::error_handler_t::replace));
    out.push_back(e.get<std::string>());
  }
  return out;
}

void emit(YAML::Emitter& e, const json& j, bool flow_leaf = true) {
  if (j.is_object()) {
    bool leaf = flow_leaf;
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.value().is_object() || it.value().is_array()) leaf = false;
    if (leaf && !j.empty()) e << YAML::Flow;
    e << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.value().is_null()) continue;  // llm-compressor omits null arguments
      e << YAML::Key << it.key() << YAML::Value;
      emit(e, it.value());
    }
    e << YAML::EndMap;
  } else if (j.is_array()) {
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& x : j) emit(e, x);
    e << YAML::EndSeq;
  } else if (j.is_string()) {
    e << YAML::SingleQuoted << j.get<std::string>();
  } else if (j.is_boolean()) {
    e << (j.get<bool>() ? "true" : "false");
  } else if (j.is_number_integer()) {
    e << j.get<int64_t>();
  } else if (j.is_number()) {
    e << j.get<double>();
  } else {
    e << YAML::Null;
  }
}

}  // namespace

json yaml_to_json(const std::string& text, const std::string& label) {
  try {
    return node_to_json(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw UserError(label + ": not valid YAML: " + e.what());
  } catch (const UserError& e) {
    throw UserError(label + ": " + e.what());
  }
}

Recipe parse_recipe_yaml(const std::string& text, const std::string& label) {
  json root = yaml_to_json(text, label);
  if (!root.is_object()) throw UserError(label + ": a recipe must be a mapping of stages");
  // Collect modifiers: stages (`*_stage`) hold modifier lists (`*_modifiers`).
  std::vector<std::pair<std::string, json>> modifiers;
  auto collect_mods = [&](const json& mods, const std::string& where) {
    if (!mods.is_object()) throw UserError(where + ": expected a mapping of modifiers");
    for (auto m = mods.begin(); m != mods.end(); ++m) modifiers.emplace_back(m.key(), m.value());
  };
  for (auto st = root.begin(); st != root.end(); ++st) {
    std::string where = label + ": " + st.key();
    if (ends_with(st.key(), "_modifiers")) {
      collect_mods(st.value(), where);
    } else if (ends_with(st.key(), "_stage")) {
      if (!st.value().is_object()) throw UserError(where + ": expected a mapping");
      for (auto g = st.value().begin(); g != st.value().end(); ++g) {
        if (!ends_with(g.key(), "_modifiers"))
          throw UserError(where + "." + g.key() + ": unsupported stage key (expected '<name>_modifiers')");
        collect_mods(g.value(), where + "." + g.key());
      }
    } else {
      throw UserError(where + ": unsupported top-level key (expected '<name>_stage')");
    }
  }
  if (modifiers.empty()) throw UserError(label + ": no modifiers found");

  Recipe r;
  bool have_quant = false;
  // AWQModifier (a transform, run before the quantization modifier that follows it). The
  // deprecated form that carries the quantization arguments itself is split into the two,
  // as llm-compressor's llmcompressor.modifiers.awq shim splits it.
  const std::set<std::string> quant_keys = {"config_groups", "targets", "ignore", "scheme", "kv_cache_scheme",
                                            "weight_observer", "input_observer", "output_observer", "observer",
                                            "bypass_divisibility_checks"};
  std::vector<std::pair<std::string, json>> split;
  for (auto& [name, args_in] : modifiers) {
    if (name != "AWQModifier") {
      split.emplace_back(name, args_in);
      continue;
    }
    const std::string where = label + ": AWQModifier";
    json args = args_in.is_null() ? json::object() : args_in;
    if (!args.is_object()) throw UserError(where + ": expected a mapping of arguments");
    if (!r.awq.is_null()) throw UserError(where + ": only one AWQModifier per recipe is supported");
    json awq = json::object(), quant = json::object();
    for (auto it = args.begin(); it != args.end(); ++it) {
      if (quant_keys.count(it.key())) quant[it.key()] = it.value();
      else if (it.key() == "mappings" || it.key() == "duo_scaling" || it.key() == "n_grid" || it.key() == "offload_device")
        awq[it.key()] = it.value();
      else
        throw UserError(where + ": unknown or unsupported argument '" + it.key() + "'");
    }
    r.awq = awq;
    if (!quant.empty()) split.emplace_back("QuantizationModifier", quant);
  }
  if (!r.awq.is_null() && split.empty())
    throw UserError(label + ": AWQModifier needs a quantization modifier after it (QuantizationModifier or "
                    "GPTQModifier), as llm-compressor requires");
  modifiers = std::move(split);
  for (auto& [name, args_in] : modifiers) {
    std::string where = label + ": " + name;
    if (name == "SmoothQuantModifier" || name == "SparseGPTModifier" || name == "QuIPModifier" ||
        name == "SpinQuantModifier" || name == "AutoRoundModifier")
      throw UserError(where + ": this modifier is not supported yet");
    if (name != "QuantizationModifier" && name != "GPTQModifier")
      throw UserError(where + ": unknown modifier (supported: QuantizationModifier, GPTQModifier, AWQModifier)");
    if (have_quant) throw UserError(where + ": only one quantization modifier per recipe is supported");
    have_quant = true;
    r.modifier = name;
    json args = args_in.is_null() ? json::object() : args_in;
    if (!args.is_object()) throw UserError(where + ": expected a mapping of arguments");
    std::set<std::string> allowed = {"targets", "ignore", "scheme", "config_groups", "kv_cache_scheme",
                                     "weight_observer", "input_observer", "output_observer", "observer",
                                     "bypass_divisibility_checks"};
    if (name == "GPTQModifier")
      for (const char* k : {"block_size", "dampening_frac", "actorder", "offload_hessians"}) allowed.insert(k);
    for (auto it = args.begin(); it != args.end(); ++it)
      if (!allowed.count(it.key())) throw UserError(where + ": unknown or unsupported argument '" + it.key() + "'");
    auto nonnull = [&](const char* k) { return args.contains(k) && !args[k].is_null(); };
    if (nonnull("kv_cache_scheme")) throw UserError(where + ": kv_cache_scheme is not supported yet");
    for (const char* k : {"input_observer", "output_observer", "observer"})
      if (nonnull(k)) throw UserError(where + ": " + k + " overrides are not supported yet");
    if (nonnull("bypass_divisibility_checks") && args["bypass_divisibility_checks"] != false)
      throw UserError(where + ": bypass_divisibility_checks is not supported (indivisible layers cannot be packed)");
    for (const char* k : {"block_size", "dampening_frac", "actorder", "offload_hessians"})
      if (args.contains(k)) r.modifier_args[k] = args[k];

    std::vector<std::string> targets = args.contains("targets") ? string_list(args["targets"], where + ".targets")
                                                                : std::vector<std::string>{"Linear"};
    r.ignore = string_list(args.value("ignore", json()), where + ".ignore");
    if (nonnull("scheme") && nonnull("config_groups"))
      throw UserError(where + ": scheme and config_groups are mutually exclusive");
    auto add_preset = [&](const std::string& preset, const std::vector<std::string>& tg) {
      r.config_groups.emplace_back("group_" + std::to_string(r.config_groups.size()),
                                   supported_preset_scheme(preset, tg, where));
    };
    if (nonnull("scheme")) {
      const json& s = args["scheme"];
      if (s.is_string()) {
        add_preset(s.get<std::string>(), targets);
      } else if (s.is_object()) {
        for (auto it = s.begin(); it != s.end(); ++it)
          add_preset(it.key(), string_list(it.value(), where + ".scheme." + it.key()));
      } else {
        throw UserError(where + ".scheme: expected a preset name or {preset: targets}");
      }
    } else if (nonnull("config_groups")) {
      const json& g = args["config_groups"];
      if (!g.is_object()) throw UserError(where + ".config_groups: expected a mapping");
      for (auto it = g.begin(); it != g.end(); ++it) {
        // A group may be a preset shorthand {W4A16: [Linear]}, or a full scheme.
        if (it.value().is_object() && it.value().size() == 1 && find_preset(it.value().begin().key())) {
          auto s = supported_preset_scheme(it.value().begin().key(),
                                           string_list(it.value().begin().value(), where + ".config_groups." + it.key()),
                                           where + ".config_groups." + it.key());
          r.config_groups.emplace_back(it.key(), s);
        } else {
          r.config_groups.emplace_back(it.key(), parse_quant_scheme(it.value(), where + ".config_groups." + it.key()));
        }
      }
    } else {
      throw UserError(where + ": needs scheme or config_groups");
    }
    // A modifier-level actorder applies to every group's weights (and must not conflict).
    if (nonnull("actorder")) {
      json ao = args["actorder"];
      for (auto& [gname, s] : r.config_groups) {
        if (!s.weights) continue;
        json w = to_json(*s.weights);
        if (s.weights->actorder && json(*s.weights->actorder) != ao)
          throw UserError(where + ": actorder conflicts with config_groups." + gname);
        w["actorder"] = ao;
        s.weights = parse_quant_args(w, where);
      }
    }
    // weight_observer (QuantizationMixin) names every group's weight observer.
    if (nonnull("weight_observer")) {
      if (!args["weight_observer"].is_string()) throw UserError(where + ": weight_observer must be a string");
      for (auto& [gname, s] : r.config_groups)
        if (s.weights) s.weights->observer = args["weight_observer"].get<std::string>();
    }
  }
  for (const auto& [gname, s] : r.config_groups) check_supported(s, label + ": config_groups." + gname);
  return r;
}

std::string recipe_to_yaml(const Recipe& r) {
  json groups = json::object();
  for (const auto& [name, s] : r.config_groups) groups[name] = to_json(s);
  json args = r.modifier_args;
  args["config_groups"] = groups;
  args["ignore"] = r.ignore;
  json mods = {{r.modifier, args}};
  if (!r.awq.is_null()) mods["AWQModifier"] = r.awq;  // runs first (keys sort: AWQModifier < the others)
  json root = {{"default_stage", {{"default_modifiers", mods}}}};
  YAML::Emitter e;
  emit(e, root, false);
  return std::string(e.c_str()) + "\n";
}

}  // namespace lowbit::quant
