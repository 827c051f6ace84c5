#include "quant/plan.h"

#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "quant/matching.h"
#include "quant/schemes.h"

namespace lowbit::quant {

int Plan::quantized_count() const {
  int n = 0;
  for (const auto& c : linears) n += c.group >= 0;
  return n;
}

const ModuleChoice* Plan::find(const std::string& path) const {
  for (const auto& c : linears)
    if (c.module->path == path) return &c;
  return nullptr;
}

Plan make_plan(const model::Architecture& arch, const Recipe& recipe) {
  if (recipe.config_groups.empty()) throw UserError("recipe has no config groups");
  // Targets are keyed by their string: the same string in two groups -> the later wins.
  std::map<std::string, int> target_group;
  std::vector<std::string> target_order;
  for (size_t g = 0; g < recipe.config_groups.size(); ++g)
    for (const auto& t : recipe.config_groups[g].second.targets) {
      if (!target_group.count(t)) target_order.push_back(t);
      target_group[t] = int(g);
    }
  std::vector<Matcher> targets;
  for (const auto& t : target_order) targets.emplace_back(t);
  std::vector<Matcher> ignores;
  for (const auto& i : recipe.ignore) ignores.emplace_back(i);

  Plan plan;
  std::vector<bool> target_used(targets.size(), false), ignore_used(ignores.size(), false);
  std::vector<std::string> embedding_hits;
  for (const auto& m : arch.modules) {
    for (size_t i = 0; i < ignores.size(); ++i)
      if (ignores[i].match(m) != MatchKind::None) ignore_used[i] = true;
    if (!m.is_linear() && !m.is_embedding()) continue;
    // compressed-tensors precedence: exact name, then regex, then class name.
    int best_rank = 0, group = -1;
    for (size_t i = 0; i < targets.size(); ++i) {
      MatchKind k = targets[i].match(m);
      int rank = k == MatchKind::Exact ? 3 : k == MatchKind::Regex ? 2 : k == MatchKind::Class ? 1 : 0;
      if (rank > 0) target_used[i] = true;
      if (rank > best_rank) best_rank = rank, group = target_group[targets[i].entry()];
    }
    if (group < 0) {
      if (m.is_linear()) plan.linears.push_back({&m, -1});
      continue;
    }
    bool ignored = matches_any(ignores, m);
    if (m.is_embedding()) {
      if (!ignored) embedding_hits.push_back(m.path);
      continue;
    }
    plan.linears.push_back({&m, ignored ? -1 : group});
  }
  if (!embedding_hits.empty())
    throw UserError("targets match Embedding module " + embedding_hits[0] +
                    ", but lowbit quantizes Linear modules only; add it to --ignore");

  for (size_t i = 0; i < targets.size(); ++i)
    if (!target_used[i]) plan.warnings.push_back("target '" + targets[i].entry() + "' matches no Linear module");
  for (size_t i = 0; i < ignores.size(); ++i)
    if (!ignore_used[i]) plan.warnings.push_back("ignore entry '" + ignores[i].entry() + "' matches no module");

  if (plan.quantized_count() == 0) throw UserError("the recipe quantizes no module (check targets and ignore)");

  // Every targeted class's unquantized modules are listed by name (llm-compressor's expanded ignore).
  for (const auto& c : plan.linears)
    if (c.group < 0) plan.expanded_ignore.push_back(c.module->path);

  // Group sizes and block widths must divide the input size (llm-compressor checks this
  // before it starts, and lists the layers to add to ignore).
  std::vector<std::string> indivisible;
  std::string why;
  for (const auto& c : plan.linears) {
    if (c.group < 0) continue;
    const auto& w = *recipe.config_groups[size_t(c.group)].second.weights;
    std::string p = shape_problem(w, c.module->out_features, c.module->in_features);
    if (p.empty()) continue;
    if (why.empty()) why = p.substr(p.find(" is not divisible by ") + 21);
    indivisible.push_back(c.module->path + " (in_features " + std::to_string(c.module->in_features) + ")");
  }
  if (!indivisible.empty()) {
    std::string msg = std::to_string(indivisible.size()) + " targeted layer(s) have an input size not divisible by " +
                      why + "; add them to --ignore or pick another scheme:";
    for (const auto& s : indivisible) msg += "\n  " + s;
    throw UserError(msg);
  }

  // vLLM fuses q/k/v into qkv_proj and gate/up into gate_up_proj: all shards must share a scheme.
  std::vector<std::string> mixed;
  for (const auto& group : model::fused_linears(arch)) {
    std::set<std::string> schemes;
    std::string names;
    for (const model::Module* m : group) {
      const ModuleChoice* c = plan.find(m->path);
      schemes.insert(!c || c->group < 0 ? "unquantized"
                                        : to_json(*recipe.config_groups[size_t(c->group)].second.weights).dump());
      const std::string& p = m->path;
      names += (names.empty() ? p.substr(0, p.rfind('.') + 1) + "{" : ",") + p.substr(p.rfind('.') + 1);
    }
    if (schemes.size() > 1) mixed.push_back(names + "}");
  }
  if (!mixed.empty()) {
    std::string msg = "vLLM fuses these projections into one layer and needs one scheme for all of them, but the "
                      "recipe treats them differently (ignore or target them together):";
    for (const auto& s : mixed) msg += "\n  " + s;
    throw UserError(msg);
  }
  return plan;
}

std::string to_text(const Plan& plan, const Recipe& recipe) {
  std::string out;
  char buf[512];
  for (const auto& c : plan.linears) {
    std::snprintf(buf, sizeof buf, "  %-48s %s\n", c.module->path.c_str(),
                  c.group < 0 ? "kept" : recipe.config_groups[size_t(c.group)].first.c_str());
    out += buf;
  }
  return out;
}

}  // namespace lowbit::quant
