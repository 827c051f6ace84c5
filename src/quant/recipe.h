// A recipe: config groups (scheme + targets) and the ignore list, from a preset,
// explicit flags, or an llm-compressor recipe.yaml; and its YAML form written
// beside a checkpoint.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "quant/quant_args.h"

namespace lowbit::quant {

struct Recipe {
  std::string modifier = "QuantizationModifier";  // the llm-compressor modifier this corresponds to
  std::vector<std::pair<std::string, QuantScheme>> config_groups;  // "group_0" -> scheme
  std::vector<std::string> ignore;  // as the user wrote them (patterns allowed)
  nlohmann::json modifier_args = nlohmann::json::object();  // e.g. GPTQ block_size, kept for recipe.yaml
  // AWQModifier's arguments (mappings, duo_scaling, n_grid) when the recipe runs AWQ before
  // its quantization modifier; null otherwise.
  nlohmann::json awq;
};

// Parse llm-compressor YAML: `<name>_stage: <name>_modifiers: {ModifierClass: args}`.
// Unknown modifiers or arguments are errors, never dropped. `label` names the file.
Recipe parse_recipe_yaml(const std::string& text, const std::string& label);

// recipe.yaml in llm-compressor's serialised form (default_stage/default_modifiers).
std::string recipe_to_yaml(const Recipe& r);

// YAML text -> JSON value (plain scalars typed as YAML 1.2 core: null, bool, int, float).
nlohmann::json yaml_to_json(const std::string& text, const std::string& label);

}  // namespace lowbit::quant
