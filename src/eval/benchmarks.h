// Multiple-choice benchmark tasks as files hold them, and the order llama.cpp's perplexity tool
// picks them in: HellaSwag (llama.cpp's text format, 6 lines a task) and Winogrande (llama.cpp's
// CSV or the original JSONL). Readers refuse a malformed file with the file and line.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace lowbit::eval {

enum class Benchmark { HellaSwag, Winogrande };

std::string to_string(Benchmark b);  // "hellaswag" | "winogrande"
// UserError naming the known tasks for anything else.
Benchmark parse_benchmark(const std::string& name);
// "hellaswag,winogrande" -> both, in that order, duplicates refused.
std::vector<Benchmark> parse_benchmarks(const std::string& list);

struct McTask {
  size_t index = 0;                  // 0-based position in the file
  std::string context;               // HellaSwag: the context; Winogrande: the sentence before the blank
  std::vector<std::string> choices;  // HellaSwag: the 4 endings; Winogrande: the 2 options
  std::string after;                 // Winogrande: the sentence after the blank; HellaSwag: ""
  int gold = 0;                      // 0-based index of the right choice
};

// `where` names the source in errors. Each returns at least one task or throws UserError.
// HellaSwag: per task, the context, the gold label 0-3, four endings (a trailing CR is dropped).
std::vector<McTask> parse_hellaswag(const std::string& text, const std::string& where);
// llama.cpp's CSV: index,sentence,option1,option2,answer (1|2); the sentence is quoted when it
// holds a comma and has one "_" (the blank). Blank lines are skipped.
std::vector<McTask> parse_winogrande_csv(const std::string& text, const std::string& where);
// The original JSONL: {"sentence", "option1", "option2", "answer": "1"|"2"} per line.
std::vector<McTask> parse_winogrande_jsonl(const std::string& text, const std::string& where);
// By benchmark (Winogrande: JSONL when the name ends in .jsonl, else CSV).
std::vector<McTask> read_tasks(Benchmark b, const std::filesystem::path& file);

// The file of `b` under a data folder laid out as the shared benchmarks folder (or the file
// itself directly in it): hellaswag_val_full.txt; winogrande/winogrande-debiased-eval.csv, else
// winogrande/dev.jsonl. UserError listing the places tried when none exists.
std::filesystem::path find_task_file(Benchmark b, const std::filesystem::path& dir);

// Indices of the tasks llama-perplexity evaluates with --hellaswag-tasks / --winogrande-tasks
// `limit`, in its order (std::mt19937 seeded 1; the same on every platform). `limit` 0: all, in
// file order. HellaSwag draws one of the remaining tasks at a time; Winogrande keeps file order
// when limit >= count and otherwise draws with swap-removal, as llama.cpp does.
std::vector<size_t> llama_cpp_selection(Benchmark b, size_t count, size_t limit);

}  // namespace lowbit::eval
