#include "eval/verdicts.h"

#include <cstdio>

namespace lowbit::eval {

using nlohmann::json;

TextComparison compare_text(const EvalResult& r) {
  TextComparison c;
  c.ppl = compare_ppl(r.nll_pairs);
  c.kld = normal_difference(r.mean_kld, r.kld_stderr, true);
  c.top1 = normal_difference(r.top1_agreement - 1, r.top1_stderr, false);
  return c;
}

PairedCounts paired_counts(const std::vector<TaskScore>& model, const std::vector<TaskScore>& base, McMetric m) {
  PairedCounts c;
  for (size_t i = 0; i < model.size() && i < base.size(); ++i) {
    const bool a = pick(model[i], m) == model[i].gold, b = pick(base[i], m) == base[i].gold;
    (a ? (b ? c.both : c.model_only) : (b ? c.base_only : c.neither)) += 1;
  }
  return c;
}

void add_measurements(const EvalResult& r, Measurements& out) {
  out["ppl"] = {r.ppl, std::nullopt};
  if (!r.has_base) return;
  const TextComparison c = compare_text(r);
  out["base_ppl"] = {r.base_ppl, std::nullopt};
  out["dppl"] = {c.ppl.dppl.value, c.ppl.dppl.verdict};
  out["ln_ppl_ratio"] = {c.ppl.ln_ratio.value, c.ppl.ln_ratio.verdict};
  out["ppl_ratio"] = {c.ppl.ratio, c.ppl.ln_ratio.verdict};
  out["kld"] = {r.mean_kld, c.kld.verdict};
  out["kld_p99"] = {r.kld_p99, std::nullopt};
  out["top1"] = {r.top1_agreement, c.top1.verdict};
  out["rms_dp"] = {r.rms_dp, std::nullopt};
}

void add_measurements(const BenchmarkReport& rep, Measurements& out) {
  for (const BenchmarkRun& r : rep.runs)
    for (McMetric m : metrics_of(r.benchmark)) {
      const std::string key = to_string(r.benchmark) + "." + to_string(m) + ".";
      const Accuracy a = accuracy(r.tasks, m);
      if (r.base_tasks.empty()) {
        out[key + "acc"] = {a.acc, std::nullopt};
        continue;
      }
      const Accuracy b = accuracy(r.base_tasks, m);
      const AccuracyComparison c = compare_accuracy(paired_counts(r.tasks, r.base_tasks, m));
      out[key + "acc"] = {a.acc, c.verdict};
      out[key + "base_acc"] = {b.acc, std::nullopt};
      out[key + "drop"] = {b.acc - a.acc, c.verdict};
    }
}

json to_json(const Difference& d) {
  return json{{"value", d.value}, {"se", d.se}, {"ci95", {d.lo, d.hi}}, {"verdict", to_string(d.verdict)}};
}

json to_json(const AccuracyComparison& a) {
  return json{{"delta", a.delta},     {"se", a.se},   {"ci95", {a.lo, a.hi}}, {"ci95_method", "newcombe_hybrid_score"},
              {"p_value", a.p_value}, {"test", "mcnemar_exact"}, {"verdict", to_string(a.verdict)}};
}

json text_comparison_json(const EvalResult& r) {
  const TextComparison c = compare_text(r);
  json ratio = to_json(c.ppl.ln_ratio);
  return json{{"dppl", to_json(c.ppl.dppl)},
              {"ln_ppl_ratio", to_json(c.ppl.ln_ratio)},
              {"ppl_ratio", {{"value", c.ppl.ratio}, {"se", c.ppl.ratio_se}, {"verdict", to_string(c.ppl.ln_ratio.verdict)}}},
              {"ppl_correlation", c.ppl.correlation},
              {"kld", to_json(c.kld)},
              {"top1", {{"value", r.top1_agreement}, {"se", r.top1_stderr},
                        {"ci95", {1 + c.top1.lo, 1 + c.top1.hi}}, {"verdict", to_string(c.top1.verdict)}}}};
}

json benchmark_comparison_json(const BenchmarkReport& rep) {
  json out = json::object();
  for (const BenchmarkRun& r : rep.runs) {
    if (r.base_tasks.empty()) continue;
    json per = json::object();
    for (McMetric m : metrics_of(r.benchmark)) {
      const PairedCounts pc = paired_counts(r.tasks, r.base_tasks, m);
      json j = to_json(compare_accuracy(pc));
      j["model_only_right"] = pc.model_only;
      j["base_only_right"] = pc.base_only;
      per[to_string(m)] = j;
    }
    out[to_string(r.benchmark)] = per;
  }
  return out;
}

void add_benchmark_comparisons(const BenchmarkReport& r, nlohmann::json& report_json) {
  const json comparisons = benchmark_comparison_json(r);  // a named object: items() does not own it
  for (const auto& [name, comparison] : comparisons.items()) report_json["benchmarks"][name]["against_base"] = comparison;
}

std::string benchmark_comparison_text(const BenchmarkReport& rep) {
  std::string out;
  char buf[512];
  for (const BenchmarkRun& r : rep.runs) {
    if (r.base_tasks.empty()) continue;
    std::snprintf(buf, sizeof buf, "%-16s against the base (paired: McNemar exact, Newcombe 95%% interval)\n",
                  to_string(r.benchmark).c_str());
    out += buf;
    for (McMetric m : metrics_of(r.benchmark)) {
      const PairedCounts pc = paired_counts(r.tasks, r.base_tasks, m);
      const AccuracyComparison c = compare_accuracy(pc);
      std::snprintf(buf, sizeof buf,
                    "  %-10s delta %+6.2f +/- %.2f %%  95%% [%+.2f, %+.2f]  p %.4g (right only here %ld, only in base "
                    "%ld)  %s\n",
                    to_string(m).c_str(), 100 * c.delta, 100 * c.se, 100 * c.lo, 100 * c.hi, c.p_value,
                    long(pc.model_only), long(pc.base_only), to_string(c.verdict).c_str());
      out += buf;
    }
  }
  return out;
}

std::string gate_text(const std::vector<GateOutcome>& outcomes) {
  std::string out;
  char buf[512];
  for (const GateOutcome& g : outcomes) {
    const std::string verdict = g.verdict ? ", " + to_string(*g.verdict) : "";
    std::snprintf(buf, sizeof buf, "gate %-4s %s  (%s = %.6g%s)\n", g.holds ? "ok" : "FAIL", g.condition->text.c_str(),
                  g.condition->metric.c_str(), g.value, verdict.c_str());
    out += buf;
  }
  return out;
}

json gate_json(const std::vector<GateOutcome>& outcomes) {
  json arr = json::array();
  for (const GateOutcome& g : outcomes) {
    json j{{"condition", g.condition->text}, {"metric", g.condition->metric}, {"value", g.value}, {"holds", g.holds}};
    if (g.verdict) j["verdict"] = to_string(*g.verdict);
    arr.push_back(j);
  }
  return arr;
}

}  // namespace lowbit::eval
