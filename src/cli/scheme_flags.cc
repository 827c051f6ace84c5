#include "cli/scheme_flags.h"

#include "core/error.h"

namespace lowbit::cli {

using nlohmann::json;

void add_scheme_flags(CLI::App* sub, SchemeFlags& f) {
  sub->add_option("--scheme", f.scheme,
                  "Preset (compressed-tensors names): W4A16, W4A16_ASYM, W8A16, W2A16..W7A16, W8A8, W4A8, "
                  "FP8_DYNAMIC, FP8_BLOCK, MXFP8A16, MXFP8, MXFP4A16, MXFP4, NVFP4A16");
  sub->add_option("--format", f.format, "Explicit weight format: int | fp8 | fp4 (weight-only)")
      ->check(CLI::IsMember({"int", "fp8", "fp4"}));
  sub->add_option("--bits", f.bits, "Int weight bits (2..8); alone means symmetric, group 128");
  sub->add_option("--group-size", f.group_size,
                  "Group size along the input dimension; -1 = per channel. fp8/fp4 group 32 = MX, fp4 group 16 = NVFP4");
  sub->add_option("--strategy", f.strategy, "tensor | channel | group | block")
      ->check(CLI::IsMember({"tensor", "channel", "group", "block"}));
  sub->add_option("--block", f.block, "fp8 block strategy, e.g. 128x128");
  sub->add_flag("--symmetric", f.symmetric, "Symmetric (scale only)");
  sub->add_flag("--asymmetric", f.asymmetric, "Asymmetric (scale + zero point; int only)");
  sub->add_flag("--restricted-range", f.restricted,
                "Symmetric int codes in [-(2^(b-1)-1), 2^(b-1)-1] with scale amax/(2^(b-1)-1), e.g. int4 [-7,7] "
                "and amax/7, instead of compressed-tensors' [-8,7] with amax/7.5");
}

quant::QuantScheme scheme_from_flags(const SchemeFlags& f, const std::vector<std::string>& targets) {
  if (f.symmetric && f.asymmetric) throw UserError("--symmetric and --asymmetric are exclusive");
  quant::QuantScheme scheme;
  if (!f.scheme.empty()) {
    auto s = quant::preset_scheme(f.scheme, targets);
    if (!s) {
      std::string what = quant::is_known_unsupported_preset(f.scheme) ? " is not supported yet" : " is unknown";
      throw UserError("scheme " + f.scheme + what + " (supported: " + quant::supported_schemes_text() + ")");
    }
    scheme = *s;
  } else if (f.any_explicit()) {
    // Explicit weight-only args start from int4, symmetric, group 128 (or the --format's usual layout).
    std::string base = f.format == "fp8" ? "FP8_DYNAMIC" : f.format == "fp4" ? "MXFP4A16" : "W4A16";
    scheme = *quant::preset_scheme(base, targets);
    scheme.input_activations.reset();
  } else {
    throw UserError("choose a scheme: --scheme W4A16, --recipe recipe.yaml, or explicit --format/--bits/"
                    "--group-size/--strategy");
  }
  nlohmann::json w = quant::to_json(*scheme.weights);
  if (!f.format.empty()) {
    w["type"] = f.format == "int" ? "int" : "float";
    w["num_bits"] = f.format == "fp8" ? 8 : f.format == "fp4" ? 4 : (f.bits ? f.bits : 4);
    if (f.format == "int") w["scale_dtype"] = nullptr;
  }
  if (f.bits) {
    if (w["type"] == "float" && f.bits != w["num_bits"].get<int>())
      throw UserError("--bits " + std::to_string(f.bits) + " contradicts --format " + f.format);
    w["num_bits"] = f.bits;
  }
  if (f.symmetric) w["symmetric"] = true;
  if (f.asymmetric) w["symmetric"] = false;
  if (!f.strategy.empty()) {
    w["strategy"] = f.strategy;
    if (f.strategy != "group") w["group_size"] = nullptr;
    else if (f.group_size <= 0 && w["group_size"].is_null()) w["group_size"] = 128;
    if (f.strategy != "block") w["block_structure"] = nullptr;
  }
  if (!f.block.empty()) {
    auto x = f.block.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument(f.block);
      w["block_structure"] = {std::stoi(f.block.substr(0, x)), std::stoi(f.block.substr(x + 1))};
    } catch (const std::exception&) {
      throw UserError("--block must look like 128x128");
    }
    w["strategy"] = "block";
    w["group_size"] = nullptr;
  }
  if (f.group_size > 0) {
    w["group_size"] = f.group_size;
    w["strategy"] = "group";
    w["block_structure"] = nullptr;
  } else if (f.group_size == -1) {
    w["group_size"] = nullptr;
    w["strategy"] = "channel";
  } else if (f.group_size != 0) {
    throw UserError("--group-size must be positive, or -1 for per-channel");
  }
  // Float block formats: group 32 is MX (E8M0 scales); fp4 group 16 is NVFP4 (FP8 scales, global divisor).
  if (w["type"] == "float") {
    bool g32 = w["group_size"] == 32, g16 = w["group_size"] == 16;
    w["scale_dtype"] = g32 ? json("torch.uint8") : (g16 && w["num_bits"] == 4) ? json("torch.float8_e4m3fn") : json();
    if (g16 && w["num_bits"] == 4) w["strategy"] = "tensor_group";
  }
  w.erase("zp_dtype");
  w.erase("observer");
  scheme.weights = quant::parse_quant_args(w, "command line");
  if (f.restricted) {
    if (!scheme.weights->symmetric || scheme.weights->type != quant::QType::Int)
      throw UserError("--restricted-range applies to symmetric int schemes only");
    scheme.weights->restricted_range = true;
  }
  quant::check_supported(scheme, "command line");
  return scheme;
}

}  // namespace lowbit::cli
