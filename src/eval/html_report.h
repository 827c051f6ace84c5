// The report of `lowbit eval` as one self-contained HTML page: the verdict table, benchmark bars
// base vs quantized with 95 % intervals, the KLD distribution and KLD along the text, the
// per-module weight error over layers from the checkpoint's quantization_report.json, the custom
// eval's regressions side by side, the inputs and the recipe. Built from the object `--json`
// writes (one source of truth); the plots are inline SVG drawn here, no script, font or style
// sheet is fetched (a Content-Security-Policy forbids it), so the page renders offline.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lowbit::eval {

// `report`: what `lowbit eval --json` writes; `quantization_report`: the checkpoint's
// quantization_report.json, or null. Every section whose data the JSON lacks is left out.
// The page is also well-formed XML (void elements self-closed, only XML's five entities), so a
// plain XML parser can check it.
std::string html_report(const nlohmann::json& report, const nlohmann::json* quantization_report);

// Text as HTML character data or attribute value: & < > " ' escaped, bytes that are not valid
// UTF-8 and control characters other than tab, newline and carriage return replaced by U+FFFD
// (model outputs are untrusted and may end inside a multi-byte character).
std::string html_escape(std::string_view text);

}  // namespace lowbit::eval
