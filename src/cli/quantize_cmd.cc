// `lowbit quantize`: a model folder + a recipe -> a compressed-tensors checkpoint.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "core/log.h"
#include "io/file_util.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "pipeline/quantize_checkpoint.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::cli {

using nlohmann::json;

namespace {

struct QuantizeFlags {
  std::string model, output, scheme, recipe, strategy, format, block, progress = "auto", max_shard = "5GB";
  int bits = 0, group_size = 0, threads = 0;
  bool symmetric = false, asymmetric = false, restricted = false, overwrite = false, dry_run = false;
  std::vector<std::string> targets, ignore;
};

quant::Recipe build_recipe(const QuantizeFlags& f, CLI::App& sub) {
  const bool explicit_args = f.bits || f.group_size || !f.strategy.empty() || f.symmetric || f.asymmetric ||
                             !f.format.empty() || !f.block.empty();
  if (f.symmetric && f.asymmetric) throw UserError("--symmetric and --asymmetric are exclusive");
  if (!f.recipe.empty()) {
    if (!f.scheme.empty() || explicit_args || f.restricted || sub.count("--targets"))
      throw UserError("--recipe already defines the scheme and targets; drop --scheme/--format/--bits/--group-size/"
                      "--strategy/--block/--symmetric/--asymmetric/--targets (--ignore adds to the recipe's ignore list)");
    quant::Recipe r = quant::parse_recipe_yaml(io::read_text_file(f.recipe), f.recipe);
    if (r.modifier == "GPTQModifier")
      throw UserError(f.recipe + ": GPTQModifier needs calibration data and GPTQ, which lowbit does not implement "
                      "yet; use QuantizationModifier (round-to-nearest) with the same scheme");
    for (const auto& i : f.ignore) r.ignore.push_back(i);
    return r;
  }
  std::vector<std::string> targets = f.targets.empty() ? std::vector<std::string>{"Linear"} : f.targets;
  quant::QuantScheme scheme;
  if (!f.scheme.empty()) {
    auto s = quant::preset_scheme(f.scheme, targets);
    if (!s) {
      std::string what = quant::is_known_unsupported_preset(f.scheme) ? " is not supported yet" : " is unknown";
      throw UserError("scheme " + f.scheme + what + " (supported: " + quant::supported_schemes_text() + ")");
    }
    scheme = *s;
  } else if (explicit_args) {
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
  quant::Recipe r;
  r.config_groups.emplace_back("group_0", scheme);
  r.ignore = f.ignore;
  return r;
}

ProgressMode progress_mode(const std::string& s) {
  if (s == "auto") return ProgressMode::Auto;
  if (s == "bar") return ProgressMode::Bar;
  if (s == "lines") return ProgressMode::Lines;
  if (s == "off") return ProgressMode::Off;
  throw UserError("--progress must be auto, bar, lines or off");
}

int run(const QuantizeFlags& f, CLI::App& sub) {
  set_threads(f.threads);
  quant::Recipe recipe = build_recipe(f, sub);
  io::ModelDir in(f.model);
  model::Architecture arch =
      model::architecture_from_config(in.config(), (in.path() / "config.json").string());
  quant::Plan plan = quant::make_plan(arch, recipe);
  for (const auto& w : plan.warnings) log::warn(w);
  if (f.dry_run) {
    std::printf("%s: %s, %d of %zu Linear modules quantized\n", f.model.c_str(), arch.name.c_str(),
                plan.quantized_count(), plan.linears.size());
    for (const auto& c : plan.linears)
      std::printf("  %-48s %s\n", c.module->path.c_str(),
                  c.group < 0 ? "kept" : recipe.config_groups[size_t(c.group)].first.c_str());
    return 0;
  }
  pipeline::QuantizeOptions opts;
  opts.output = f.output;
  opts.overwrite = f.overwrite;
  opts.max_shard_bytes = parse_size(f.max_shard);
  opts.progress = progress_mode(f.progress);
  auto sum = pipeline::quantize_checkpoint(in, arch, recipe, plan, opts);
  std::printf("wrote %s: %d modules quantized, %d tensors copied, %d shard(s), %s -> %s in %.1f s (%s/s)\n",
              f.output.c_str(), sum.quantized_modules, sum.copied_tensors, sum.shards,
              Progress::human_bytes(double(sum.input_bytes)).c_str(),
              Progress::human_bytes(double(sum.output_bytes)).c_str(), sum.seconds,
              Progress::human_bytes(sum.seconds > 0 ? double(sum.input_bytes) / sum.seconds : 0).c_str());
  return 0;
}

}  // namespace

void register_quantize(CLI::App& app) {
  static QuantizeFlags f;
  CLI::App* sub = app.add_subcommand("quantize", "Quantize a Hugging Face checkpoint to compressed-tensors");
  sub->add_option("model", f.model, "Model folder (config.json + *.safetensors)")->required();
  sub->add_option("-o,--output", f.output, "Output folder (written atomically)")->required();
  sub->add_option("--scheme", f.scheme,
                  "Preset (compressed-tensors names): W4A16, W4A16_ASYM, W8A16, W2A16..W7A16, W8A8, W4A8, "
                  "FP8_DYNAMIC, FP8_BLOCK, MXFP8A16, MXFP8, MXFP4A16, MXFP4, NVFP4A16");
  sub->add_option("--format", f.format, "Explicit weight format: int | fp8 | fp4 (weight-only)")
      ->check(CLI::IsMember({"int", "fp8", "fp4"}));
  sub->add_option("--block", f.block, "fp8 block strategy, e.g. 128x128");
  sub->add_option("--recipe", f.recipe, "llm-compressor recipe YAML (QuantizationModifier)");
  sub->add_option("--bits", f.bits, "Weight bits (2..8); alone means symmetric, group 128");
  sub->add_option("--group-size", f.group_size, "Group size along the input dimension; -1 = per channel");
  sub->add_option("--strategy", f.strategy, "tensor | channel | group")
      ->check(CLI::IsMember({"tensor", "channel", "group"}));
  sub->add_flag("--symmetric", f.symmetric, "Symmetric (scale only)");
  sub->add_flag("--asymmetric", f.asymmetric, "Asymmetric (scale + zero point)");
  sub->add_flag("--restricted-range", f.restricted,
                "Symmetric codes in [-(2^(b-1)-1), 2^(b-1)-1] with scale amax/(2^(b-1)-1), e.g. int4 [-7,7] and "
                "amax/7, instead of compressed-tensors' [-8,7] with amax/7.5");
  sub->add_option("--targets", f.targets, "Modules to quantize: class name, exact path or re:regex (default Linear)");
  sub->add_option("--ignore", f.ignore, "Modules to keep: class name, exact path or re:regex (repeatable)");
  sub->add_flag("--overwrite", f.overwrite, "Replace the output folder if it exists");
  sub->add_flag("--dry-run", f.dry_run, "Print which modules would be quantized and stop");
  sub->add_option("--threads", f.threads, "Threads (default: all cores)");
  sub->add_option("--max-shard-size", f.max_shard, "Largest output shard, e.g. 5GB, 500MB")->capture_default_str();
  sub->add_option("--progress", f.progress, "auto | bar | lines | off")->capture_default_str();
  sub->footer(
      "Examples:\n"
      "  lowbit quantize ./Qwen2.5-7B-Instruct -o ./Qwen2.5-7B-Instruct-W4A16-G128 \\\n"
      "      --scheme W4A16 --ignore lm_head --ignore 're:model\\.layers\\.(0|1|26|27)\\..*'\n"
      "  lowbit quantize ./model -o ./out --recipe recipe.yaml\n"
      "  lowbit quantize ./model -o ./out --bits 4 --group-size 64 --asymmetric --ignore lm_head\n"
      "  lowbit quantize ./model -o ./out --scheme FP8_DYNAMIC --ignore lm_head\n"
      "  lowbit quantize ./model -o ./out --format fp4 --group-size 16 --ignore lm_head   # = NVFP4A16\n"
      "Targets/ignore follow compressed-tensors: 're:' patterns use Python re.match (anchored at the start only).");
  register_runner("quantize", [sub] { return run(f, *sub); });
}

}  // namespace lowbit::cli
