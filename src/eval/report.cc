#include "eval/report.h"

#include <ctime>

#include "core/strings.h"
#include "eval/verdicts.h"

namespace lowbit::eval {

using nlohmann::json;

std::string to_text(const EvalReport& rep) {
  const EvalResult& r = rep.result;
  std::string out;
  auto line = [&](const char* fmt, auto... args) { appendf(out, fmt, args...); };
  line("model            %s\n", rep.model.c_str());
  line("text             %s (%ld tokens; %ld chunks of %ld, protocol %s, BOS %s)\n", rep.text.c_str(),
       long(rep.text_tokens), long(r.chunks), long(rep.ctx), to_string(rep.protocol).c_str(), rep.bos ? "yes" : "no");
  line("tokens scored    %ld\n", long(r.tokens_scored));
  line("PPL              %.4f +/- %.4f\n", r.ppl, r.ppl_stderr);
  if (r.has_base) {
    // Differences on the same tokens: paired standard errors (llama.cpp's --kl-divergence
    // statistics), a 95 % interval and the verdict.
    const TextComparison c = compare_text(r);
    auto verdict = [](const Difference& d) { return to_string(d.verdict); };  // lives to the end of line()
    line("base PPL         %.4f +/- %.4f\n", r.base_ppl, r.base_ppl_stderr);
    line("delta PPL        %+.4f +/- %.4f   95%% [%+.4f, %+.4f]   %s\n", c.ppl.dppl.value, c.ppl.dppl.se,
         c.ppl.dppl.lo, c.ppl.dppl.hi, verdict(c.ppl.dppl).c_str());
    line("ln(PPL ratio)    %+.6f +/- %.6f   (PPL ratio %.4f +/- %.4f, correlation %.2f %%)   %s\n",
         c.ppl.ln_ratio.value, c.ppl.ln_ratio.se, c.ppl.ratio, c.ppl.ratio_se, 100 * c.ppl.correlation,
         verdict(c.ppl.ln_ratio).c_str());
    line("mean KLD         %.6f +/- %.6f   (99th percentile %.6f)   %s\n", r.mean_kld, r.kld_stderr, r.kld_p99,
         verdict(c.kld).c_str());
    line("same top token   %.3f +/- %.3f %%   %s\n", 100.0 * r.top1_agreement, 100.0 * r.top1_stderr, verdict(c.top1).c_str());
    line("RMS delta p      %.3f %%\n", 100.0 * r.rms_dp);
  }
  return out;
}

json to_json(const EvalReport& rep) {
  const EvalResult& r = rep.result;
  json j{{"model", rep.model}, {"text", rep.text}, {"ctx", rep.ctx}, {"protocol", to_string(rep.protocol)},
         {"chunks", r.chunks}, {"tokens_scored", r.tokens_scored}, {"ppl", r.ppl}, {"ppl_stderr", r.ppl_stderr},
         {"bos", rep.bos}};
  if (!rep.text_sha256.empty()) j["text_sha256"] = rep.text_sha256;
  if (r.has_base) {
    j["base"] = rep.base;
    j["base_ppl"] = r.base_ppl;
    j["base_ppl_stderr"] = r.base_ppl_stderr;
    j["mean_kld"] = r.mean_kld;
    j["kld_p99"] = r.kld_p99;
    j["top1_agreement"] = r.top1_agreement;
    j["rms_dp"] = r.rms_dp;
    j["kld_stderr"] = r.kld_stderr;
    j["top1_stderr"] = r.top1_stderr;
    j["against_base"] = text_comparison_json(r);
    // The distribution of the per-token KLD (fixed bins: eval::kld_bin_edges) and its mean
    // per chunk along the text: what the HTML report plots.
    j["kld_histogram"] = {{"edges", kld_bin_edges()}, {"counts", r.kld_histogram}};
    j["kld_per_chunk"] = r.kld_per_chunk;
  }
  return j;
}

json run_info() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return json{{"version", LOWBIT_VERSION}, {"date", date}};
}

}  // namespace lowbit::eval
