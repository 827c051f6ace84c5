// Runs the lowbit binary under test (LOWBIT_BINARY, set by CMake) with a command line's arguments,
// stdout and stderr together, for the end-to-end tests; and the checks they share.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "io/file_util.h"
#include "tiny_model.h"

namespace lowbit::e2e {

struct Result {
  int rc;
  std::string out;
};

// Runs a shell command line; its stdout only, unless the line redirects stderr too.
inline Result run_shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, out};
}

inline Result run(const std::string& args) { return run_shell(std::string(LOWBIT_BINARY) + " " + args + " 2>&1"); }

// A new empty folder for the running test, named after its suite, the process and the test (ctest
// runs test cases as parallel processes).
inline std::filesystem::path fresh_root() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                     ("lowbit-e2e-" + std::string(test->test_suite_name()) + "-" +
                                      std::to_string(getpid()) + "-" + test->name());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  return root;
}

// A test with its own empty folder `root`, removed after it.
class RootTest : public ::testing::Test {
 protected:
  void SetUp() override { root = fresh_root(); }
  void TearDown() override { std::filesystem::remove_all(root); }
  std::filesystem::path root;
};

// The default tiny model with a byte-level tokenizer (one token per byte), written to `dir`.
inline std::filesystem::path write_byte_model(const std::filesystem::path& dir) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fixtures::write_tiny_model(dir, s);
  return dir;
}

// "The quick brown fox N jumps. " for N = 0, 1, ... up to at least `bytes` bytes, written to `file`.
inline std::filesystem::path write_fox_text(const std::filesystem::path& file, size_t bytes) {
  std::string t;
  for (int i = 0; t.size() < bytes; ++i) t += "The quick brown fox " + std::to_string(i) + " jumps. ";
  io::write_text_file(file, t);
  return file;
}

// A failed run leaves neither `out` nor a temporary (every one the tool writes is named
// ".NAME.lowbit-tmp-PID") in `folder`.
inline void expect_no_output(const std::filesystem::path& out, const std::filesystem::path& folder,
                             const std::string& tmp_mark = ".lowbit-tmp") {
  EXPECT_FALSE(std::filesystem::exists(out)) << out;
  for (const auto& e : std::filesystem::directory_iterator(folder))
    EXPECT_EQ(e.path().filename().string().find(tmp_mark), std::string::npos) << e.path();
}

// The run exits 2 with one "error:" line naming `words`.
inline void expect_error(const std::string& args, const std::string& words) {
  const Result r = run(args);
  EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
  EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(words), std::string::npos) << args << "\n" << r.out;
}

}  // namespace lowbit::e2e
