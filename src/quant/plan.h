// The plan: which Linear modules get which config group, resolved with
// compressed-tensors' precedence, plus everything a user must hear before any
// byte is written (patterns that match nothing, indivisible layers, vLLM fusion).
#pragma once
#include <string>
#include <vector>

#include "model/architecture.h"
#include "quant/recipe.h"

namespace lowbit::quant {

struct ModuleChoice {
  const model::Module* module = nullptr;
  int group = -1;  // index into recipe.config_groups; -1: kept in original precision
};

struct Plan {
  std::vector<ModuleChoice> linears;        // every Linear in module order
  std::vector<std::string> expanded_ignore;  // explicit names of targeted-class modules left unquantized
  std::vector<std::string> warnings;
  int quantized_count() const;
  const ModuleChoice* find(const std::string& module_path) const;
};

// Throws UserError for impossible recipes (indivisible group sizes, vLLM-unloadable
// shard mixes, Embedding targets, nothing quantized). Warnings are returned, not printed.
Plan make_plan(const model::Architecture& arch, const Recipe& recipe);

// One line per Linear: its path and config group, or "kept".
std::string to_text(const Plan& plan, const Recipe& recipe);

}  // namespace lowbit::quant
