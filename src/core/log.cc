#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace lowbit::log {
namespace {
std::mutex g_mu;
std::atomic<bool> g_quiet{false};
std::atomic<int> g_warnings{0};
}  // namespace

void info(const std::string& msg) {
  if (g_quiet) return;
  std::lock_guard lk(g_mu);
  std::fprintf(stderr, "%s\n", msg.c_str());
}

void warn(const std::string& msg) {
  ++g_warnings;
  std::lock_guard lk(g_mu);
  std::fprintf(stderr, "warning: %s\n", msg.c_str());
}

void set_quiet(bool quiet) { g_quiet = quiet; }
int warning_count() { return g_warnings; }

}  // namespace lowbit::log
