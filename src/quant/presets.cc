#include "quant/presets.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"
#include "quant/schemes.h"

namespace lowbit::quant {

namespace {

#define INT_GROUP(bits, sym) \
  R"({"num_bits": )" #bits R"(, "type": "int", "symmetric": )" #sym R"(, "strategy": "group", "group_size": 128})"
#define INT8_TOKEN R"({"num_bits": 8, "type": "int", "symmetric": true, "strategy": "token", "dynamic": true})"
#define MX(bits) R"({"num_bits": )" #bits R"(, "type": "float", "strategy": "group", "group_size": 32, "scale_dtype": "torch.uint8")"
#define NVFP4_W R"({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "scale_dtype": "torch.float8_e4m3fn")"

// compressed-tensors' presets (quantization/quant_scheme.py, >= 0.16: WnA16 are int,
// symmetric, group 128, W8A16 included).
const Preset kPresets[] = {
    {"W4A16", "", INT_GROUP(4, true) , "", "size: the most widely served 4-bit format"},
    {"W4A16_ASYM", "", INT_GROUP(4, false), "", "size, slightly better than symmetric"},
    {"W8A16", "", INT_GROUP(8, true), "", "weight-only 8-bit"},
    {"W8A8", "INT8", R"({"num_bits": 8, "type": "int", "symmetric": true, "strategy": "channel"})", INT8_TOKEN,
     "accuracy of FP8 where FP8 kernels are missing (Ampere, CPUs)"},
    {"W4A8", "", INT_GROUP(4, true), INT8_TOKEN, "int4 weights with int8 activations"},
    {"FP8_DYNAMIC", "", R"({"num_bits": 8, "type": "float", "strategy": "channel"})",
     R"({"num_bits": 8, "type": "float", "strategy": "token", "dynamic": true})",
     "the sweet spot: near-lossless, fast FP8 kernels on Hopper and newer"},
    {"FP8_BLOCK", "", R"({"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]})",
     R"({"num_bits": 8, "type": "float", "strategy": "group", "group_size": 128, "dynamic": true})",
     "the same, DeepSeek-style 128x128 blocks"},
    {"FP8", "", R"({"num_bits": 8, "type": "float", "strategy": "tensor"})",
     R"({"num_bits": 8, "type": "float", "strategy": "tensor", "observer": "static_minmax"})",
     "FP8 with a static activation scale (needs calibration)"},
    {"MXFP8A16", "", MX(8) "}", "", "8-bit with power-of-two block scales, for MX hardware"},
    {"MXFP8", "", MX(8) "}", MX(8) R"(, "dynamic": true})", "MX hardware, MXFP8 activations"},
    {"MXFP4A16", "", MX(4) "}", "", "aggressive 4-bit; Blackwell / MX hardware"},
    {"MXFP4", "", MX(4) "}", MX(4) R"(, "dynamic": true})", "aggressive 4-bit with MXFP4 activations"},
    {"NVFP4A16", "", NVFP4_W "}", "", "aggressive 4-bit; Blackwell (q/k/v and gate/up share one global scale)"},
    {"NVFP4", "", NVFP4_W "}", NVFP4_W R"(, "dynamic": "local", "observer": "static_minmax"})",
     "NVFP4 weights and activations (needs calibration)"},
    {"W2A16", "", INT_GROUP(2, true), "", "experiments (vLLM serves 4 and 8 bits only)"},
    {"W3A16", "", INT_GROUP(3, true), "", "experiments (vLLM serves 4 and 8 bits only)"},
    {"W5A16", "", INT_GROUP(5, true), "", "experiments (vLLM serves 4 and 8 bits only)"},
    {"W6A16", "", INT_GROUP(6, true), "", "experiments (vLLM serves 4 and 8 bits only)"},
    {"W7A16", "", INT_GROUP(7, true), "", "experiments (vLLM serves 4 and 8 bits only)"},
    // compressed-tensors has these; lowbit cannot write them yet.
    {"W4AFP8", "", "", "", "int4 weights with FP8 activations"},
    {"MXFP6A16", "", "", "", "MXFP6 weights (vLLM does not serve them)"},
    {"MXFP6A8", "", "", "", "MXFP6 weights, MXFP8 activations"},
    {"MXFP4XFP8", "", "", "", "MXFP4 weights, FP8 activations"},
    {"W2A4", "", "", "", "int2 weights, int4 activations"},
    {"W3A4", "", "", "", "int3 weights, int4 activations"},
    {"W4A4", "", "", "", "int4 weights and activations"},
};

#undef INT_GROUP
#undef INT8_TOKEN
#undef MX
#undef NVFP4_W

QuantArgs args_of(const char* json_text, const std::string& where) {
  return parse_quant_args(nlohmann::json::parse(json_text), where);
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string activations_text(const QuantScheme& s) {
  if (!s.input_activations) return "-";
  const QuantArgs& a = *s.input_activations;
  std::string t = (a.type == QType::Int ? "int" : "fp") + std::to_string(a.num_bits) + " per ";
  if (a.strategy == Strategy::Group || a.strategy == Strategy::TensorGroup) t += std::to_string(*a.group_size);
  else t += to_string(a.strategy);
  return t + (a.is_dynamic() ? ", dynamic" : ", static (calibrated)");
}

struct Row {
  std::string names, markdown_names, weights, activations, format, bits, when;
};

// One row per preset lowbit writes.
std::vector<Row> table_rows() {
  std::vector<Row> rows;
  for (const auto& p : kPresets) {
    if (!is_supported(p)) continue;
    const QuantScheme s = *preset_scheme(p.name, {"Linear"});
    Row r;
    r.names = std::string(p.name) + (*p.alias ? std::string(" (") + p.alias + ")" : "");
    r.markdown_names = "`" + std::string(p.name) + "`" + (*p.alias ? std::string(" (`") + p.alias + "`)" : "");
    r.weights = describe(QuantScheme{s.targets, s.weights, std::nullopt, std::nullopt, std::nullopt});
    r.activations = activations_text(s);
    r.format = compression_format(s);
    r.bits = num(bits_per_weight(s));
    r.when = p.when;
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

std::span<const Preset> presets() { return kPresets; }

const Preset* find_preset(const std::string& name) {
  const std::string n = to_upper(name);
  for (const auto& p : kPresets)
    if (n == p.name || (*p.alias && n == p.alias)) return &p;
  return nullptr;
}

std::optional<QuantScheme> preset_scheme(const std::string& name, const std::vector<std::string>& targets) {
  const Preset* p = find_preset(name);
  if (!p || !*p->weights) return std::nullopt;
  QuantScheme s;
  s.targets = targets;
  s.weights = args_of(p->weights, std::string("preset ") + p->name);
  if (*p->input_activations) s.input_activations = args_of(p->input_activations, std::string("preset ") + p->name);
  return s;
}

bool is_supported(const Preset& p) {
  auto s = preset_scheme(p.name, {"Linear"});
  if (!s) return false;
  try {
    check_supported(*s, p.name);
    return true;
  } catch (const UserError&) {
    return false;
  }
}

QuantScheme supported_preset_scheme(const std::string& name, const std::vector<std::string>& targets,
                                    const std::string& where) {
  const Preset* p = find_preset(name);
  if (!p) throw UserError(where + ": unknown scheme " + name + " (supported: " + supported_schemes_text() + ")");
  auto s = preset_scheme(name, targets);
  if (!s) throw UserError(where + ": scheme " + name + " is not supported yet (supported: " + supported_schemes_text() + ")");
  check_supported(*s, where + ": scheme " + p->name);
  return *s;
}

std::vector<std::string> supported_preset_names() {
  std::vector<std::string> out;
  for (const auto& p : kPresets)
    if (is_supported(p)) out.push_back(p.name);
  return out;
}

std::string supported_schemes_text() {
  std::string s;
  for (const auto& n : supported_preset_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string presets_markdown() {
  std::string out = "| scheme | weights | activations | format written | bits/weight | when |\n"
                    "|---|---|---|---|---|---|\n";
  for (const Row& r : table_rows())
    out += "| " + r.markdown_names + " | " + r.weights + " | " + r.activations + " | `" + r.format + "` | " + r.bits + " | " +
           r.when + " |\n";
  return out;
}

std::string presets_text() {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-18s %-32s %-24s %-22s %-9s %s\n", "scheme", "weights", "activations", "format",
                "bits/w", "when");
  out += buf;
  for (const Row& r : table_rows()) {
    std::snprintf(buf, sizeof buf, "%-18s %-32s %-24s %-22s %-9s %s\n", r.names.c_str(), r.weights.c_str(),
                  r.activations.c_str(), r.format.c_str(), r.bits.c_str(), r.when.c_str());
    out += buf;
  }
  return out;
}

}  // namespace lowbit::quant
