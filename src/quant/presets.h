// The preset table: compressed-tensors' named schemes (W4A16, FP8_DYNAMIC, NVFP4A16, ...),
// one row each, with the QuantizationArgs compressed-tensors defines for it and a line on
// when to use it. The same rows drive `--scheme` and its --help, recipe parsing, `lowbit
// formats` and the README's scheme table (`lowbit formats --markdown`).
#pragma once
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quant/quant_args.h"

namespace lowbit::quant {

struct Preset {
  const char* name;
  const char* alias;              // another name for the same scheme ("" if none)
  const char* weights;            // compressed-tensors' QuantizationArgs as JSON ("" if lowbit lacks it)
  const char* input_activations;  // the same for input activations ("" for weight-only)
  const char* when;               // one line of guidance
};

std::span<const Preset> presets();
// By name or alias, case-insensitive; nullptr if compressed-tensors has no such preset.
const Preset* find_preset(const std::string& name);
// The scheme of a preset compressed-tensors defines, whether or not lowbit can write it
// (check_supported says); nullopt for unknown names and presets lowbit has no args for.
std::optional<QuantScheme> preset_scheme(const std::string& name, const std::vector<std::string>& targets);
// A preset lowbit writes today (its scheme passes check_supported).
bool is_supported(const Preset& p);
// The scheme of a supported preset; UserError naming `where` otherwise ("unknown" or why not).
QuantScheme supported_preset_scheme(const std::string& name, const std::vector<std::string>& targets,
                                    const std::string& where);
// The names of the presets lowbit writes, in table order.
std::vector<std::string> supported_preset_names();
// "W4A16, W4A16_ASYM, ..." of the supported presets, for --help and messages.
std::string supported_schemes_text();
// The scheme table (weights, activations, format, bits/weight, when) as GitHub markdown.
std::string presets_markdown();
// The same as plain text for a terminal.
std::string presets_text();

}  // namespace lowbit::quant
