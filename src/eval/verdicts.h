// The model-against-base differences of an evaluation with their paired uncertainty and verdict
// (eval/stats.h), as the metrics --gate reads, as report lines and as JSON.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/benchmark_report.h"
#include "eval/gate.h"
#include "eval/perplexity.h"
#include "eval/stats.h"

namespace lowbit::eval {

// The text metrics' differences against the base (r.has_base).
struct TextComparison {
  PplComparison ppl;
  Difference kld;   // mean KLD against 0 (the base against itself)
  Difference top1;  // top-1 agreement - 1
};
TextComparison compare_text(const EvalResult& r);

// The 2x2 correctness table of a protocol's picks on the same tasks.
PairedCounts paired_counts(const std::vector<TaskScore>& model, const std::vector<TaskScore>& base, McMetric m);

// gate metric name -> value (and verdict): ppl, dppl, ... for --text; "<task>.<protocol>.acc" ...
// for each benchmark run.
void add_measurements(const EvalResult& r, Measurements& out);
void add_measurements(const BenchmarkReport& r, Measurements& out);

nlohmann::json to_json(const Difference& d);
nlohmann::json to_json(const AccuracyComparison& a);
nlohmann::json text_comparison_json(const EvalResult& r);
// {"<benchmark>": {"<protocol>": {delta, se, ci95, p_value, verdict, ...}}}
nlohmann::json benchmark_comparison_json(const BenchmarkReport& r);
// Adds each benchmark's comparison as "against_base" to the "benchmarks" of to_json(BenchmarkReport).
void add_benchmark_comparisons(const BenchmarkReport& r, nlohmann::json& report_json);
// One line per benchmark protocol: "  acc  delta -1.00 +/- 0.50 %  95% [-2.0, 0.0]  McNemar p 0.109 (8/2): same".
std::string benchmark_comparison_text(const BenchmarkReport& r);

// The gate's outcome: one line per condition, "gate: FAIL kld<=0.02 (kld = 0.0412)" ...
std::string gate_text(const std::vector<GateOutcome>& outcomes);
nlohmann::json gate_json(const std::vector<GateOutcome>& outcomes);

}  // namespace lowbit::eval
