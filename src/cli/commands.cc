#include "cli/commands.h"

#include <omp.h>

#include <cctype>
#include <cmath>
#include <functional>
#include <map>

#include "core/error.h"

namespace lowbit::cli {

namespace {
std::map<std::string, std::function<int()>>& runners() {
  static std::map<std::string, std::function<int()>> r;
  return r;
}
}  // namespace

void register_runner(const std::string& name, std::function<int()> fn) { runners()[name] = std::move(fn); }

int run_selected(CLI::App& app) {
  for (auto* sub : app.get_subcommands()) {
    auto it = runners().find(sub->get_name());
    if (it != runners().end()) return it->second();
  }
  throw std::logic_error("no runner for the selected subcommand");
}

uint64_t parse_size(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) throw UserError("invalid size '" + s + "' (examples: 5GB, 500MB)");
  double v = std::strtod(s.substr(0, i).c_str(), nullptr);
  if (!std::isfinite(v) || v > 1e18) throw UserError("invalid size '" + s + "'");
  std::string unit = s.substr(i);
  for (auto& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit == "" || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KB") mult = 1e3;
  else if (unit == "M" || unit == "MB") mult = 1e6;
  else if (unit == "G" || unit == "GB") mult = 1e9;
  else if (unit == "T" || unit == "TB") mult = 1e12;
  else if (unit == "KIB") mult = 1024.0;
  else if (unit == "MIB") mult = 1048576.0;
  else if (unit == "GIB") mult = 1073741824.0;
  else throw UserError("invalid size unit in '" + s + "' (B, KB, MB, GB, TB, KiB, MiB, GiB)");
  return uint64_t(std::llround(v * mult));
}

void set_threads(int threads) {
  if (threads < 0) throw UserError("--threads must be >= 1 (or 0 for all cores)");
  if (threads > 0) omp_set_num_threads(threads);
}

}  // namespace lowbit::cli
