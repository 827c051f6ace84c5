#include "cli/compare_methods.h"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/progress.h"
#include "io/atomic_dir.h"
#include "io/file_util.h"
#include "io/model_dir.h"
#include "model/architecture.h"

extern char** environ;

namespace lowbit::cli {

namespace fs = std::filesystem;
using nlohmann::json;

ChildRun run_lowbit(const std::vector<std::string>& args) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<char*> argv{const_cast<char*>(self.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  // /proc/self/exe, not the path it names: the running binary even when a rebuild or an upgrade
  // replaced (deleted) its file during a long run of several children.
  if (const int e = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ); e != 0)
    throw UserError("cannot start " + self + ": " + std::strerror(e));
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) throw UserError(std::string("waiting for a child lowbit failed: ") + std::strerror(errno));
  ChildRun r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.peak_rss_bytes = double(ru.ru_maxrss) * 1024.0;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

namespace {

uint64_t folder_bytes(const fs::path& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") n += e.file_size();
  return n;
}

// Bits per weight of the quantized Linears (codes, scales, zero points, global scales, g_idx
// over the weights they stand for); 0 when nothing is quantized.
double bits_per_quantized_weight(const fs::path& dir) {
  const io::ModelDir ck(dir);
  const model::Architecture arch = model::architecture_from_config(ck.config(), (dir / "config.json").string());
  std::set<std::string> quantized;
  for (const auto& n : ck.tensor_names())
    if (n.ends_with(".weight_scale")) quantized.insert(n.substr(0, n.size() - 13));
  double bits = 0, weights = 0;
  for (const auto& n : ck.tensor_names()) {
    const size_t dot = n.rfind(".weight");
    if (dot == std::string::npos || n.ends_with(".weight_shape") || !quantized.count(n.substr(0, dot))) continue;
    bits += 8.0 * double(ck.at(n).info->nbytes());
  }
  for (const auto& m : quantized)
    if (const model::Module* mod = arch.find_module(m)) weights += double(mod->in_features * mod->out_features);
  return weights > 0 ? bits / weights : 0;
}

std::string mb(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", bytes / 1e6);
  return b;
}

}  // namespace

std::vector<std::string> parse_method_list(const std::string& list) {
  static const std::set<std::string> known{"rtn", "gptq", "awq", "awq+gptq"};
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string m = list.substr(start, comma - start);
    if (!known.count(m)) throw UserError("--method: unknown method '" + m + "' (rtn, gptq, awq, awq+gptq)");
    for (const auto& seen : out)
      if (seen == m) throw UserError("--method: " + m + " is listed twice");
    out.push_back(m);
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> shared_quantize_args() {
  const std::string raw = io::read_text_file("/proc/self/cmdline");
  std::vector<std::string> all;
  for (size_t i = 0; i < raw.size();) {
    const size_t end = raw.find('\0', i);
    all.push_back(raw.substr(i, end - i));
    i = end == std::string::npos ? raw.size() : end + 1;
  }
  std::vector<std::string> out;
  size_t i = 1;
  while (i < all.size() && all[i] != "quantize") ++i;  // options before the subcommand stay with the parent
  static const std::set<std::string> with_value{"--method", "-o", "--output", "--eval", "--eval-chunks"};
  for (++i; i < all.size(); ++i) {
    const std::string& a = all[i];
    if (with_value.count(a)) {
      ++i;
      continue;
    }
    if (a == "--overwrite" || a.starts_with("--method=") || a.starts_with("--output=") || a.starts_with("--eval=") ||
        a.starts_with("--eval-chunks="))
      continue;
    out.push_back(a);
  }
  return out;
}

std::vector<std::string> without_awq_options(const std::vector<std::string>& args) {
  static const std::set<std::string> awq_only{"--n-grid", "--duo-scaling", "--awq-search-tokens"};
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (awq_only.count(a)) {
      ++i;  // and its value
      continue;
    }
    const size_t eq = a.find('=');
    if (eq != std::string::npos && awq_only.count(a.substr(0, eq))) continue;
    out.push_back(a);
  }
  return out;
}

int compare_methods(const MethodComparison& c) {
  io::AtomicDir dir(c.output, c.overwrite);
  const io::ModelDir base(c.model);
  json rows = json::array();
  json base_row = {{"method", "original"},
                   {"bytes", folder_bytes(base.path())},
                   {"bits_per_weight", 8.0 * double(dtype_size(base.at(base.tensor_names()[0]).info->dtype))}};
  const std::string threads = c.threads > 0 ? std::to_string(c.threads) : "";
  for (const auto& method : c.methods) {
    check_interrupted();
    std::fprintf(stderr, "=== --method %s ===\n", method.c_str());
    std::vector<std::string> args{"quantize"};
    const std::vector<std::string> own = method.starts_with("awq") ? c.common_args : without_awq_options(c.common_args);
    args.insert(args.end(), own.begin(), own.end());
    const fs::path out = dir.tmp() / method;
    args.insert(args.end(), {"--method", method, "-o", out.string()});
    const ChildRun q = run_lowbit(args);
    if (interrupted()) throw Interrupted();
    if (q.rc != 0) throw UserError("--method " + method + " failed (exit " + std::to_string(q.rc) + "; see above)");
    json row = {{"method", method},
                {"checkpoint", (c.output / method).string()},
                {"bytes", folder_bytes(out)},
                {"bits_per_weight", bits_per_quantized_weight(out)},
                {"seconds", q.seconds},
                {"peak_rss_bytes", q.peak_rss_bytes}};
    if (!c.eval_text.empty()) {
      const fs::path ej = dir.tmp() / (method + ".eval.json");
      std::vector<std::string> e{"eval", out.string(), "--base", c.model, "--text", c.eval_text, "--json", ej.string()};
      if (c.eval_chunks > 0) e.insert(e.end(), {"--chunks", std::to_string(c.eval_chunks)});
      if (!threads.empty()) e.insert(e.end(), {"--threads", threads});
      std::fprintf(stderr, "=== eval %s ===\n", method.c_str());
      const ChildRun r = run_lowbit(e);
      if (interrupted()) throw Interrupted();
      if (r.rc != 0) throw UserError("evaluating --method " + method + " failed (exit " + std::to_string(r.rc) + ")");
      const json ev = json::parse(io::read_text_file(ej));
      for (const char* k : {"ppl", "ppl_stderr", "mean_kld", "kld_p99", "top1_agreement"}) row[k] = ev.at(k);
      row["delta_ppl"] = ev.at("ppl").get<double>() - ev.at("base_ppl").get<double>();
      base_row["ppl"] = ev.at("base_ppl");
      base_row["ppl_stderr"] = ev.at("base_ppl_stderr");
      row["eval_seconds"] = r.seconds;
    }
    rows.push_back(row);
  }
  // The table.
  std::string t;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %9s %6s %16s %8s %9s %8s %9s %9s\n", "method", "MB", "bits", "PPL", "dPPL",
                "mean KLD", "same top", "time s", "peak RSS");
  t += line;
  auto add = [&](const json& r) {
    const bool ev = r.contains("ppl");
    const std::string ppl = ev ? [&] {
      char b[64];
      std::snprintf(b, sizeof b, "%.3f +/- %.3f", r["ppl"].get<double>(), r["ppl_stderr"].get<double>());
      return std::string(b);
    }()
                               : "-";
    char d[32] = "-", k[32] = "-", top[32] = "-", s[32] = "-", rss[32] = "-";
    if (r.contains("delta_ppl")) {
      std::snprintf(d, sizeof d, "%+.3f", r["delta_ppl"].get<double>());
      std::snprintf(k, sizeof k, "%.4f", r["mean_kld"].get<double>());
      std::snprintf(top, sizeof top, "%.1f%%", 100 * r["top1_agreement"].get<double>());
    }
    if (r.contains("seconds")) {
      std::snprintf(s, sizeof s, "%.1f", r["seconds"].get<double>());
      std::snprintf(rss, sizeof rss, "%s MB", mb(r["peak_rss_bytes"].get<double>()).c_str());
    }
    std::snprintf(line, sizeof line, "%-10s %9s %6.2f %16s %8s %9s %8s %9s %9s\n", r["method"].get<std::string>().c_str(),
                  mb(r["bytes"].get<double>()).c_str(), r["bits_per_weight"].get<double>(), ppl.c_str(), d, k, top, s,
                  rss);
    t += line;
  };
  add(base_row);
  for (const auto& r : rows) add(r);
  const json all = {{"model", c.model}, {"eval_text", c.eval_text}, {"eval_chunks", c.eval_chunks},
                    {"original", base_row}, {"methods", rows}};
  io::write_text_file(dir.tmp() / "comparison.json", all.dump(2) + "\n");
  io::write_text_file(dir.tmp() / "comparison.txt", t);
  for (const auto& method : c.methods) fs::remove(dir.tmp() / (method + ".eval.json"));
  dir.commit();
  std::printf("%s", t.c_str());
  std::printf("wrote %s (one checkpoint per method, comparison.json, comparison.txt)\n", c.output.string().c_str());
  return 0;
}

}  // namespace lowbit::cli
