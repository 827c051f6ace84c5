#include "eval/report.h"

#include <cstdio>

namespace lowbit::eval {

using nlohmann::json;

std::string to_text(const EvalReport& rep) {
  const EvalResult& r = rep.result;
  std::string out;
  char buf[1024];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  line("model            %s\n", rep.model.c_str());
  line("text             %s (%ld tokens; %ld chunks of %ld, protocol %s, BOS %s)\n", rep.text.c_str(),
       long(rep.text_tokens), long(r.chunks), long(rep.ctx), to_string(rep.protocol).c_str(), rep.bos ? "yes" : "no");
  line("tokens scored    %ld\n", long(r.tokens_scored));
  line("PPL              %.4f +/- %.4f\n", r.ppl, r.ppl_stderr);
  if (r.has_base) {
    line("base PPL         %.4f +/- %.4f   (delta PPL %+.4f)\n", r.base_ppl, r.base_ppl_stderr, r.ppl - r.base_ppl);
    line("mean KLD         %.6f   (99th percentile %.6f)\n", r.mean_kld, r.kld_p99);
    line("same top token   %.3f %%\n", 100.0 * r.top1_agreement);
    line("RMS delta p      %.3f %%\n", 100.0 * r.rms_dp);
  }
  return out;
}

json to_json(const EvalReport& rep) {
  const EvalResult& r = rep.result;
  json j{{"model", rep.model}, {"text", rep.text}, {"ctx", rep.ctx}, {"protocol", to_string(rep.protocol)},
         {"chunks", r.chunks}, {"tokens_scored", r.tokens_scored}, {"ppl", r.ppl}, {"ppl_stderr", r.ppl_stderr},
         {"bos", rep.bos}};
  if (r.has_base) {
    j["base"] = rep.base;
    j["base_ppl"] = r.base_ppl;
    j["base_ppl_stderr"] = r.base_ppl_stderr;
    j["mean_kld"] = r.mean_kld;
    j["kld_p99"] = r.kld_p99;
    j["top1_agreement"] = r.top1_agreement;
    j["rms_dp"] = r.rms_dp;
  }
  return j;
}

}  // namespace lowbit::eval
