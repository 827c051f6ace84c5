#include "quant/overrides.h"

#include "core/error.h"
#include "quant/presets.h"
#include "quant/schemes.h"

namespace lowbit::quant {

bool WeightOverrides::any() const {
  return element || bits || strategy || group_size || block || symmetric || observer || restricted_range;
}

QuantScheme build_scheme(const std::string& preset, const WeightOverrides& o, const std::vector<std::string>& targets,
                         const std::string& where) {
  using E = WeightOverrides::Element;
  QuantScheme scheme;
  if (!preset.empty()) {
    scheme = supported_preset_scheme(preset, targets, where);
  } else if (o.any()) {
    const char* base = o.element == E::Fp8 ? "FP8_DYNAMIC" : o.element == E::Fp4 ? "MXFP4A16" : "W4A16";
    scheme = *preset_scheme(base, targets);
    scheme.input_activations.reset();
  } else {
    throw UserError("choose a scheme: --scheme W4A16, --recipe recipe.yaml, or explicit --format/--bits/"
                    "--group-size/--strategy");
  }
  QuantArgs w = *scheme.weights;
  if (o.element) {
    w.type = *o.element == E::Int ? QType::Int : QType::Float;
    w.num_bits = *o.element == E::Fp8 ? 8 : *o.element == E::Fp4 ? 4 : o.bits.value_or(4);
    if (*o.element == E::Int) w.scale_dtype.reset();
  }
  if (o.bits) {
    if (w.type == QType::Float && *o.bits != w.num_bits)
      throw UserError("--bits " + std::to_string(*o.bits) + " contradicts the float format (" +
                      std::to_string(w.num_bits) + " bits)");
    w.num_bits = *o.bits;
  }
  if (o.symmetric) w.symmetric = *o.symmetric;
  if (o.strategy) {
    w.strategy = *o.strategy;
    if (w.strategy != Strategy::Group) w.group_size.reset();
    else if (!o.group_size && !w.group_size) w.group_size = 128;
    if (w.strategy != Strategy::Block) w.block_structure.reset();
  }
  if (o.block) {
    w.block_structure = std::vector<int>{(*o.block)[0], (*o.block)[1]};
    w.strategy = Strategy::Block;
    w.group_size.reset();
  }
  if (o.group_size) {
    if (*o.group_size > 0) {
      w.group_size = *o.group_size;
      w.strategy = Strategy::Group;
      w.block_structure.reset();
    } else if (*o.group_size == -1) {
      w.group_size.reset();
      w.strategy = Strategy::Channel;
    } else {
      throw UserError("--group-size must be positive, or -1 for per-channel");
    }
  }
  if (w.type == QType::Float) {
    const SchemeFormat* f = w.group_size ? float_format_for_group(w.num_bits, *w.group_size) : nullptr;
    if (f) w.strategy = f->fixed_strategy;
    if (f && *f->ct_scale_dtype) w.scale_dtype = f->ct_scale_dtype;
    else w.scale_dtype.reset();
  }
  // Re-derive what compressed-tensors' validators derive (observer, zp_dtype) from the new args.
  w.observer = o.observer;  // unset: the validator's default (memoryless_minmax)
  w.zp_dtype.reset();
  w.restricted_range = false;
  scheme.weights = parse_quant_args(to_json(w), where);
  if (o.restricted_range) {
    if (!scheme.weights->symmetric || scheme.weights->type != QType::Int)
      throw UserError("--restricted-range applies to symmetric int schemes only");
    scheme.weights->restricted_range = true;
  }
  check_supported(scheme, where);
  return scheme;
}

}  // namespace lowbit::quant
