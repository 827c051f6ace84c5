// Several checkpoints evaluated against one base, as one table: a row per checkpoint from the
// object `lowbit eval --json` writes for it (perplexity and the comparison with the base, each
// benchmark's metrics with their paired verdicts, the custom eval, the gate).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lowbit::eval {

// The columns are those the runs measured (the first run decides: every run had the same
// options). Values the base gives (its PPL, its accuracies) go on a line above the table.
std::string checkpoints_table(const std::vector<nlohmann::json>& runs);

}  // namespace lowbit::eval
