#include "eval/html_report.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

using lowbit::eval::html_escape;
using lowbit::eval::html_report;
using nlohmann::json;

namespace {

// A report as `lowbit eval --json` writes it for --text with --base, two benchmarks (one with
// three protocols) and a custom eval in the schema of --prompts.
json full_report() {
  return json::parse(R"({
    "model": "out-W4A16", "base": "SmolLM2", "text": "wiki.test.raw", "text_sha256": "abc123",
    "ctx": 512, "protocol": "llama.cpp", "chunks": 3, "tokens_scored": 765, "bos": false,
    "ppl": 34.8412, "ppl_stderr": 2.3626, "base_ppl": 24.4894, "base_ppl_stderr": 1.6621,
    "mean_kld": 0.421066, "kld_p99": 2.101741, "top1_agreement": 0.66225, "rms_dp": 0.1234,
    "kld_stderr": 0.008838, "top1_stderr": 0.01047,
    "against_base": {
      "dppl": {"value": 10.3519, "se": 0.9444, "ci95": [8.5008, 12.2029], "verdict": "worse"},
      "ln_ppl_ratio": {"value": 0.352563, "se": 0.021685, "ci95": [0.31, 0.39], "verdict": "worse"},
      "ppl_ratio": {"value": 1.4227, "se": 0.0309, "verdict": "worse"},
      "ppl_correlation": 0.9489,
      "kld": {"value": 0.421066, "se": 0.008838, "ci95": [0.40, 0.44], "verdict": "worse"},
      "top1": {"value": 0.66225, "se": 0.01047, "ci95": [0.64, 0.68], "verdict": "worse"}},
    "kld_histogram": {"edges": [], "counts": []},
    "kld_per_chunk": [0.40, 0.47, 0.39],
    "benchmarks": {
      "hellaswag": {"file": "hs.txt", "file_tasks": 10042, "limit": 40, "selection": "first 40", "seconds": 12.5,
        "metrics": {
          "llama.cpp": {"acc": 0.30, "stderr": 0.0733, "tasks": 40, "base": {"acc": 0.325, "stderr": 0.075}},
          "acc": {"acc": 0.275, "stderr": 0.0715, "tasks": 40, "base": {"acc": 0.30, "stderr": 0.0733}},
          "acc_norm": {"acc": 0.35, "stderr": 0.0764, "tasks": 40, "base": {"acc": 0.375, "stderr": 0.0775}}},
        "against_base": {
          "llama.cpp": {"delta": -0.025, "se": 0.04, "ci95": [-0.11, 0.06], "p_value": 1.0, "verdict": "same"},
          "acc": {"delta": -0.025, "se": 0.04, "ci95": [-0.11, 0.06], "p_value": 1.0, "verdict": "same"},
          "acc_norm": {"delta": -0.025, "se": 0.04, "ci95": [-0.11, 0.06], "p_value": 1.0, "verdict": "same"}}},
      "arc-easy": {"file": "arc.jsonl", "file_tasks": 2376, "limit": 20, "selection": "20 drawn", "seconds": 3.0,
        "metrics": {
          "acc": {"acc": 0.45, "stderr": 0.114, "tasks": 20, "base": {"acc": 0.60, "stderr": 0.112}},
          "acc_norm": {"acc": 0.40, "stderr": 0.112, "tasks": 20, "base": {"acc": 0.50, "stderr": 0.115}}},
        "against_base": {
          "acc": {"delta": -0.15, "se": 0.08, "ci95": [-0.3, -0.01], "p_value": 0.03, "verdict": "worse"},
          "acc_norm": {"delta": -0.10, "se": 0.07, "ci95": [-0.25, 0.05], "p_value": 0.4, "verdict": "same"}}}},
    "custom": {"file": "evals.jsonl", "prompts": 4, "checked": 3, "pass_rate": 0.3333333333333333,
      "base_pass_rate": 0.6666666666666666, "regressions": ["p-xss"], "fixes": ["p-fix"], "same_output": 0.25,
      "items": [
        {"id": "p-xss", "prompt": "<script>alert('x')</script> & say \"hi\"", "output": "</pre><b>bold</b>",
         "base_output": "hi <there>", "checks": ["contains:hi"], "pass": false, "base_pass": true,
         "same_output": false, "first_divergence": 0, "base_continuation_logprob": {"model": -7.5, "base": -1.25}},
        {"id": "p-fix", "prompt": "2+2=", "output": "4", "base_output": "5", "checks": ["expected:4"], "pass": true,
         "base_pass": false, "same_output": false, "first_divergence": 0, "base_continuation_logprob": null},
        {"id": "p-same", "prompt": "hello", "output": "world", "base_output": "world", "checks": [], "pass": null,
         "base_pass": null, "same_output": true, "first_divergence": null, "base_continuation_logprob": null},
        {"id": "p-drift", "prompt": "tell me", "output": "a story", "base_output": null, "checks": ["regex:.*"],
         "pass": true, "base_pass": true, "same_output": false, "first_divergence": 3,
         "base_continuation_logprob": null}]},
    "gate": {"expression": "kld<=0.02", "holds": false,
      "conditions": [{"condition": "kld<=0.02", "metric": "kld", "value": 0.421066, "holds": false, "verdict": "worse"}]},
    "lowbit": {"version": "0.1.0", "date": "2026-12-07T16:00:00Z"},
    "recipe": "scheme: W4A16\nignore: [lm_head]\n"
  })");
}

json with_histogram(json r) {
  std::vector<double> edges;
  for (int i = 0; i <= 32; ++i) edges.push_back(std::pow(10.0, -6.0 + i / 4.0));
  std::vector<int> counts(34, 0);
  counts[0] = 5, counts[20] = 100, counts[26] = 600, counts[30] = 60;
  r["kld_histogram"] = {{"edges", edges}, {"counts", counts}};
  return r;
}

json quantization_report() {
  json mods = json::array();
  const char* kinds[][2] = {{"self_attn", "q_proj"}, {"self_attn", "k_proj"}, {"self_attn", "v_proj"},
                            {"self_attn", "o_proj"}, {"mlp", "gate_proj"},    {"mlp", "up_proj"},
                            {"mlp", "down_proj"}};
  for (int l = 0; l < 3; ++l)
    for (auto& k : kinds)
      mods.push_back({{"module", "model.layers." + std::to_string(l) + "." + k[0] + "." + k[1]},
                      {"group", "group_0"}, {"relative_error", 0.1 + 0.01 * l}, {"snr_db", 20.0}});
  mods.push_back({{"module", "lm_head"}, {"group", "group_1"}, {"relative_error", 0.05}, {"snr_db", 26.0}});
  return json{{"method", "rtn"}, {"calibration", json::object()}, {"config_groups", {{"group_0", {{"num_bits", 4}}}}},
              {"modules", mods}, {"mean_relative_error", 0.11}, {"max_relative_error", 0.12}};
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// Well-formedness as XML: every tag closed in order (void elements self-closed), attributes
// quoted, no raw '<' or stray '&' in text. Returns "" or what is wrong.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  size_t i = 0;
  static const std::regex entity(R"(^&(amp|lt|gt|quot|#39|#[0-9]+);)");
  while (i < s.size()) {
    if (s[i] == '&') {
      std::smatch m;
      const std::string rest = s.substr(i, 12);
      if (!std::regex_search(rest, m, entity)) return "stray & at " + std::to_string(i) + ": " + s.substr(i, 20);
      i += m.length(0);
      continue;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    if (s.compare(i, 9, "<!DOCTYPE") == 0) {
      i = s.find('>', i) + 1;
      continue;
    }
    // A tag: scan to its '>' outside quotes.
    size_t j = i + 1;
    char quote = 0;
    for (; j < s.size(); ++j) {
      if (quote) {
        if (s[j] == quote) quote = 0;
        else if (s[j] == '<') return "< inside an attribute at " + std::to_string(j);
      } else if (s[j] == '"' || s[j] == '\'') {
        quote = s[j];
      } else if (s[j] == '>') {
        break;
      } else if (s[j] == '<') {
        return "< inside a tag at " + std::to_string(j);
      }
    }
    if (j >= s.size()) return "unterminated tag at " + std::to_string(i);
    std::string tag = s.substr(i + 1, j - i - 1);
    i = j + 1;
    static const std::regex name_re(R"(^/?([a-zA-Z][a-zA-Z0-9-]*))");
    std::smatch m;
    if (!std::regex_search(tag, m, name_re)) return "bad tag <" + tag + ">";
    const std::string name = m[1];
    if (tag[0] == '/') {
      if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
      open.pop_back();
    } else if (tag.back() != '/') {
      if (name == "meta" || name == "br" || name == "hr" || name == "img" || name == "input" || name == "link")
        return "void element <" + name + "> not self-closed";
      open.push_back(name);
    }
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

// The data-value attributes of the table row data-metric="key", in order (base, quantized, difference).
std::vector<double> row_values(const std::string& html, const std::string& key) {
  const size_t at = html.find("<tr data-metric=\"" + key + "\">");
  if (at == std::string::npos) return {};
  const std::string row = html.substr(at, html.find("</tr>", at) - at);
  std::vector<double> out;
  static const std::regex v(R"re(data-value="([^"]+)")re");
  for (auto it = std::sregex_iterator(row.begin(), row.end(), v); it != std::sregex_iterator(); ++it)
    out.push_back(std::strtod((*it)[1].str().c_str(), nullptr));
  return out;
}

}  // namespace

TEST(HtmlReport, EscapingKeepsMarkupAsTextAndRepairsBadUtf8) {
  EXPECT_EQ(html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_EQ(html_escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n\t"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n\t");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(html_escape("a\xFF" "b"), "a" + fffd + "b");
  EXPECT_EQ(html_escape("\xE2\x82"), fffd + fffd);            // cut inside a character
  EXPECT_EQ(html_escape("\xC0\xAF"), fffd + fffd);            // overlong '/'
  EXPECT_EQ(html_escape("\xED\xA0\x80"), fffd + fffd + fffd);  // a UTF-16 surrogate
  EXPECT_EQ(html_escape(std::string("x\x01y\x7F", 4)), "x" + fffd + "y" + fffd);
  EXPECT_EQ(html_escape("\xC2\x85"), fffd);  // C1 control
}

// The code points of UTF-8 text, decoded by value (overlong forms, surrogates and values past
// U+10FFFF refused), or nothing when the bytes are not UTF-8.
std::optional<std::vector<uint32_t>> decode_utf8(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto b = uint8_t(s[i]);
    const int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + size_t(len) > s.size()) return std::nullopt;
    uint32_t cp = len == 1 ? b : b & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      const auto c = uint8_t(s[i + size_t(k)]);
      if ((c >> 6) != 2) return std::nullopt;
      cp = cp << 6 | (c & 0x3F);
    }
    static const uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return std::nullopt;
    out.push_back(cp);
    i += size_t(len);
  }
  return out;
}

TEST(HtmlReport, EscapingAnyBytesGivesCleanTextAndLeavesCleanTextAlone) {
  std::mt19937 rng(7);
  int clean_inputs = 0;
  const std::string interesting = "<>&\"'\t\n\x01\x7F\xC2\x85\xC3\xA9\xE2\x82\xAC\xED\xA0\x80\xF0\x9F\x98\x80\xF4\x90\xC0\xFF";
  for (int t = 0; t < 5000; ++t) {
    std::string in;
    for (size_t n = rng() % 20; n > 0; --n)
      in += rng() % 2 ? char(rng() % 256) : interesting[rng() % interesting.size()];
    const std::string out = html_escape(in);
    const auto cps = decode_utf8(out);
    ASSERT_TRUE(cps.has_value()) << "not UTF-8 for input of " << in.size() << " bytes";
    for (uint32_t cp : *cps) {
      EXPECT_FALSE((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp < 0xA0)) << cp;
      EXPECT_TRUE(cp != '<' && cp != '>' && cp != '"' && cp != '\'') << cp;
    }
    for (size_t at = out.find('&'); at != std::string::npos; at = out.find('&', at + 1)) {
      const std::string e = out.substr(at, 6);
      EXPECT_TRUE(e.rfind("&amp;", 0) == 0 || e.rfind("&lt;", 0) == 0 || e.rfind("&gt;", 0) == 0 ||
                  e.rfind("&quot;", 0) == 0 || e.rfind("&#39;", 0) == 0)
          << e;
    }
    // Clean input comes back byte for byte.
    if (const auto in_cps = decode_utf8(in)) {
      bool clean = true;
      for (uint32_t cp : *in_cps)
        clean = clean && !((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp < 0xA0)) &&
                !(cp < 0x80 && interesting.substr(0, 5).find(char(cp)) != std::string::npos);
      if (clean) {
        EXPECT_EQ(out, in);
        ++clean_inputs;
      }
    }
  }
  EXPECT_GT(clean_inputs, 300);  // the round trip was exercised
}

TEST(HtmlReport, TheWellFormednessCheckCatchesBrokenMarkup) {
  EXPECT_EQ(xml_problem("<p a=\"1\"><b>x &amp; y</b><br/></p>"), "");
  EXPECT_NE(xml_problem("<div><span></div></span>"), "");
  EXPECT_NE(xml_problem("<p>a < b</p>"), "");
  EXPECT_NE(xml_problem("<p>fish & chips</p>"), "");
  EXPECT_NE(xml_problem("<meta charset=\"utf-8\"><p></p>"), "");
  EXPECT_NE(xml_problem("<svg><rect></svg>"), "");
}

TEST(HtmlReport, UntrustedPromptsAndOutputsStayText) {
  const std::string html = html_report(full_report(), nullptr);
  EXPECT_EQ(count(html, "<script"), 0u);
  EXPECT_EQ(count(html, "<b>bold"), 0u);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; say &quot;hi&quot;"), std::string::npos);
  EXPECT_NE(html.find("&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(xml_problem(html), "");
}

TEST(HtmlReport, EverySectionThatTheJsonHasAndNoOther) {
  const json qr = quantization_report();
  const std::string full = html_report(with_histogram(full_report()), &qr);
  EXPECT_EQ(xml_problem(full), "");
  for (const char* id : {"id=\"gate\"", "id=\"verdicts\"", "id=\"benchmarks\"", "id=\"kld-distribution\"",
                         "id=\"kld-along-text\"", "id=\"weight-error\"", "id=\"custom\"", "id=\"inputs\"", "id=\"recipe\""})
    EXPECT_EQ(count(full, id), 1u) << id;
  // The Content-Security-Policy forbids fetching anything; nothing refers outside the page.
  EXPECT_NE(full.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(count(full, "http://") + count(full, "https://"), count(full, "http://www.w3.org/2000/svg"));
  EXPECT_EQ(count(full, "<svg"), 4u);  // bars, histogram, KLD line, weight error

  // A perplexity of one model: the table's one row, nothing else.
  const json alone = json::parse(R"({"model": "m", "text": "t.txt", "ctx": 64, "protocol": "llama.cpp",
                                      "chunks": 2, "tokens_scored": 62, "ppl": 12.5, "ppl_stderr": 0.5, "bos": false})");
  const std::string small = html_report(alone, nullptr);
  EXPECT_EQ(xml_problem(small), "");
  EXPECT_EQ(count(small, "id=\"verdicts\""), 1u);
  EXPECT_EQ(count(small, "id=\"inputs\""), 1u);
  for (const char* id : {"id=\"gate\"", "id=\"benchmarks\"", "id=\"kld-distribution\"", "id=\"kld-along-text\"",
                         "id=\"weight-error\"", "id=\"custom\"", "id=\"recipe\"", "<svg"})
    EXPECT_EQ(count(small, id), 0u) << id;
  EXPECT_EQ(row_values(small, "ppl"), std::vector<double>{12.5});
  EXPECT_EQ(count(small, "<tr data-metric="), 1u);
}

TEST(HtmlReport, TableNumbersAreTheJsonNumbers) {
  const json r = full_report();
  const std::string html = html_report(r, nullptr);
  EXPECT_EQ(row_values(html, "ppl"),
            (std::vector<double>{r["base_ppl"], r["ppl"], r["against_base"]["dppl"]["value"]}));
  EXPECT_EQ(row_values(html, "kld"), (std::vector<double>{0.0, r["mean_kld"], r["mean_kld"]}));
  EXPECT_EQ(row_values(html, "top1"), (std::vector<double>{1.0, r["top1_agreement"], r["top1_agreement"].get<double>() - 1}));
  const json& hs = r["benchmarks"]["hellaswag"];
  for (const char* proto : {"llama.cpp", "acc", "acc_norm"})
    EXPECT_EQ(row_values(html, std::string("hellaswag.") + proto),
              (std::vector<double>{hs["metrics"][proto]["base"]["acc"], hs["metrics"][proto]["acc"],
                                   hs["against_base"][proto]["delta"]}))
        << proto;
  EXPECT_EQ(row_values(html, "custom.pass_rate"),
            (std::vector<double>{r["custom"]["base_pass_rate"], r["custom"]["pass_rate"],
                                 r["custom"]["pass_rate"].get<double>() - r["custom"]["base_pass_rate"].get<double>()}));
  // Visible text too: the rounded values and each verdict in its colour class.
  EXPECT_NE(html.find(">34.8412 \xC2\xB1 2.3626<"), std::string::npos);
  EXPECT_NE(html.find(">+10.3519 \xC2\xB1 0.9444 <span class=\"ci\">95 % [+8.5008, +12.2029]</span>"), std::string::npos);
  EXPECT_EQ(count(html, "<td class=\"verdict worse\">worse</td>"), 5u);  // dppl, ln ratio, kld, top1, arc acc
  EXPECT_EQ(count(html, "<td class=\"verdict same\">same</td>"), 4u);   // hellaswag x3, arc acc_norm
  EXPECT_NE(html.find("5 worse</span><span class=\"badge same\">4 same"), std::string::npos);
}

TEST(HtmlReport, BenchmarkBarsOnePairPerProtocolWithTheJsonAccuracies) {
  const json r = full_report();
  const std::string html = html_report(r, nullptr);
  // hellaswag: 3 protocols, arc-easy: 2; each a base and a quantized bar.
  EXPECT_EQ(count(html, "class=\"bar base\""), 5u);
  EXPECT_EQ(count(html, "class=\"bar model\""), 5u);
  EXPECT_EQ(count(html, "<path class=\"ci\""), 10u);
  std::map<std::string, double> got;
  static const std::regex bar(R"re(class="bar (base|model)" data-benchmark="([^"]+)" data-protocol="([^"]+)" data-value="([^"]+)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it)
    got[(*it)[1].str() + " " + (*it)[2].str() + " " + (*it)[3].str()] = std::strtod((*it)[4].str().c_str(), nullptr);
  ASSERT_EQ(got.size(), 10u);
  for (const auto& [name, b] : r["benchmarks"].items())
    for (const auto& [proto, m] : b["metrics"].items()) {
      EXPECT_EQ(got["model " + name + " " + proto], m["acc"].get<double>());
      EXPECT_EQ(got["base " + name + " " + proto], m["base"]["acc"].get<double>());
    }
  // Without a base: one bar per protocol.
  json one = r;
  for (auto& [name, b] : one["benchmarks"].items()) {
    b.erase("against_base");
    for (auto& [proto, m] : b["metrics"].items()) m.erase("base");
  }
  const std::string single = html_report(one, nullptr);
  EXPECT_EQ(count(single, "class=\"bar base\""), 0u);
  EXPECT_EQ(count(single, "class=\"bar model\""), 5u);
  EXPECT_EQ(xml_problem(single), "");
}

TEST(HtmlReport, KldPlotsDrawEveryBinAndEveryChunk) {
  const json r = with_histogram(full_report());
  const std::string html = html_report(r, nullptr);
  std::vector<std::string> counts;
  static const std::regex bin(R"re(class="hist-bin" data-count="(\d+)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bin); it != std::sregex_iterator(); ++it)
    counts.push_back((*it)[1]);
  ASSERT_EQ(counts.size(), 34u);
  for (size_t i = 0; i < counts.size(); ++i) EXPECT_EQ(std::stoi(counts[i]), r["kld_histogram"]["counts"][i].get<int>()) << i;
  EXPECT_NE(html.find("<polyline class=\"kld-line\" data-points=\"3\""), std::string::npos);
  EXPECT_EQ(count(html, "<title>chunk "), 3u);
  // An empty histogram (no tokens) draws no histogram.
  EXPECT_EQ(count(html_report(full_report(), nullptr), "id=\"kld-distribution\""), 0u);
}

TEST(HtmlReport, WeightErrorIsOneSeriesPerModuleKindOverTheLayers) {
  const json qr = quantization_report();
  const std::string html = html_report(full_report(), &qr);
  for (const char* kind : {"q", "k", "v", "o", "gate", "up", "down"})
    EXPECT_EQ(count(html, std::string("<polyline class=\"series\" data-kind=\"") + kind + "\" data-points=\"3\""), 1u)
        << kind;
  EXPECT_EQ(count(html, "<polyline class=\"series\""), 7u);
  EXPECT_NE(html.find("Outside the decoder layers: lm_head 0.05000"), std::string::npos);
  EXPECT_NE(html.find("method rtn; mean relative error 0.11000; max 0.12000"), std::string::npos);
  EXPECT_EQ(xml_problem(html), "");
  // A report of no module draws nothing.
  json empty = qr;
  empty["modules"] = json::array();
  EXPECT_EQ(count(html_report(full_report(), &empty), "id=\"weight-error\""), 0u);
}

TEST(HtmlReport, CustomEvalShowsRegressionsAndFixesSideBySide) {
  const std::string html = html_report(full_report(), nullptr);
  const size_t reg = html.find("<div class=\"item regression\" data-id=\"p-xss\">");
  ASSERT_NE(reg, std::string::npos);
  const std::string card = html.substr(reg, html.find("</div>", reg) - reg);
  EXPECT_NE(card.find("<pre class=\"base-output\">hi &lt;there&gt;</pre>"), std::string::npos) << card;
  EXPECT_NE(card.find("<pre class=\"output\">&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;</pre>"), std::string::npos);
  EXPECT_NE(card.find("base output (pass)"), std::string::npos);
  EXPECT_NE(card.find("quantized output (fail)"), std::string::npos);
  EXPECT_NE(card.find("quantized -7.500, base -1.250"), std::string::npos);
  EXPECT_NE(html.find("Regressions (pass on the base, fail quantized): 1</h3>"), std::string::npos);
  EXPECT_EQ(count(html, "<div class=\"item fix\" data-id=\"p-fix\">"), 1u);
  EXPECT_NE(html.find("checks: expected:4; first different token: 0</p>"), std::string::npos);
  // The other changed answer, collapsed; the unchanged one not shown; a missing base output is a dash.
  EXPECT_NE(html.find("<details id=\"custom-changed\"><summary>1 other prompts whose output changed"), std::string::npos);
  EXPECT_EQ(count(html, "data-id=\"p-drift\""), 1u);
  EXPECT_EQ(count(html, "data-id=\"p-same\""), 0u);
  // Without regressions and fixes the lists say so.
  json r = full_report();
  r["custom"]["regressions"] = json::array();
  r["custom"]["fixes"] = json::array();
  const std::string none = html_report(r, nullptr);
  EXPECT_NE(none.find("Regressions (pass on the base, fail quantized): 0</h3>"), std::string::npos);
  EXPECT_EQ(count(none, "class=\"item regression\""), 0u);
  EXPECT_EQ(count(none, "<details id=\"custom-changed\"><summary>3 other prompts"), 1u);
  EXPECT_EQ(xml_problem(none), "");
}

TEST(HtmlReport, MistypedFieldsLeaveCellsEmptyInsteadOfThrowing) {
  json r = full_report();
  r["ppl"] = "not a number";
  r["benchmarks"]["hellaswag"]["metrics"] = 7;
  r["custom"]["items"] = "nope";
  r["kld_per_chunk"] = json::object();
  std::string html;
  EXPECT_NO_THROW(html = html_report(r, nullptr));
  EXPECT_EQ(xml_problem(html), "");
  EXPECT_EQ(count(html, "id=\"kld-along-text\""), 0u);
}
