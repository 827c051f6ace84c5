// Runs the lowbit binary under test (LOWBIT_BINARY, set by CMake) with a command line's arguments,
// stdout and stderr together, for the end-to-end tests.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace lowbit::e2e {

struct Result {
  int rc;
  std::string out;
};

inline Result run(const std::string& args) {
  FILE* p = popen((std::string(LOWBIT_BINARY) + " " + args + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, out};
}

}  // namespace lowbit::e2e
