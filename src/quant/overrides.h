// Explicit weight args, typed: what --format, --bits, --group-size, --strategy, --block,
// --symmetric/--asymmetric and --restricted-range say, applied on top of a preset or alone.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "quant/quant_args.h"

namespace lowbit::quant {

struct WeightOverrides {
  enum class Element { Int, Fp8, Fp4 };
  std::optional<Element> element;
  std::optional<int> bits;
  std::optional<Strategy> strategy;
  std::optional<int> group_size;            // > 0: groups along the input dimension; -1: per output channel
  std::optional<std::array<int, 2>> block;  // [rows, cols] of one FP8 block scale
  std::optional<bool> symmetric;
  std::optional<std::string> observer;  // minmax | mse | imatrix_mse
  bool restricted_range = false;
  bool any() const;
};

// `preset` (may be empty) with the overrides applied. Without a preset, overrides start from
// W4A16 (int), FP8_DYNAMIC's weights (fp8) or MXFP4A16 (fp4), weight-only. For float weights
// the group size picks the block format from the scheme table (32: MX, 16 with fp4: NVFP4).
// The result passes check_supported; UserError otherwise, naming `where`.
QuantScheme build_scheme(const std::string& preset, const WeightOverrides& o, const std::vector<std::string>& targets,
                         const std::string& where);

}  // namespace lowbit::quant
