// The report of multiple-choice benchmark runs, as text for a terminal and as JSON (every task's
// picks and scores), naming the protocol behind each number.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/benchmarks.h"
#include "eval/multiple_choice.h"

namespace lowbit::eval {

struct BenchmarkRun {
  Benchmark benchmark = Benchmark::HellaSwag;
  std::string file;
  size_t file_tasks = 0;  // tasks in the file
  size_t limit = 0;       // --limit (0: all, file order)
  std::vector<TaskScore> tasks, base_tasks;  // base_tasks: empty without a base model
  double seconds = 0;                        // wall time of the run (both models)
};

struct BenchmarkReport {
  std::string model, base;
  bool bos = false;
  std::vector<BenchmarkRun> runs;
};

// What each metric measures, in words ("mean log-prob of the ending's tokens ...").
std::string describe(Benchmark b, McMetric m);

// MMLU's accuracy per subject (subjects in name order) and their unweighted mean.
struct SubjectAccuracy {
  std::string subject;
  Accuracy acc;
};
std::vector<SubjectAccuracy> by_subject(const std::vector<TaskScore>& tasks, McMetric m);
double macro_average(const std::vector<SubjectAccuracy>& subjects);
std::string to_text(const BenchmarkReport& r);
nlohmann::json to_json(const BenchmarkReport& r);

}  // namespace lowbit::eval
