// `lowbit quantize --method rtn,gptq,awq --eval TEXT`: one checkpoint per method in the output
// folder, each made and then evaluated against the original by a child lowbit process (so a
// row's wall time and peak RSS are that method's alone), and one table: size, bits per
// quantized weight, PPL, delta PPL, mean KLD, same-top-token %, time, peak RSS. The folder
// appears complete or not at all; comparison.json and comparison.txt sit beside the checkpoints.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lowbit::cli {

struct MethodComparison {
  std::string model;                 // the input folder
  std::filesystem::path output;      // the folder that receives <method>/ per method
  std::vector<std::string> methods;  // "rtn", "gptq", "awq", "awq+gptq"
  std::string eval_text;             // "": no evaluation (sizes and times only)
  int64_t eval_chunks = -1;          // -1: every chunk of the text
  bool overwrite = false;
  int threads = 0;
  // The quantize arguments every method shares (scheme, calibration, ignore, ...), as typed.
  std::vector<std::string> common_args;
};

// "rtn,gptq" -> {"rtn", "gptq"}; UserError for an unknown or repeated method.
std::vector<std::string> parse_method_list(const std::string& list);

// This process's `quantize` arguments without --method, -o/--output, --overwrite, --eval and
// --eval-chunks (read from /proc/self/cmdline, so every other flag reaches the children as typed).
std::vector<std::string> shared_quantize_args();

// `args` less the AWQ-only options and their values (--n-grid, --duo-scaling,
// --awq-search-tokens), for the methods that run no AWQ and would refuse them.
std::vector<std::string> without_awq_options(const std::vector<std::string>& args);

int compare_methods(const MethodComparison& c);

struct ChildRun {
  int rc = 0;
  double seconds = 0;         // wall time
  double peak_rss_bytes = 0;  // the child's own peak
};
// Runs this lowbit binary with `args` (its output goes to ours) and waits for it.
ChildRun run_lowbit(const std::vector<std::string>& args);

}  // namespace lowbit::cli
