#include "cli/scheme_flags.h"

#include "core/error.h"
#include "quant/presets.h"
#include "quant/schemes.h"

namespace lowbit::cli {

namespace {
// "fp4 group 32 = mxfp4, fp8 group 32 = mxfp8, fp4 group 16 = nvfp4", from the scheme table.
std::string block_formats_text() {
  std::string t;
  for (const auto& sf : quant::scheme_formats())
    if (sf.fixed_group)
      t += (t.empty() ? "" : ", ") + std::string("fp") + std::to_string(sf.max_bits) + " group " +
           std::to_string(sf.fixed_group) + " = " + sf.name;
  return t;
}
}  // namespace

void add_scheme_flags(CLI::App* sub, SchemeFlags& f) {
  sub->add_option("--scheme", f.scheme, "Preset (compressed-tensors names): " + quant::supported_schemes_text());
  sub->add_option("--format", f.format,
                  "Explicit weight format: int | fp8 | fp4 (weight-only); gguf: one llama.cpp GGUF file (see "
                  "--gguf-type)")
      ->check(CLI::IsMember({"int", "fp8", "fp4", "gguf"}));
  sub->add_option("--bits", f.bits, "Int weight bits (2..8); alone means symmetric, group 128");
  sub->add_option("--group-size", f.group_size,
                  "Group size along the input dimension; -1 = per channel. Block formats: " + block_formats_text());
  sub->add_option("--strategy", f.strategy, "tensor | channel | group | block")
      ->check(CLI::IsMember({"tensor", "channel", "group", "block"}));
  sub->add_option("--block", f.block, "fp8 block strategy, e.g. 128x128");
  sub->add_option("--observer", f.observer,
                  "How each group's range is chosen: minmax (default) | mse (clipping search) | imatrix_mse "
                  "(the search weighted by E[x^2] per input channel; needs --calib)")
      ->check(CLI::IsMember({"minmax", "mse", "imatrix_mse"}));
  sub->add_flag("--symmetric", f.symmetric, "Symmetric (scale only)");
  sub->add_flag("--asymmetric", f.asymmetric, "Asymmetric (scale + zero point; int only)");
  sub->add_flag("--restricted-range", f.restricted,
                "Symmetric int codes in [-(2^(b-1)-1), 2^(b-1)-1] with scale amax/(2^(b-1)-1), e.g. int4 [-7,7] "
                "and amax/7, instead of compressed-tensors' [-8,7] with amax/7.5");
}

quant::WeightOverrides SchemeFlags::overrides() const {
  using E = quant::WeightOverrides::Element;
  if (symmetric && asymmetric) throw UserError("--symmetric and --asymmetric are exclusive");
  quant::WeightOverrides o;
  if (format == "gguf") throw UserError("--format gguf writes a GGUF file: it takes --gguf-type, not a scheme");
  if (!format.empty()) o.element = format == "int" ? E::Int : format == "fp8" ? E::Fp8 : E::Fp4;
  if (bits) o.bits = bits;
  if (!strategy.empty()) o.strategy = quant::parse_strategy(strategy, "--strategy");
  if (group_size) o.group_size = group_size;
  if (!block.empty()) o.block = quant::parse_block_shape(block, "--block");
  if (symmetric || asymmetric) o.symmetric = symmetric;
  if (!observer.empty()) o.observer = observer == "minmax" ? "memoryless_minmax" : observer;
  o.restricted_range = restricted;
  return o;
}

quant::QuantScheme scheme_from_flags(const SchemeFlags& f, const std::vector<std::string>& targets) {
  return quant::build_scheme(f.scheme, f.overrides(), targets, "command line");
}

}  // namespace lowbit::cli
