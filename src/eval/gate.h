// `lowbit eval --gate EXPR`: conditions over the evaluation's metrics, so a deploy pipeline can
// act on the exit code. The grammar (docs/eval.md):
//   gate      := condition ("," condition)*
//   condition := metric op bound          (spaces allowed around the parts)
//   op        := "<=" | "<" | ">=" | ">" | "=="
//   bound     := number | "noise"
//   metric    := text-metric | custom-metric | task "." [protocol "."] quantity
//   text-metric := ppl | base_ppl | dppl | ppl_ratio | ln_ppl_ratio | kld | kld_p99 | top1 | rms_dp
//   custom-metric := custom.regressions | custom.pass_rate | custom.same_output   (--prompts)
//   quantity  := acc | base_acc | drop    (fractions; drop = base acc - acc)
// "noise" compares the metric's verdict instead of its value: `<= noise` on a metric where higher
// is worse (`>= noise` where lower is worse) holds when the verdict is not `worse`; `== noise`
// holds when it is `same`.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/stats.h"

namespace lowbit::eval {

enum class GateOp { Le, Lt, Ge, Gt, Eq };
std::string to_string(GateOp op);

struct GateCondition {
  std::string text;    // as written, for messages
  std::string metric;  // canonical after check_gate: "<task>.<protocol>.<quantity>" for tasks
  GateOp op = GateOp::Le;
  bool noise = false;  // bound is "noise"
  double bound = 0;
};

// Syntax and metric names; throws UserError naming the bad condition (and, for an unknown
// metric, the known ones).
std::vector<GateCondition> parse_gate(const std::string& expr);

// What the run will measure, known before any model loads.
struct GatePlan {
  bool text = false;
  bool text_base = false;  // --base or --base-logits: the text metrics against the base
  bool task_base = false;  // --base: the benchmarks against the base (--base-logits holds no tasks)
  // Each --task benchmark and its protocols, the first being the default of "<task>.acc".
  std::map<std::string, std::vector<std::string>> tasks;
  bool custom = false;         // --prompts
  bool custom_checks = false;  // ... and some prompt has checks (custom.pass_rate is measured)
};
// Refuses (UserError) a condition on a metric the run will not measure, or "noise" on a metric
// without a verdict or against its direction; fills in the default protocol of task metrics.
void check_gate(std::vector<GateCondition>& conditions, const GatePlan& plan);

// A measured metric: its value and, for a comparison with the base, its verdict.
struct Measurement {
  double value = 0;
  std::optional<Verdict> verdict;
};
using Measurements = std::map<std::string, Measurement>;

struct GateOutcome {
  const GateCondition* condition = nullptr;
  double value = 0;
  std::optional<Verdict> verdict;
  bool holds = false;
};
// Every condition against the measurements (UserError if one is missing).
std::vector<GateOutcome> evaluate_gate(const std::vector<GateCondition>& conditions, const Measurements& measured);

}  // namespace lowbit::eval
