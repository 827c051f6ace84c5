#include "eval/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "eval/stats.h"

namespace lowbit::eval {

using nlohmann::json;

std::string html_escape(std::string_view s) {
  static const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        case '\t': case '\n': case '\r': out += char(c); break;
        default:
          if (c < 0x20 || c == 0x7F) out += kReplacement;  // not allowed in XML, invisible in HTML
          else out += char(c);
      }
      ++i;
      continue;
    }
    // One well-formed UTF-8 sequence (no overlong forms, surrogates or code points past U+10FFFF),
    // else one replacement character for the first byte.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      const unsigned char b = p[i + k];
      ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (ok) {
      // C1 controls (U+0080..U+009F) are discouraged in XML and invisible: one replacement.
      if (len == 2 && c == 0xC2 && p[i + 1] < 0xA0) out += kReplacement;
      else out.append(s.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

namespace {

// ---- Reading the report JSON without trusting its shape (a missing or mistyped field leaves a
// cell empty instead of throwing).

const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}
std::optional<double> number(const json& j, const char* key) {
  const json* f = field(j, key);
  if (!f || !f->is_number()) return std::nullopt;
  return f->get<double>();
}
// j[key], or null when absent (const operator[] must not be used on a missing key).
const json& sub(const json& j, const char* key) {
  static const json null;
  const json* f = field(j, key);
  return f ? *f : null;
}
std::string str(const json& j, const char* key) {
  const json* f = field(j, key);
  return f && f->is_string() ? f->get<std::string>() : std::string();
}
std::optional<bool> boolean(const json& j, const char* key) {
  const json* f = field(j, key);
  if (!f || !f->is_boolean()) return std::nullopt;
  return f->get<bool>();
}
// ci95: [lo, hi]
std::optional<std::pair<double, double>> interval(const json& j) {
  const json* f = field(j, "ci95");
  if (!f || !f->is_array() || f->size() != 2 || !(*f)[0].is_number() || !(*f)[1].is_number()) return std::nullopt;
  return std::make_pair((*f)[0].get<double>(), (*f)[1].get<double>());
}

std::string esc(const std::string& s) { return html_escape(s); }

std::string fmt(const char* f, double v) {
  char b[96];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
// An attribute value that reproduces the JSON's double exactly (tests compare it).
std::string exact(double v) { return fmt("%.17g", v); }
// A coordinate: finite, short.
std::string co(double v) { return fmt("%.2f", std::isfinite(v) ? v : 0.0); }

bool is_verdict(const std::string& v) { return v == "same" || v == "worse" || v == "better"; }

// ---- The page's pieces.

const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;padding:24px 32px;
  color:#1d232a;background:#fbfbfc;max-width:1180px}
h1{font-size:1.5em;margin:0 0 4px}
h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
h3{font-size:1.02em;margin:18px 0 6px}
p.sub{color:#56606b;margin:0 0 12px}
p.note{color:#56606b;font-size:.9em;margin:4px 0}
table{border-collapse:collapse;font-size:.92em;background:#fff}
th,td{border:1px solid #d8dde3;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#eef1f4}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.verdict{font-weight:600;text-align:center}
.same{background:#e6f4ea;color:#1e6b34}
.worse{background:#fde7e4;color:#a8231a}
.better{background:#e3effc;color:#174f96}
.none{color:#8a939c}
span.ci{color:#56606b;font-size:.88em}
.summary{font-size:1.05em;margin:8px 0 4px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;margin-right:6px}
.gate{padding:8px 12px;border-radius:6px;margin:12px 0;font-weight:600}
.gate ul{font-weight:400;margin:4px 0 0;padding-left:20px}
.gate.holds{background:#e6f4ea;color:#1e6b34}
.gate.fails{background:#fde7e4;color:#a8231a}
svg{max-width:100%;height:auto;background:#fff;border:1px solid #e3e7eb}
svg text{font-size:11px;fill:#39424c}
svg .axis{stroke:#39424c;stroke-width:1}
svg .grid{stroke:#e3e7eb;stroke-width:1}
pre{background:#f3f5f7;border:1px solid #e3e7eb;padding:6px 8px;white-space:pre-wrap;word-break:break-word;
  margin:4px 0;font-size:.88em;max-height:320px;overflow:auto}
.item{border:1px solid #d8dde3;border-radius:6px;padding:8px 12px;margin:10px 0;background:#fff}
.item h4{margin:0 0 4px;font-size:.98em}
table.side{width:100%;table-layout:fixed}
table.side td{width:50%}
details summary{cursor:pointer;margin:8px 0}
.pair{display:flex;flex-wrap:wrap;gap:0 20px}
.pair section{flex:1 1 520px;min-width:0}
footer{margin-top:32px;color:#8a939c;font-size:.85em}
)";

struct Page {
  std::string out;
  Page& operator<<(const std::string& s) {
    out += s;
    return *this;
  }
};

// ---- Plots (inline SVG). One frame: the plot area inside margins, linear or given scales.

struct Frame {
  double width, height, left = 64, right = 20, top = 16, bottom = 64;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; }  // bottom of the plot area
  double y1() const { return top; }
  double plot_w() const { return x1() - x0(); }
  double plot_h() const { return y0() - y1(); }
};

std::string svg_open(const std::string& id, const Frame& f, const std::string& label) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + id + "\" width=\"" + co(f.width) + "\" height=\"" +
         co(f.height) + "\" viewBox=\"0 0 " + co(f.width) + " " + co(f.height) + "\" role=\"img\" aria-label=\"" +
         esc(label) + "\">\n";
}

double nice_step(double range, int target) {
  if (!(range > 0) || !std::isfinite(range)) return 1;
  const double raw = range / target, mag = std::pow(10.0, std::floor(std::log10(raw))), n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

// A linear y axis over [lo, hi] widened to whole steps: grid lines, labels, the axis lines and its
// title. Returns the drawn range.
struct YRange {
  double lo, hi;
  double y(const Frame& f, double v) const { return f.y0() - (v - lo) / (hi - lo) * f.plot_h(); }
};
YRange y_axis(Page& p, const Frame& f, double lo, double hi, const std::string& title, double label_scale = 1) {
  if (!std::isfinite(lo) || lo < 0) lo = 0;
  if (!(hi > lo) || !std::isfinite(hi)) hi = lo + 1;
  const double step = nice_step(hi - lo, 5);
  const YRange r{std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step};
  for (double v = r.lo; v <= r.hi + step * 1e-6; v += step) {
    const double y = r.y(f, v);
    p << "<line class=\"grid\" x1=\"" + co(f.x0()) + "\" x2=\"" + co(f.x1()) + "\" y1=\"" + co(y) + "\" y2=\"" + co(y) +
             "\"/>\n";
    p << "<text x=\"" + co(f.x0() - 6) + "\" y=\"" + co(y + 4) + "\" text-anchor=\"end\">" +
             fmt("%g", std::abs(v) < step * 1e-6 ? 0.0 : v * label_scale) + "</text>\n";
  }
  p << "<line class=\"axis\" x1=\"" + co(f.x0()) + "\" x2=\"" + co(f.x0()) + "\" y1=\"" + co(f.y0()) + "\" y2=\"" +
           co(f.y1()) + "\"/>\n";
  p << "<line class=\"axis\" x1=\"" + co(f.x0()) + "\" x2=\"" + co(f.x1()) + "\" y1=\"" + co(f.y0()) + "\" y2=\"" +
           co(f.y0()) + "\"/>\n";
  const double cy = (f.y0() + f.y1()) / 2;
  p << "<text x=\"14\" y=\"" + co(cy) + "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " + co(cy) + ")\">" +
           esc(title) + "</text>\n";
  return r;
}

void legend(Page& p, double x, double y, const std::vector<std::pair<std::string, std::string>>& entries) {
  for (const auto& [name, color] : entries) {
    p << "<rect class=\"legend\" x=\"" + co(x) + "\" y=\"" + co(y - 9) + "\" width=\"12\" height=\"10\" fill=\"" + color +
             "\"/>\n<text x=\"" + co(x + 16) + "\" y=\"" + co(y) + "\">" + esc(name) + "</text>\n";
    x += 28 + 7.0 * double(name.size());
  }
}

const char* kBaseColor = "#8796a8";
const char* kModelColor = "#e07b39";

// ---- Sections.

struct Row {
  Row(std::string shown, std::string data_key) : metric(std::move(shown)), key(std::move(data_key)) {}
  std::string metric, key;  // shown name, data-metric
  std::optional<double> base, model, diff;
  std::string base_text, model_text, diff_text, ci_text, verdict;
};

std::string value_cell(const std::optional<double>& v, const std::string& text) {
  if (!v) return "<td class=\"num none\">&#8212;</td>";
  return "<td class=\"num\" data-value=\"" + exact(*v) + "\">" + esc(text) + "</td>";
}

std::string verdict_cell(const std::string& v) {
  if (!is_verdict(v)) return "<td class=\"verdict none\">&#8212;</td>";
  return "<td class=\"verdict " + v + "\">" + v + "</td>";
}

// "v ± se" in format f (its '+' flag applies to the value only).
std::string pm(const char* f, double v, std::optional<double> se, double scale = 1) {
  std::string s = fmt(f, v * scale);
  if (se) {
    std::string unsigned_f = f;
    unsigned_f.erase(std::remove(unsigned_f.begin(), unsigned_f.end(), '+'), unsigned_f.end());
    s += " \xC2\xB1 " + fmt(unsigned_f.c_str(), *se * scale);
  }
  return s;
}

// The difference v (± d's se) and its 95 % interval, both in format f, and d's verdict.
void set_difference(Row& row, const json& d, double v, const char* f) {
  row.diff = v, row.diff_text = pm(f, v, number(d, "se"));
  if (const auto ci = interval(d)) row.ci_text = "95 % [" + fmt(f, ci->first) + ", " + fmt(f, ci->second) + "]";
  row.verdict = str(d, "verdict");
}

std::vector<Row> text_rows(const json& r) {
  std::vector<Row> rows;
  const auto ppl = number(r, "ppl");
  if (!ppl) return rows;
  const auto ppl_se = number(r, "ppl_stderr");
  const json* ab = field(r, "against_base");
  Row p{"perplexity", "ppl"};
  p.model = ppl;
  p.model_text = pm("%.4f", *ppl, ppl_se);
  if (const auto b = number(r, "base_ppl")) {
    p.base = b;
    p.base_text = pm("%.4f", *b, number(r, "base_ppl_stderr"));
  }
  if (ab) {
    const json& d = sub(*ab, "dppl");
    if (const auto v = number(d, "value")) set_difference(p, d, *v, "%+.4f");
  }
  rows.push_back(p);
  if (!ab) return rows;
  {
    const json& d = sub(*ab, "ln_ppl_ratio");
    Row q{"ln(PPL ratio)", "ln_ppl_ratio"};
    q.base = 0.0, q.base_text = "0";
    if (const auto v = number(d, "value")) {
      q.model = v, q.model_text = fmt("%+.6f", *v);
      if (const auto ratio = number(sub(*ab, "ppl_ratio"), "value")) q.model_text += " (ratio " + fmt("%.4f", *ratio) + ")";
      set_difference(q, d, *v, "%+.6f");
    }
    rows.push_back(q);
  }
  if (const auto kld = number(r, "mean_kld")) {
    const json& d = sub(*ab, "kld");
    Row k{"mean KLD (nats)", "kld"};
    k.base = 0.0, k.base_text = "0";
    k.model = kld, k.model_text = pm("%.6f", *kld, number(r, "kld_stderr"));
    if (const auto p99 = number(r, "kld_p99")) k.model_text += " (p99 " + fmt("%.4f", *p99) + ")";
    set_difference(k, d, *kld, "%+.6f");
    rows.push_back(k);
  }
  if (const auto top1 = number(r, "top1_agreement")) {
    const json& d = sub(*ab, "top1");
    Row t{"same top token", "top1"};
    t.base = 1.0, t.base_text = "100 %";
    t.model = top1, t.model_text = pm("%.3f", *top1, number(r, "top1_stderr"), 100) + " %";
    t.diff = *top1 - 1, t.diff_text = pm("%+.3f", *top1 - 1, number(r, "top1_stderr"), 100) + " %";
    if (const auto ci = interval(d))
      t.ci_text = "95 % [" + fmt("%+.3f", 100 * (ci->first - 1)) + ", " + fmt("%+.3f", 100 * (ci->second - 1)) + "] %";
    t.verdict = str(d, "verdict");
    rows.push_back(t);
  }
  if (const auto rms = number(r, "rms_dp")) {
    Row d{"RMS \xCE\x94p", "rms_dp"};
    d.base = 0.0, d.base_text = "0 %";
    d.model = rms, d.model_text = fmt("%.3f", 100 * *rms) + " %";
    rows.push_back(d);
  }
  return rows;
}

// Protocols in the order the text report prints them.
std::vector<std::string> protocols_of(const json& metrics) {
  std::vector<std::string> out;
  for (const char* p : {"llama.cpp", "acc", "acc_norm"})
    if (field(metrics, p)) out.push_back(p);
  if (metrics.is_object())
    for (const auto& [k, v] : metrics.items())
      if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  return out;
}

std::vector<Row> benchmark_rows(const json& r) {
  std::vector<Row> rows;
  const json* benches = field(r, "benchmarks");
  if (!benches || !benches->is_object()) return rows;
  for (const auto& [name, b] : benches->items()) {
    const json* metrics = field(b, "metrics");
    if (!metrics) continue;
    const json* against = field(b, "against_base");
    for (const std::string& proto : protocols_of(*metrics)) {
      const json& m = sub(*metrics, proto.c_str());
      Row row{name + " \xC2\xB7 " + proto, name + "." + proto};
      if (const auto acc = number(m, "acc")) row.model = acc, row.model_text = pm("%.2f", *acc, number(m, "stderr"), 100) + " %";
      if (const json* base = field(m, "base"))
        if (const auto acc = number(*base, "acc"))
          row.base = acc, row.base_text = pm("%.2f", *acc, number(*base, "stderr"), 100) + " %";
      if (against)
        if (const json* c = field(*against, proto.c_str())) {
          if (const auto d = number(*c, "delta")) {
            row.diff = d, row.diff_text = pm("%+.2f", *d, number(*c, "se"), 100) + " %";
            if (const auto ci = interval(*c))
              row.ci_text = "95 % [" + fmt("%+.2f", 100 * ci->first) + ", " + fmt("%+.2f", 100 * ci->second) + "]";
            if (const auto pv = number(*c, "p_value")) row.ci_text += " p " + fmt("%.3g", *pv);
          }
          row.verdict = str(*c, "verdict");
        }
      rows.push_back(row);
    }
  }
  return rows;
}

void verdict_section(Page& p, const json& r) {
  std::vector<Row> rows = text_rows(r);
  const std::vector<Row> bench = benchmark_rows(r);
  rows.insert(rows.end(), bench.begin(), bench.end());
  if (const json* c = field(r, "custom")) {
    Row row{"custom \xC2\xB7 pass rate", "custom.pass_rate"};
    if (const auto v = number(*c, "pass_rate")) row.model = v, row.model_text = fmt("%.1f", 100 * *v) + " %";
    if (const auto v = number(*c, "base_pass_rate")) row.base = v, row.base_text = fmt("%.1f", 100 * *v) + " %";
    if (row.model && row.base) row.diff = *row.model - *row.base, row.diff_text = fmt("%+.1f", 100 * *row.diff) + " %";
    const json* reg = field(*c, "regressions");
    const json* fix = field(*c, "fixes");
    const size_t nreg = reg && reg->is_array() ? reg->size() : 0, nfix = fix && fix->is_array() ? fix->size() : 0;
    if (reg || fix) row.ci_text = std::to_string(nreg) + " regressions, " + std::to_string(nfix) + " fixes";
    if (row.model || row.base) rows.push_back(row);
    if (const auto same = number(*c, "same_output")) {
      Row s{"custom \xC2\xB7 same output as base", "custom.same_output"};
      s.base = 1.0, s.base_text = "100 %";
      s.model = same, s.model_text = fmt("%.1f", 100 * *same) + " %";
      rows.push_back(s);
    }
  }
  p << "<section id=\"verdicts\">\n<h2>Verdicts</h2>\n";
  int worse = 0, same = 0, better = 0;
  for (const Row& row : rows) worse += row.verdict == "worse", same += row.verdict == "same", better += row.verdict == "better";
  if (worse + same + better > 0)
    p << "<p class=\"summary\"><span class=\"badge worse\">" + std::to_string(worse) +
             " worse</span><span class=\"badge same\">" + std::to_string(same) +
             " same</span><span class=\"badge better\">" + std::to_string(better) +
             " better</span> (same: the difference is within the noise of the paired samples)</p>\n";
  if (rows.empty()) {
    p << "<p class=\"note\">No metric in this report.</p>\n</section>\n";
    return;
  }
  p << "<table class=\"verdicts\">\n<thead><tr><th>metric</th><th>base</th><th>quantized</th>"
       "<th>difference \xC2\xB1 SE</th><th>verdict</th></tr></thead>\n<tbody>\n";
  for (const Row& row : rows) {
    p << "<tr data-metric=\"" + esc(row.key) + "\"><th>" + esc(row.metric) + "</th>" + value_cell(row.base, row.base_text) +
             value_cell(row.model, row.model_text);
    if (row.diff) {
      p << "<td class=\"num\" data-value=\"" + exact(*row.diff) + "\">" + esc(row.diff_text);
      if (!row.ci_text.empty()) p << " <span class=\"ci\">" + esc(row.ci_text) + "</span>";
      p << "</td>";
    } else if (!row.ci_text.empty()) {
      p << "<td class=\"num\"><span class=\"ci\">" + esc(row.ci_text) + "</span></td>";
    } else {
      p << "<td class=\"num none\">&#8212;</td>";
    }
    p << verdict_cell(row.verdict) + "</tr>\n";
  }
  p << "</tbody>\n</table>\n";
  p << "<p class=\"note\">Differences are quantized \xE2\x88\x92 base on the same tokens and tasks, with the paired "
       "standard error; the verdict is <b>same</b> when the 95 % interval (benchmarks: McNemar's exact test, p \xE2\x89\xA5 "
       "0.05) cannot tell the two apart. docs/eval.md has the formulas.</p>\n</section>\n";
}

void gate_section(Page& p, const json& r) {
  const json* g = field(r, "gate");
  if (!g) return;
  const bool holds = boolean(*g, "holds").value_or(false);
  p << "<div id=\"gate\" class=\"gate " + std::string(holds ? "holds" : "fails") + "\">gate " +
           (holds ? "holds" : "FAILS") + ": <code>" + esc(str(*g, "expression")) + "</code>\n<ul>\n";
  if (const json* cs = field(*g, "conditions"); cs && cs->is_array())
    for (const json& c : *cs) {
      const bool ok = boolean(c, "holds").value_or(false);
      std::string line = std::string(ok ? "ok" : "FAIL") + "  " + str(c, "condition");
      if (const auto v = number(c, "value")) line += "  (" + str(c, "metric") + " = " + fmt("%.6g", *v);
      if (const std::string v = str(c, "verdict"); !v.empty()) line += ", " + v;
      if (number(c, "value")) line += ")";
      p << "<li>" + esc(line) + "</li>\n";
    }
  p << "</ul></div>\n";
}

struct Bar {
  Bar(std::string b, std::string p) : bench(std::move(b)), proto(std::move(p)) {}
  std::string bench, proto, verdict;
  std::optional<double> base, base_se, model, model_se;
};

void benchmark_section(Page& p, const json& r) {
  const json* benches = field(r, "benchmarks");
  if (!benches || !benches->is_object() || benches->empty()) return;
  std::vector<Bar> bars;
  bool any_base = false;
  for (const auto& [name, b] : benches->items()) {
    const json* metrics = field(b, "metrics");
    if (!metrics) continue;
    for (const std::string& proto : protocols_of(*metrics)) {
      const json& m = sub(*metrics, proto.c_str());
      Bar bar{name, proto};
      bar.model = number(m, "acc"), bar.model_se = number(m, "stderr");
      if (const json* base = field(m, "base")) bar.base = number(*base, "acc"), bar.base_se = number(*base, "stderr");
      if (const json* a = field(b, "against_base"))
        if (const json* c = field(*a, proto.c_str())) bar.verdict = str(*c, "verdict");
      any_base = any_base || bar.base.has_value();
      bars.push_back(bar);
    }
  }
  if (bars.empty()) return;
  const double group = 110;
  Frame f{std::clamp(84 + group * double(bars.size()), 560.0, 1100.0), 330};
  f.bottom = 70;
  p << "<section id=\"benchmarks\">\n<h2>Benchmarks</h2>\n";
  p << svg_open("benchmark-bars", f, "benchmark accuracy, base and quantized, with 95 % intervals");
  const YRange yr = y_axis(p, f, 0, 1.0, "accuracy (%)", 100);
  auto y = [&](double v) { return yr.y(f, std::clamp(v, 0.0, 1.0)); };
  const double gw = f.plot_w() / double(bars.size()), bw = std::min(gw * (any_base ? 0.34 : 0.5), 44.0);
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double gx = f.x0() + gw * double(i);
    auto draw = [&](const char* cls, const char* who, const char* color, double x, double acc, std::optional<double> se) {
      const double lo = std::max(0.0, acc - kZ95 * se.value_or(0)), hi = std::min(1.0, acc + kZ95 * se.value_or(0));
      p << "<rect class=\"bar " + std::string(cls) + "\" data-benchmark=\"" + esc(b.bench) + "\" data-protocol=\"" +
               esc(b.proto) + "\" data-value=\"" + exact(acc) + "\" x=\"" + co(x) + "\" y=\"" + co(y(acc)) +
               "\" width=\"" + co(bw) + "\" height=\"" + co(f.y0() - y(acc)) + "\" fill=\"" + color + "\"><title>" +
               esc(b.bench + " " + b.proto + ", " + who + ": " + fmt("%.2f", 100 * acc) + " %, 95 % [" +
                   fmt("%.2f", 100 * lo) + ", " + fmt("%.2f", 100 * hi) + "]") +
               "</title></rect>\n";
      if (se) {
        const double cx = x + bw / 2;
        p << "<path class=\"ci\" d=\"M" + co(cx) + " " + co(y(lo)) + "V" + co(y(hi)) + "M" + co(cx - 5) + " " +
                 co(y(lo)) + "H" + co(cx + 5) + "M" + co(cx - 5) + " " + co(y(hi)) + "H" + co(cx + 5) +
                 "\" stroke=\"#1d232a\" stroke-width=\"1.2\" fill=\"none\"/>\n";
      }
    };
    const double mid = gx + gw / 2;
    if (any_base) {
      if (b.base) draw("base", "base", kBaseColor, mid - bw - 1, *b.base, b.base_se);
      if (b.model) draw("model", "quantized", kModelColor, mid + 1, *b.model, b.model_se);
    } else if (b.model) {
      draw("model", "model", kModelColor, mid - bw / 2, *b.model, b.model_se);
    }
    p << "<text x=\"" + co(mid) + "\" y=\"" + co(f.y0() + 16) + "\" text-anchor=\"middle\">" + esc(b.bench) +
             "</text>\n<text x=\"" + co(mid) + "\" y=\"" + co(f.y0() + 30) + "\" text-anchor=\"middle\">" +
             esc(b.proto) + "</text>\n";
    if (is_verdict(b.verdict)) {
      const char* color = b.verdict == "worse" ? "#a8231a" : b.verdict == "better" ? "#174f96" : "#1e6b34";
      p << "<text class=\"verdict\" x=\"" + co(mid) + "\" y=\"" + co(f.y0() + 45) +
               "\" text-anchor=\"middle\" font-weight=\"bold\" style=\"fill:" + color + "\">" + b.verdict + "</text>\n";
    }
  }
  if (any_base) legend(p, f.x0() + 8, f.height - 8, {{"base", kBaseColor}, {"quantized", kModelColor}});
  p << "</svg>\n<p class=\"note\">Accuracy of each protocol; whiskers: 95 % interval of each accuracy "
       "(\xC2\xB1 1.96 binomial SE). The verdict under each pair comes from the paired test.</p>\n";
  // Per-benchmark run details.
  p << "<table class=\"runs\">\n<thead><tr><th>benchmark</th><th>tasks</th><th>selection</th><th>time</th></tr></thead>\n<tbody>\n";
  for (const auto& [name, b] : benches->items()) {
    std::string tasks;
    if (const json* m = field(b, "metrics"))
      for (const std::string& proto : protocols_of(*m)) {
        if (const auto n = number(sub(*m, proto.c_str()), "tasks")) tasks = fmt("%.0f", *n);
        break;
      }
    if (const auto ft = number(b, "file_tasks")) tasks += " of " + fmt("%.0f", *ft);
    std::string time;
    if (const auto s = number(b, "seconds")) time = fmt("%.1f s", *s);
    p << "<tr><td>" + esc(name) + "</td><td class=\"num\">" + esc(tasks) + "</td><td>" + esc(str(b, "selection")) +
             "</td><td class=\"num\">" + esc(time) + "</td></tr>\n";
  }
  p << "</tbody>\n</table>\n</section>\n";
}

std::string kld_label(int i) {  // the edge 10^(-6 + i/4), i a multiple of 4
  const int e = -6 + i / 4;
  if (e <= -3) return "1e" + std::to_string(e);
  return fmt("%g", std::pow(10.0, e));
}

void kld_histogram_section(Page& p, const json& r) {
  const json* h = field(r, "kld_histogram");
  if (!h) return;
  const json* edges = field(*h, "edges");
  const json* counts = field(*h, "counts");
  if (!edges || !counts || !edges->is_array() || !counts->is_array() || counts->size() != edges->size() + 1) return;
  std::vector<double> e, c;
  double total = 0, most = 0;
  for (const json& v : *edges) e.push_back(v.is_number() ? v.get<double>() : 0.0);
  for (const json& v : *counts) {
    c.push_back(v.is_number() ? v.get<double>() : 0.0);
    total += c.back();
    most = std::max(most, c.back());
  }
  if (total <= 0) return;
  Frame f{540, 320};
  f.bottom = 52, f.top = 36;  // the markers' labels above the bars
  p << "<section id=\"kld-distribution\">\n<h2>KLD distribution</h2>\n";
  p << svg_open("kld-histogram", f, "histogram of the per-token KL divergence, log-spaced bins");
  const YRange top = y_axis(p, f, 0, 100 * most / total, "tokens (%)");
  const double bw = f.plot_w() / double(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    const double frac = 100 * c[i] / total, h_px = f.y0() - top.y(f, frac);
    const std::string range = i == 0 ? "below " + fmt("%g", e.front())
                              : i == c.size() - 1 ? fmt("%g", e.back()) + " or more"
                                                  : "[" + fmt("%.3g", e[i - 1]) + ", " + fmt("%.3g", e[i]) + ")";
    p << "<rect class=\"hist-bin\" data-count=\"" + fmt("%.0f", c[i]) + "\" x=\"" + co(f.x0() + bw * double(i) + 0.5) +
             "\" y=\"" + co(f.y0() - h_px) + "\" width=\"" + co(bw - 1) + "\" height=\"" + co(h_px) + "\" fill=\"" +
             (i == 0 || i == c.size() - 1 ? "#b7c0ca" : kModelColor) + "\"><title>" +
             esc(range + ": " + fmt("%.0f", c[i]) + " tokens (" + fmt("%.2f", frac) + " %)") + "</title></rect>\n";
  }
  // Decade labels on the bin edges; the two outer bins by name.
  for (size_t i = 0; i < e.size(); i += 4)
    p << "<text x=\"" + co(f.x0() + bw * double(i + 1)) + "\" y=\"" + co(f.y0() + 14) + "\" text-anchor=\"middle\">" +
             kld_label(int(i)) + "</text>\n";
  p << "<text x=\"" + co(f.x0() + bw / 2) + "\" y=\"" + co(f.y0() + 28) + "\" text-anchor=\"middle\">&lt;" +
           kld_label(0) + "</text>\n";
  p << "<text x=\"" + co(f.x1() - bw / 2) + "\" y=\"" + co(f.y0() + 28) + "\" text-anchor=\"middle\">\xE2\x89\xA5" +
           kld_label(int(e.size()) - 1) + "</text>\n";
  p << "<text x=\"" + co((f.x0() + f.x1()) / 2) + "\" y=\"" + co(f.height - 8) +
           "\" text-anchor=\"middle\">KL(base \xE2\x80\x96 quantized) per token, nats (log scale)</text>\n";
  // Mean and 99th percentile: positions on the same log scale (bin units).
  auto pos = [&](double v) {
    if (!(v >= e.front())) return 0.5;
    if (v >= e.back()) return double(c.size()) - 0.5;
    return 1 + (std::log10(v) - std::log10(e.front())) / (std::log10(e[1]) - std::log10(e[0]));
  };
  int k = 0;
  for (const auto& [key, name] : {std::pair{"mean_kld", "mean"}, std::pair{"kld_p99", "p99"}}) {
    const auto v = number(r, key);
    if (!v) continue;
    const double x = f.x0() + bw * pos(*v);
    p << "<line class=\"marker\" data-value=\"" + exact(*v) + "\" x1=\"" + co(x) + "\" x2=\"" + co(x) + "\" y1=\"" +
             co(f.y0()) + "\" y2=\"" + co(f.y1()) + "\" stroke=\"#1d232a\" stroke-dasharray=\"4 3\"/>\n";
    p << "<text x=\"" + co(x) + "\" y=\"" + co(f.y1() - 20 + 13 * k++) + "\" text-anchor=\"middle\">" + name + " " +
             fmt("%.4g", *v) + "</text>\n";
  }
  p << "</svg>\n<p class=\"note\">How far each scored token's next-token distribution moved from the base's. A "
       "quantization that hurts a few tokens badly shows a long right tail even when the mean is small.</p>\n"
       "</section>\n";
}

void kld_chunks_section(Page& p, const json& r) {
  const json* ks = field(r, "kld_per_chunk");
  if (!ks || !ks->is_array() || ks->empty()) return;
  std::vector<double> v;
  for (const json& x : *ks) v.push_back(x.is_number() ? x.get<double>() : 0.0);
  const double most = *std::max_element(v.begin(), v.end());
  Frame f{540, 320};
  f.bottom = 52, f.top = 36;
  p << "<section id=\"kld-along-text\">\n<h2>KLD along the text</h2>\n";
  p << svg_open("kld-chunks", f, "mean KL divergence of each chunk of the text");
  const YRange yr = y_axis(p, f, 0, most * 1.05, "mean KLD (nats)");
  const size_t n = v.size();
  auto x = [&](size_t i) { return n == 1 ? (f.x0() + f.x1()) / 2 : f.x0() + f.plot_w() * double(i) / double(n - 1); };
  auto y = [&](double k) { return yr.y(f, std::max(0.0, k)); };
  // Chunk numbers (1-based) on the x axis.
  const double step = std::max(1.0, nice_step(double(n), 8));
  for (double c = 1; c <= double(n); c += (c == 1 && step > 1 ? step - 1 : step))
    p << "<text x=\"" + co(x(size_t(c) - 1)) + "\" y=\"" + co(f.y0() + 14) + "\" text-anchor=\"middle\">" +
             fmt("%.0f", c) + "</text>\n";
  p << "<text x=\"" + co((f.x0() + f.x1()) / 2) + "\" y=\"" + co(f.height - 8) +
           "\" text-anchor=\"middle\">chunk of the text</text>\n";
  if (const auto mean = number(r, "mean_kld")) {
    p << "<line class=\"marker\" data-value=\"" + exact(*mean) + "\" x1=\"" + co(f.x0()) + "\" x2=\"" + co(f.x1()) +
             "\" y1=\"" + co(y(*mean)) + "\" y2=\"" + co(y(*mean)) + "\" stroke=\"#8796a8\" stroke-dasharray=\"4 3\"/>\n";
    p << "<text x=\"" + co(f.x1() - 4) + "\" y=\"" + co(y(*mean) - 4) + "\" text-anchor=\"end\">mean " +
             fmt("%.4g", *mean) + "</text>\n";
  }
  std::string pts;
  for (size_t i = 0; i < n; ++i) pts += (i ? " " : "") + co(x(i)) + "," + co(y(v[i]));
  p << "<polyline class=\"kld-line\" data-points=\"" + std::to_string(n) + "\" points=\"" + pts + "\" fill=\"none\" stroke=\"" +
           kModelColor + "\" stroke-width=\"1.6\"/>\n";
  if (n <= 80)
    for (size_t i = 0; i < n; ++i)
      p << "<circle cx=\"" + co(x(i)) + "\" cy=\"" + co(y(v[i])) + "\" r=\"2.5\" fill=\"" + kModelColor + "\"><title>chunk " +
               std::to_string(i + 1) + ": " + fmt("%.6f", v[i]) + "</title></circle>\n";
  p << "</svg>\n<p class=\"note\">The mean KLD of each chunk's scored tokens, in text order: a spike is a passage the "
       "quantized model reads differently (code, numbers, a rare language).</p>\n</section>\n";
}

// Module kinds in the order of a decoder layer; anything else after them, by name.
int kind_rank(const std::string& k) {
  static const char* order[] = {"q", "k", "v", "o", "qkv", "gate", "up", "gate_up", "down"};
  for (int i = 0; i < int(std::size(order)); ++i)
    if (k == order[i]) return i;
  return 100;
}

void weight_error_section(Page& p, const json* qr) {
  if (!qr) return;
  const json* mods = field(*qr, "modules");
  if (!mods || !mods->is_array() || mods->empty()) return;
  // model.layers.N.<block>.<name>[_proj]: layer N, kind <name>; experts of one kind are averaged.
  static const std::regex layer_re(R"(layers\.(\d+)\..*?([A-Za-z0-9_]+)$)");
  std::map<std::string, std::map<int, std::pair<double, int>>> series;
  std::vector<std::pair<std::string, double>> outside, all;
  int layers = 0;
  for (const json& m : *mods) {
    const std::string name = str(m, "module");
    const auto err = number(m, "relative_error");
    if (name.empty() || !err) continue;
    all.push_back({name, *err});
    std::smatch sm;
    if (!std::regex_search(name, sm, layer_re)) {
      outside.push_back({name, *err});
      continue;
    }
    const int layer = std::stoi(sm[1].str().substr(0, 6));
    std::string kind = sm[2].str();
    if (kind.size() > 5 && kind.compare(kind.size() - 5, 5, "_proj") == 0) kind.resize(kind.size() - 5);
    auto& [sum, count] = series[kind][layer];
    sum += *err, ++count;
    layers = std::max(layers, layer + 1);
  }
  p << "<section id=\"weight-error\">\n<h2>Weight error per module</h2>\n";
  std::string head;
  if (const std::string method = str(*qr, "method"); !method.empty()) head += "method " + method + "; ";
  if (const auto v = number(*qr, "mean_relative_error")) head += "mean relative error " + fmt("%.5f", *v) + "; ";
  if (const auto v = number(*qr, "max_relative_error")) head += "max " + fmt("%.5f", *v);
  if (!head.empty()) p << "<p class=\"sub\">" + esc(head) + "</p>\n";
  if (!series.empty()) {
    std::vector<std::string> kinds;
    for (const auto& [k, v] : series) kinds.push_back(k);
    std::stable_sort(kinds.begin(), kinds.end(), [](const std::string& a, const std::string& b) {
      return kind_rank(a) != kind_rank(b) ? kind_rank(a) < kind_rank(b) : a < b;
    });
    static const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    double most = 0, least = HUGE_VAL;
    for (const auto& [k, per] : series)
      for (const auto& [l, sc] : per) most = std::max(most, sc.first / sc.second), least = std::min(least, sc.first / sc.second);
    Frame f{1100, 360};
    f.bottom = 56;
    p << svg_open("weight-error-plot", f, "relative weight error of each module kind over the layers");
    // Not from zero: the differences between layers and kinds are the point.
    const double pad = std::max(0.05 * (most - least), 1e-3 * most);
    const YRange yr = y_axis(p, f, least - pad, most + pad, "relative error \xE2\x80\x96\xCE\x94W\xE2\x80\x96 / \xE2\x80\x96W\xE2\x80\x96");
    auto x = [&](int l) { return layers == 1 ? (f.x0() + f.x1()) / 2 : f.x0() + f.plot_w() * l / double(layers - 1); };
    auto y = [&](double v) { return yr.y(f, v); };
    const double step = std::max(1.0, nice_step(double(layers), 10));
    for (double l = 0; l < layers; l += step)
      p << "<text x=\"" + co(x(int(l))) + "\" y=\"" + co(f.y0() + 14) + "\" text-anchor=\"middle\">" + fmt("%.0f", l) +
               "</text>\n";
    p << "<text x=\"" + co((f.x0() + f.x1()) / 2) + "\" y=\"" + co(f.y0() + 28) +
             "\" text-anchor=\"middle\">decoder layer</text>\n";
    std::vector<std::pair<std::string, std::string>> entries;
    for (size_t i = 0; i < kinds.size(); ++i) {
      const std::string color = palette[i % std::size(palette)];
      entries.push_back({kinds[i], color});
      std::string pts;
      for (const auto& [l, sc] : series[kinds[i]]) pts += (pts.empty() ? "" : " ") + co(x(l)) + "," + co(y(sc.first / sc.second));
      p << "<polyline class=\"series\" data-kind=\"" + esc(kinds[i]) + "\" data-points=\"" +
               std::to_string(series[kinds[i]].size()) + "\" points=\"" + pts + "\" fill=\"none\" stroke=\"" + color +
               "\" stroke-width=\"1.6\"/>\n";
      if (layers <= 64)
        for (const auto& [l, sc] : series[kinds[i]])
          p << "<circle cx=\"" + co(x(l)) + "\" cy=\"" + co(y(sc.first / sc.second)) + "\" r=\"2.2\" fill=\"" + color +
                   "\"><title>" + esc("layer " + std::to_string(l) + " " + kinds[i] + ": " + fmt("%.5f", sc.first / sc.second)) +
                   "</title></circle>\n";
    }
    legend(p, f.x0() + 8, f.height - 8, entries);
    p << "</svg>\n";
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  p << "<p class=\"note\">Relative Frobenius error of each quantized weight, one line per module kind: the layers "
       "and kinds that lose the most are where a mixed recipe (ignore, more bits) pays.</p>\n";
  p << "<table class=\"worst\">\n<thead><tr><th>largest errors</th><th>relative error</th></tr></thead>\n<tbody>\n";
  for (size_t i = 0; i < all.size() && i < 5; ++i)
    p << "<tr><td>" + esc(all[i].first) + "</td><td class=\"num\">" + fmt("%.5f", all[i].second) + "</td></tr>\n";
  p << "</tbody>\n</table>\n";
  if (!outside.empty()) {
    p << "<p class=\"note\">Outside the decoder layers: ";
    for (size_t i = 0; i < outside.size(); ++i)
      p << (i ? ", " : "") + esc(outside[i].first) + " " + fmt("%.5f", outside[i].second);
    p << "</p>\n";
  }
  p << "</section>\n";
}

std::string yes_no(const std::optional<bool>& b) { return !b ? "no check" : *b ? "pass" : "fail"; }

void custom_item(Page& p, const json& it, const std::string& kind) {
  p << "<div class=\"item " + esc(kind) + "\" data-id=\"" + esc(str(it, "id")) + "\">\n<h4>" + esc(str(it, "id")) +
           " <span class=\"badge " + (kind == "regression" ? "worse" : kind == "fix" ? "better" : "none") + "\">" +
           esc(kind) + "</span></h4>\n";
  p << "<pre class=\"prompt\">" + esc(str(it, "prompt")) + "</pre>\n";
  p << "<table class=\"side\"><thead><tr><th>base output (" + esc(yes_no(boolean(it, "base_pass"))) +
           ")</th><th>quantized output (" + esc(yes_no(boolean(it, "pass"))) + ")</th></tr></thead>\n<tbody><tr><td>";
  if (const json* b = field(it, "base_output"); b && b->is_string()) p << "<pre class=\"base-output\">" + esc(b->get<std::string>()) + "</pre>";
  else p << "<span class=\"none\">&#8212;</span>";
  p << "</td><td><pre class=\"output\">" + esc(str(it, "output")) + "</pre></td></tr></tbody></table>\n";
  std::string facts;
  if (const json* cs = field(it, "checks"); cs && cs->is_array() && !cs->empty()) {
    facts += "checks: ";
    for (size_t i = 0; i < cs->size(); ++i) facts += (i ? ", " : "") + ((*cs)[i].is_string() ? (*cs)[i].get<std::string>() : (*cs)[i].dump());
    facts += "; ";
  }
  if (const auto d = number(it, "first_divergence")) facts += "first different token: " + fmt("%.0f", *d) + "; ";
  if (const json* lp = field(it, "base_continuation_logprob"))
    if (const auto m = number(*lp, "model"), b = number(*lp, "base"); m && b)
      facts += "log-prob of the base's continuation: quantized " + fmt("%.3f", *m) + ", base " + fmt("%.3f", *b);
  while (!facts.empty() && (facts.back() == ' ' || facts.back() == ';')) facts.pop_back();
  if (!facts.empty()) p << "<p class=\"note\">" + esc(facts) + "</p>\n";
  p << "</div>\n";
}

void custom_section(Page& p, const json& r) {
  const json* c = field(r, "custom");
  if (!c) return;
  p << "<section id=\"custom\">\n<h2>Custom eval</h2>\n";
  std::string head = str(*c, "file");
  if (const auto n = number(*c, "prompts")) head += (head.empty() ? "" : ": ") + fmt("%.0f", *n) + " prompts";
  if (const auto n = number(*c, "checked")) head += ", " + fmt("%.0f", *n) + " with checks";
  if (const auto v = number(*c, "pass_rate")) head += "; pass rate " + fmt("%.1f", 100 * *v) + " %";
  if (const auto v = number(*c, "base_pass_rate")) head += " (base " + fmt("%.1f", 100 * *v) + " %)";
  if (const auto v = number(*c, "same_output")) head += "; same output as the base on " + fmt("%.1f", 100 * *v) + " %";
  p << "<p class=\"sub\">" + esc(head) + "</p>\n";
  std::map<std::string, const json*> items;
  if (const json* its = field(*c, "items"); its && its->is_array())
    for (const json& it : *its) items.emplace(str(it, "id"), &it);
  std::set<std::string> shown;
  for (const auto& [key, kind, title] : {std::tuple{"regressions", "regression", "Regressions (pass on the base, fail quantized)"},
                                         std::tuple{"fixes", "fix", "Fixes (fail on the base, pass quantized)"}}) {
    const json* ids = field(*c, key);
    if (!ids || !ids->is_array()) continue;
    p << "<h3 id=\"custom-" + std::string(key) + "\">" + title + ": " + std::to_string(ids->size()) + "</h3>\n";
    for (const json& id : *ids) {
      const std::string s = id.is_string() ? id.get<std::string>() : id.dump();
      auto it = items.find(s);
      shown.insert(s);
      if (it != items.end()) custom_item(p, *it->second, kind);
      else p << "<p class=\"note\">" + esc(s) + " (not among the items)</p>\n";
    }
  }
  // The other answers that changed: collapsed (no script needed to open them).
  std::vector<const json*> changed;
  if (const json* its = field(*c, "items"); its && its->is_array())
    for (const json& it : *its)
      if (boolean(it, "same_output") == std::optional<bool>(false) && !shown.count(str(it, "id"))) changed.push_back(&it);
  if (!changed.empty()) {
    const size_t cap = 100;
    p << "<details id=\"custom-changed\"><summary>" + std::to_string(changed.size()) +
             " other prompts whose output changed" + (changed.size() > cap ? " (first " + std::to_string(cap) + ")" : "") +
             "</summary>\n";
    for (size_t i = 0; i < changed.size() && i < cap; ++i) custom_item(p, *changed[i], "changed");
    p << "</details>\n";
  }
  p << "</section>\n";
}

void inputs_section(Page& p, const json& r, const json* qr) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.push_back({"model", str(r, "model")});
  if (const std::string b = str(r, "base"); !b.empty()) rows.push_back({"base", b});
  if (const std::string t = str(r, "text"); !t.empty()) {
    std::string d = t;
    if (const std::string h = str(r, "text_sha256"); !h.empty()) d += "  sha256 " + h;
    rows.push_back({"text", d});
    std::string how;
    if (const auto n = number(r, "chunks")) how += fmt("%.0f", *n) + " chunks";
    if (const auto n = number(r, "ctx")) how += " of " + fmt("%.0f", *n) + " tokens";
    if (const std::string pr = str(r, "protocol"); !pr.empty()) how += ", protocol " + pr;
    if (const auto n = number(r, "tokens_scored")) how += ", " + fmt("%.0f", *n) + " tokens scored";
    if (const auto b = boolean(r, "bos")) how += std::string(", BOS ") + (*b ? "yes" : "no");
    rows.push_back({"scoring", how});
  }
  if (const json* benches = field(r, "benchmarks"); benches && benches->is_object())
    for (const auto& [name, b] : benches->items()) rows.push_back({name, str(b, "file")});
  if (const json* c = field(r, "custom")) rows.push_back({"prompts", str(*c, "file")});
  if (qr)
    if (const json* cal = field(*qr, "calibration"); cal && cal->is_object() && !cal->empty()) {
      std::string d;
      for (const auto& [k, v] : cal->items()) d += (d.empty() ? "" : ", ") + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
      rows.push_back({"calibration", d});
    }
  if (const json* l = field(r, "lowbit")) {
    rows.push_back({"lowbit", str(*l, "version")});
    rows.push_back({"date", str(*l, "date")});
  }
  p << "<section id=\"inputs\">\n<h2>Inputs</h2>\n<table class=\"inputs\"><tbody>\n";
  for (const auto& [k, v] : rows)
    if (!v.empty()) p << "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>\n";
  p << "</tbody></table>\n</section>\n";
}

void recipe_section(Page& p, const json& r, const json* qr) {
  std::string text = str(r, "recipe");
  if (text.empty() && qr)
    if (const json* g = field(*qr, "config_groups")) text = "config_groups: " + g->dump(2);
  if (text.empty()) return;
  p << "<section id=\"recipe\">\n<h2>Recipe</h2>\n<pre>" + esc(text) + "</pre>\n</section>\n";
}

}  // namespace

std::string html_report(const json& r, const json* qr) {
  Page p;
  const std::string model = str(r, "model"), base = str(r, "base");
  const std::string title = "lowbit eval: " + model + (base.empty() ? "" : " vs " + base);
  p << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
       // Nothing is fetched: no script, font, image or style sheet from anywhere (the browser
       // enforces it and reports a violation), inline style only.
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>" +
           esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  p << "<h1>" + esc(title) + "</h1>\n";
  std::string sub;
  if (const json* l = field(r, "lowbit")) sub = "lowbit " + str(*l, "version") + ", " + str(*l, "date");
  if (!sub.empty()) p << "<p class=\"sub\">" + esc(sub) + "</p>\n";
  gate_section(p, r);
  verdict_section(p, r);
  benchmark_section(p, r);
  p << "<div class=\"pair\">\n";  // the two KLD plots side by side on a wide screen
  kld_histogram_section(p, r);
  kld_chunks_section(p, r);
  p << "</div>\n";
  weight_error_section(p, qr);
  custom_section(p, r);
  inputs_section(p, r, qr);
  recipe_section(p, r, qr);
  p << "<footer>Written by <code>lowbit eval --report</code>; every number is also in <code>--json</code>.</footer>\n"
       "</body>\n</html>\n";
  return p.out;
}

}  // namespace lowbit::eval
