// Multiple-choice benchmark tasks as files hold them, and the order llama.cpp's perplexity tool
// picks them in: HellaSwag (llama.cpp's text format, 6 lines a task) and Winogrande (llama.cpp's
// CSV or the original JSONL); ARC (the original JSONL) and MMLU (Hendrycks' CSVs) as prompts in
// lm-evaluation-harness's format. Readers refuse a malformed file with the file and line.
#pragma once
#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace lowbit::eval {

// Mmlu5Shot: MMLU with each subject's 5 dev questions as the few-shot prefix.
enum class Benchmark { HellaSwag, Winogrande, ArcEasy, ArcChallenge, Mmlu, Mmlu5Shot };

// "hellaswag" | "winogrande" | "arc-easy" | "arc-challenge" | "mmlu" | "mmlu:5shot"
std::string to_string(Benchmark b);
// Scored only as lm-eval scores it: the context is the whole prompt, each choice the continuation
// " " + choice (ARC, MMLU).
bool is_lm_eval_prompt(Benchmark b);
// UserError naming the known tasks for anything else.
Benchmark parse_benchmark(const std::string& name);
// "hellaswag,winogrande" -> both, in that order, duplicates refused.
std::vector<Benchmark> parse_benchmarks(const std::string& list);

struct McTask {
  size_t index = 0;                  // 0-based position in the file
  std::string context;  // HellaSwag: the context; Winogrande: the sentence before the blank; ARC, MMLU:
                        // lm-eval's whole prompt (with the few-shot examples), ending in "Answer:"
  std::vector<std::string> choices;  // HellaSwag: the 4 endings; Winogrande: the 2 options; ARC: the
                                     // answers' texts; MMLU: "A".."D"
  std::string subject;               // MMLU: the subject ("abstract_algebra"); else 
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
// ARC's original JSONL: {"question": {"stem", "choices": [{"text", "label"}...]}, "answerKey"}
// per line (labels A-E or 1-5, 3 to 5 choices), as lm-eval's arc_easy / arc_challenge prompt:
// "Question: {stem}\nAnswer:", the choices' texts as continuations.
std::vector<McTask> parse_arc_jsonl(const std::string& text, const std::string& where);

// One row of Hendrycks' MMLU CSVs: question,A,B,C,D,answer letter (no header; RFC 4180 quoting,
// fields may hold commas, doubled quotes and newlines).
struct MmluQuestion {
  std::string question;
  std::array<std::string, 4> choices;
  int answer = 0;  // 0-3
};
std::vector<MmluQuestion> parse_mmlu_csv(const std::string& text, const std::string& where);
// lm-eval's mmlu prompt: "The following are multiple choice questions (with answers) about
// {subject, _ as space}.\n\n", each shot "{question stripped}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n
// Answer: {letter}\n\n", then the question in the same form ending in "Answer:".
std::string mmlu_prompt(const std::string& subject, const std::vector<MmluQuestion>& shots, const MmluQuestion& q);
// A folder with test/<subject>_test.csv (and dev/<subject>_dev.csv when shots > 0, its first
// `shots` rows the few-shot examples): every subject's questions, subjects in name order.
std::vector<McTask> read_mmlu(const std::filesystem::path& dir, size_t shots);

// By benchmark (Winogrande: JSONL when the name ends in .jsonl, else CSV; MMLU: a folder).
std::vector<McTask> read_tasks(Benchmark b, const std::filesystem::path& file);

// The file of `b` under a data folder laid out as the shared benchmarks folder (or the file
// itself directly in it): hellaswag_val_full.txt; winogrande/winogrande-debiased-eval.csv, else
// winogrande/dev.jsonl; arc/ARC-Easy-Test.jsonl, arc/ARC-Challenge-Test.jsonl; the folder mmlu/.
// UserError listing the places tried when none exists.
std::filesystem::path find_task_file(Benchmark b, const std::filesystem::path& dir);

// Indices of the tasks llama-perplexity evaluates with --hellaswag-tasks / --winogrande-tasks
// `limit`, in its order (std::mt19937 seeded 1; the same on every platform). `limit` 0: all, in
// file order. HellaSwag draws one of the remaining tasks at a time; Winogrande keeps file order
// when limit >= count and otherwise draws with swap-removal, as llama.cpp does.
std::vector<size_t> llama_cpp_selection(Benchmark b, size_t count, size_t limit);
// `limit` of `count` tasks drawn without replacement by std::mt19937 seeded 1 (the same on every
// platform), returned in file order; `limit` 0 or >= count: all. MMLU draws over all subjects together.
std::vector<size_t> seeded_selection(size_t count, size_t limit);
// The tasks `--limit` evaluates: llama.cpp's order for HellaSwag and Winogrande, else seeded_selection.
std::vector<size_t> select_tasks(Benchmark b, size_t count, size_t limit);

}  // namespace lowbit::eval
