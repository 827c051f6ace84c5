// The flags that choose a scheme (a preset, or explicit format/bits/group/strategy on top of
// one or alone), shared by `quantize` and `formats --quantize`. Parsing only: what the flags
// mean is quant::build_scheme's.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "quant/overrides.h"
#include "quant/quant_args.h"

namespace lowbit::cli {

struct SchemeFlags {
  std::string scheme, format, strategy, block, observer;
  int bits = 0, group_size = 0;
  bool symmetric = false, asymmetric = false, restricted = false;
  quant::WeightOverrides overrides() const;  // typed; UserError on contradictions
  bool any() const { return !scheme.empty() || overrides().any(); }
};

void add_scheme_flags(CLI::App* sub, SchemeFlags& f);
// Throws UserError if the flags are contradictory or name nothing lowbit can write.
quant::QuantScheme scheme_from_flags(const SchemeFlags& f, const std::vector<std::string>& targets);

}  // namespace lowbit::cli
