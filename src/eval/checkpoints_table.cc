#include "eval/checkpoints_table.h"

#include <algorithm>
#include <cstdio>

namespace lowbit::eval {

using nlohmann::json;

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

const json* find(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return nullptr;
    p = &(*p)[k];
  }
  return p;
}

double num(const json* p) { return p && p->is_number() ? p->get<double>() : 0.0; }
std::string str(const json* p) { return p && p->is_string() ? p->get<std::string>() : ""; }

// "+1.23 +/- 0.45 worse" from {value|delta, se, verdict}; `scale` turns fractions into points.
std::string difference(const json* d, const char* key, double scale, const char* number) {
  if (!d) return "";
  return fmt(number, num(find(*d, {key})) * scale) + " +/- " + fmt("%.2f", num(find(*d, {"se"})) * scale) + " " +
         str(find(*d, {"verdict"}));
}

struct Column {
  std::string header;
  std::vector<std::string> cells;
};

}  // namespace

std::string checkpoints_table(const std::vector<json>& runs) {
  if (runs.empty()) return "";
  const json& first = runs[0];
  std::vector<Column> cols;
  auto add = [&](const std::string& header, auto cell) {
    Column c{header, {}};
    for (const json& r : runs) c.cells.push_back(cell(r));
    cols.push_back(std::move(c));
  };
  add("model", [](const json& r) { return str(find(r, {"model"})); });
  std::string base_line;
  const bool text = first.contains("ppl"), against = first.contains("against_base");
  if (text) {
    add("PPL", [](const json& r) { return fmt("%.4f", num(find(r, {"ppl"}))); });
    if (against) {
      base_line += "base PPL " + fmt("%.4f", num(find(first, {"base_ppl"})));
      add("delta PPL", [](const json& r) { return difference(find(r, {"against_base", "dppl"}), "value", 1, "%+.4f"); });
      add("mean KLD", [](const json& r) { return fmt("%.6f", num(find(r, {"mean_kld"}))); });
      add("same top", [](const json& r) { return fmt("%.2f %%", 100 * num(find(r, {"top1_agreement"}))); });
    }
  }
  if (const json* bench = find(first, {"benchmarks"}); bench && bench->is_object())
    for (const auto& [task, b] : bench->items()) {
      const json* metrics = find(b, {"metrics"});
      if (!metrics || !metrics->is_object()) continue;
      for (const auto& [metric, m] : metrics->items()) {
        const std::string t = task, name = metric;
        add(t + " " + name, [t, name](const json& r) {
          const json* acc = find(r, {"benchmarks", t.c_str(), "metrics", name.c_str(), "acc"});
          if (!acc) return std::string();
          std::string cell = fmt("%.2f", 100 * num(acc));
          if (const json* d = find(r, {"benchmarks", t.c_str(), "against_base", name.c_str()}))
            cell += " (" + difference(d, "delta", 100, "%+.2f") + ")";
          return cell;
        });
        if (const json* base = find(m, {"base", "acc"}))
          base_line += std::string(base_line.empty() ? "" : ", ") + "base " + t + " " + name + " " +
                       fmt("%.2f", 100 * num(base));
      }
    }
  if (first.contains("custom")) {
    add("custom pass", [](const json& r) {
      const json* p = find(r, {"custom", "pass_rate"});
      return p && p->is_number() ? fmt("%.1f %%", 100 * p->get<double>()) : std::string("-");
    });
    if (const json* bp = find(first, {"custom", "base_pass_rate"}); bp && bp->is_number()) {
      base_line += std::string(base_line.empty() ? "" : ", ") + "base custom pass " + fmt("%.1f %%", 100 * num(bp));
      add("regressions", [](const json& r) {
        const json* g = find(r, {"custom", "regressions"});
        return g && g->is_array() ? std::to_string(g->size()) : std::string("-");
      });
    }
  }
  if (first.contains("gate"))
    add("gate", [](const json& r) {
      const json* h = find(r, {"gate", "holds"});
      return h && h->is_boolean() ? std::string(h->get<bool>() ? "holds" : "FAILS") : std::string("-");
    });

  std::string out = base_line.empty() ? "" : base_line + "\n";
  std::vector<size_t> width;
  for (const Column& c : cols) {
    size_t w = c.header.size();
    for (const auto& s : c.cells) w = std::max(w, s.size());
    width.push_back(w);
  }
  auto line = [&](auto cell_of) {
    std::string l;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string s = cell_of(cols[i]);
      if (i + 1 < cols.size()) s.resize(width[i], ' ');
      l += (i ? "  " : "") + s;
    }
    return l + "\n";
  };
  out += line([](const Column& c) { return c.header; });
  for (size_t r = 0; r < runs.size(); ++r) out += line([r](const Column& c) { return c.cells[r]; });
  return out;
}

}  // namespace lowbit::eval
