#include "eval/gate.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace lowbit::eval {

namespace {

// The metrics of a --text run; a table so a new metric is a row.
struct MetricInfo {
  const char* name;
  bool needs_base, has_verdict, higher_is_worse;
};
constexpr MetricInfo kTextMetrics[] = {
    {"ppl", false, false, true},         {"base_ppl", true, false, true}, {"dppl", true, true, true},
    {"ppl_ratio", true, true, true},     {"ln_ppl_ratio", true, true, true}, {"kld", true, true, true},
    {"kld_p99", true, false, true},      {"top1", true, true, false},    {"rms_dp", true, false, true},
};
// The custom eval's (--prompts): counts and fractions, without a noise verdict.
constexpr MetricInfo kCustomMetrics[] = {
    {"custom.regressions", true, false, true},
    {"custom.pass_rate", false, false, false},
    {"custom.same_output", true, false, false},
};
constexpr MetricInfo kTaskQuantities[] = {
    {"acc", false, true, false},
    {"base_acc", true, false, false},
    {"drop", true, true, true},
};

std::string known_metrics() {
  std::string s;
  for (const MetricInfo& m : kTextMetrics) s += std::string(s.empty() ? "" : ", ") + m.name;
  for (const MetricInfo& m : kCustomMetrics) s += std::string(", ") + m.name;
  for (const MetricInfo& q : kTaskQuantities) s += std::string(", <task>.") + q.name;
  return s + ", <task>.<protocol>.acc|base_acc|drop";
}

const MetricInfo* find(const MetricInfo* begin, const MetricInfo* end, const std::string& name) {
  const MetricInfo* it = std::find_if(begin, end, [&](const MetricInfo& m) { return name == m.name; });
  return it == end ? nullptr : it;
}
const MetricInfo* text_metric(const std::string& name) {
  return find(std::begin(kTextMetrics), std::end(kTextMetrics), name);
}
const MetricInfo* custom_metric(const std::string& name) {
  return find(std::begin(kCustomMetrics), std::end(kCustomMetrics), name);
}
// The quantity of a task metric (the part after its last dot), or null.
const MetricInfo* task_quantity(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  return find(std::begin(kTaskQuantities), std::end(kTaskQuantities), name.substr(dot + 1));
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

std::string to_string(GateOp op) {
  switch (op) {
    case GateOp::Le: return "<=";
    case GateOp::Lt: return "<";
    case GateOp::Ge: return ">=";
    case GateOp::Gt: return ">";
    case GateOp::Eq: return "==";
  }
  return "?";
}

std::vector<GateCondition> parse_gate(const std::string& expr) {
  std::vector<GateCondition> out;
  size_t start = 0;
  while (true) {
    const size_t comma = expr.find(',', start);
    const std::string text = trim(expr.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    const std::string where = "--gate '" + text + "': ";
    if (text.empty()) throw UserError("--gate '" + expr + "': an empty condition (conditions are comma-separated)");
    const size_t op_at = text.find_first_of("<>=");
    if (op_at == std::string::npos) throw UserError(where + "no operator (<=, <, >=, >, ==)");
    GateCondition c;
    c.text = text;
    c.metric = trim(text.substr(0, op_at));
    size_t op_len = 1;
    const char o = text[op_at], next = op_at + 1 < text.size() ? text[op_at + 1] : '\0';
    if (o == '<') c.op = next == '=' ? (op_len = 2, GateOp::Le) : GateOp::Lt;
    else if (o == '>') c.op = next == '=' ? (op_len = 2, GateOp::Ge) : GateOp::Gt;
    else if (next == '=') c.op = GateOp::Eq, op_len = 2;
    else throw UserError(where + "'=' is not an operator (==)");
    const std::string bound = trim(text.substr(op_at + op_len));
    if (c.metric.empty()) throw UserError(where + "no metric before the operator");
    if (bound.empty()) throw UserError(where + "no bound after the operator (a number or 'noise')");
    if (bound == "noise") {
      c.noise = true;
    } else {
      char* end = nullptr;
      errno = 0;
      c.bound = std::strtod(bound.c_str(), &end);
      if (end != bound.c_str() + bound.size() || errno != 0 || !std::isfinite(c.bound))
        throw UserError(where + "'" + bound + "' is neither a number nor 'noise'");
    }
    if (!text_metric(c.metric) && !custom_metric(c.metric) && !task_quantity(c.metric))
      throw UserError(where + "unknown metric '" + c.metric + "' (known: " + known_metrics() + ")");
    out.push_back(c);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void check_gate(std::vector<GateCondition>& conditions, const GatePlan& plan) {
  for (GateCondition& c : conditions) {
    const std::string where = "--gate '" + c.text + "': ";
    const MetricInfo* info = text_metric(c.metric);
    if (info) {
      if (!plan.text) throw UserError(where + c.metric + " is measured on --text, which this run has not");
    } else if ((info = custom_metric(c.metric))) {
      if (!plan.custom) throw UserError(where + c.metric + " is measured on --prompts, which this run has not");
      if (info->name == std::string("custom.pass_rate") && !plan.custom_checks)
        throw UserError(where + "no prompt of --prompts has a check (expected, contains, regex, choices)");
      if (c.noise) throw UserError(where + info->name + std::string(" has no noise verdict (a number only)"));
    } else {
      info = task_quantity(c.metric);
      const size_t first_dot = c.metric.find('.'), last_dot = c.metric.rfind('.');
      const std::string task = c.metric.substr(0, first_dot);
      const auto t = plan.tasks.find(task);
      if (t == plan.tasks.end()) {
        std::string run;
        for (const auto& [name, protocols] : plan.tasks) run += (run.empty() ? "" : ",") + name;
        throw UserError(where + "task '" + task + "' is not evaluated by this run (--task " +
                        (run.empty() ? "not given" : run) + ")");
      }
      std::string protocol = first_dot == last_dot ? t->second.front()
                                                   : c.metric.substr(first_dot + 1, last_dot - first_dot - 1);
      if (std::find(t->second.begin(), t->second.end(), protocol) == t->second.end()) {
        std::string known;
        for (const std::string& p : t->second) known += (known.empty() ? "" : ", ") + p;
        throw UserError(where + task + " has no protocol '" + protocol + "' (" + known + ")");
      }
      c.metric = task + "." + protocol + "." + info->name;
    }
    const bool is_text = text_metric(c.metric) != nullptr;
    if ((info->needs_base || c.noise) && !(is_text ? plan.text_base : plan.task_base))
      throw UserError(where + "compares with the base model: give --base" + std::string(is_text ? " or --base-logits" : ""));
    if (!c.noise) continue;
    if (!info->has_verdict) throw UserError(where + info->name + std::string(" has no noise verdict (a number only)"));
    const bool direction_ok = c.op == GateOp::Eq || (info->higher_is_worse ? c.op == GateOp::Le : c.op == GateOp::Ge);
    if (!direction_ok)
      throw UserError(where + "'noise' goes with " + (info->higher_is_worse ? "<=" : ">=") + " (not worse) or == (same) for " +
                      info->name);
  }
}

std::vector<GateOutcome> evaluate_gate(const std::vector<GateCondition>& conditions, const Measurements& measured) {
  std::vector<GateOutcome> out;
  for (const GateCondition& c : conditions) {
    const auto m = measured.find(c.metric);
    if (m == measured.end()) throw UserError("--gate '" + c.text + "': " + c.metric + " was not measured");
    GateOutcome g{&c, m->second.value, m->second.verdict, false};
    if (c.noise) {
      if (!g.verdict) throw UserError("--gate '" + c.text + "': " + c.metric + " has no verdict");
      g.holds = c.op == GateOp::Eq ? *g.verdict == Verdict::Same : *g.verdict != Verdict::Worse;
    } else {
      const double v = g.value, b = c.bound;
      switch (c.op) {
        case GateOp::Le: g.holds = v <= b; break;
        case GateOp::Lt: g.holds = v < b; break;
        case GateOp::Ge: g.holds = v >= b; break;
        case GateOp::Gt: g.holds = v > b; break;
        case GateOp::Eq: g.holds = v == b; break;
      }
    }
    out.push_back(g);
  }
  return out;
}

}  // namespace lowbit::eval
