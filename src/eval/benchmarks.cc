#include "eval/benchmarks.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "io/file_util.h"

namespace lowbit::eval {

namespace fs = std::filesystem;

namespace {
constexpr Benchmark kAll[] = {Benchmark::HellaSwag, Benchmark::Winogrande, Benchmark::ArcEasy,
                              Benchmark::ArcChallenge, Benchmark::Mmlu,       Benchmark::Mmlu5Shot};
}

std::string to_string(Benchmark b) {
  switch (b) {
    case Benchmark::HellaSwag: return "hellaswag";
    case Benchmark::Winogrande: return "winogrande";
    case Benchmark::ArcEasy: return "arc-easy";
    case Benchmark::ArcChallenge: return "arc-challenge";
    case Benchmark::Mmlu: return "mmlu";
    case Benchmark::Mmlu5Shot: return "mmlu:5shot";
  }
  return "?";
}

bool is_lm_eval_prompt(Benchmark b) { return b != Benchmark::HellaSwag && b != Benchmark::Winogrande; }

Benchmark parse_benchmark(const std::string& name) {
  std::string known;
  for (Benchmark b : kAll) {
    if (name == to_string(b)) return b;
    known += (known.empty() ? "" : ", ") + to_string(b);
  }
  throw UserError("unknown task '" + name + "' (known: " + known + ")");
}

std::vector<Benchmark> parse_benchmarks(const std::string& list) {
  std::vector<Benchmark> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    const std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const Benchmark b = parse_benchmark(name);
    for (Benchmark seen : out)
      if (seen == b) throw UserError("task '" + name + "' is named twice in --task");
    out.push_back(b);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {

// Lines as std::getline splits them: a final newline ends the last line, it does not start one.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = nl + 1;
  }
  return lines;
}

std::string at_line(const std::string& where, size_t line) { return where + ":" + std::to_string(line + 1) + ": "; }

// Splits a Winogrande sentence at its blank.
void split_blank(const std::string& sentence, McTask& t, const std::string& err) {
  const size_t blank = sentence.find('_');
  if (blank == std::string::npos) throw UserError(err + "the sentence has no '_' (the blank)");
  t.context = sentence.substr(0, blank);
  t.after = sentence.substr(blank + 1);
}

int winogrande_answer(const std::string& answer, const std::string& err) {
  if (answer == "1" || answer == "2") return answer[0] - '1';
  throw UserError(err + "answer '" + answer + "' is not 1 or 2");
}

// Calls row(j, err) for each non-empty line of JSON-lines `text`: j the line's JSON, err the
// "where:N: " its errors start with.
template <class Row>
void for_each_json_line(const std::string& text, const std::string& where, Row row) {
  const std::vector<std::string> lines = split_lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    if (lines[n].empty()) continue;
    const std::string err = at_line(where, n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[n]);
    } catch (const nlohmann::json::exception& e) {
      throw UserError(err + "not JSON (" + e.what() + ")");
    }
    row(j, err);
  }
}

}  // namespace

std::vector<McTask> parse_hellaswag(const std::string& text, const std::string& where) {
  const std::vector<std::string> lines = split_lines(text);
  if (lines.empty()) throw UserError(where + ": no HellaSwag tasks");
  if (lines.size() % 6 != 0)
    throw UserError(where + ": " + std::to_string(lines.size()) +
                    " lines, not a multiple of 6 (a HellaSwag task is a context, a gold label 0-3 and four endings, "
                    "one a line)");
  std::vector<McTask> tasks(lines.size() / 6);
  for (size_t i = 0; i < tasks.size(); ++i) {
    McTask& t = tasks[i];
    t.index = i;
    t.context = lines[i * 6];
    const std::string& label = lines[i * 6 + 1];
    if (label.size() != 1 || label[0] < '0' || label[0] > '3')
      throw UserError(at_line(where, i * 6 + 1) + "gold label '" + label + "' is not 0-3 (task " +
                      std::to_string(i + 1) + ")");
    t.gold = label[0] - '0';
    for (size_t j = 0; j < 4; ++j) t.choices.push_back(lines[i * 6 + 2 + j]);
  }
  return tasks;
}

std::vector<McTask> parse_winogrande_csv(const std::string& text, const std::string& where) {
  const std::vector<std::string> lines = split_lines(text);
  std::vector<McTask> tasks;
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    if (line.empty()) continue;
    const std::string err = at_line(where, n);
    // The first four commas outside double quotes, as llama.cpp finds them.
    size_t comma[4];
    int found = 0;
    bool quoted = false;
    for (size_t i = 0; i < line.size() && found < 4; ++i) {
      if (line[i] == '"') quoted = !quoted;
      else if (line[i] == ',' && !quoted) comma[found++] = i;
    }
    if (found != 4) throw UserError(err + "not a Winogrande CSV row (index,sentence,option1,option2,answer)");
    std::string sentence = line.substr(comma[0] + 1, comma[1] - comma[0] - 1);
    if (sentence.size() >= 2 && sentence.front() == '"' && sentence.back() == '"')
      sentence = sentence.substr(1, sentence.size() - 2);
    McTask t;
    t.index = tasks.size();
    split_blank(sentence, t, err);
    t.choices = {line.substr(comma[1] + 1, comma[2] - comma[1] - 1), line.substr(comma[2] + 1, comma[3] - comma[2] - 1)};
    t.gold = winogrande_answer(line.substr(comma[3] + 1), err);
    tasks.push_back(std::move(t));
  }
  if (tasks.empty()) throw UserError(where + ": no Winogrande tasks");
  return tasks;
}

std::vector<McTask> parse_winogrande_jsonl(const std::string& text, const std::string& where) {
  std::vector<McTask> tasks;
  for_each_json_line(text, where, [&](nlohmann::json& j, const std::string& err) {
    auto field = [&](const char* key) {
      if (!j.is_object() || !j.contains(key) || !(j[key].is_string() || j[key].is_number_integer()))
        throw UserError(err + "no \"" + key + "\" string");
      return j[key].is_string() ? j[key].get<std::string>() : std::to_string(j[key].get<int64_t>());
    };
    McTask t;
    t.index = tasks.size();
    split_blank(field("sentence"), t, err);
    t.choices = {field("option1"), field("option2")};
    t.gold = winogrande_answer(field("answer"), err);
    tasks.push_back(std::move(t));
  });
  if (tasks.empty()) throw UserError(where + ": no Winogrande tasks");
  return tasks;
}

std::vector<McTask> parse_arc_jsonl(const std::string& text, const std::string& where) {
  std::vector<McTask> tasks;
  for_each_json_line(text, where, [&](nlohmann::json& j, const std::string& err) {
    auto string_at = [&](const nlohmann::json& obj, const char* key, const std::string& what) {
      if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string())
        throw UserError(err + "no \"" + key + "\" string" + what);
      return obj[key].get<std::string>();
    };
    if (!j.is_object() || !j.contains("question") || !j["question"].is_object())
      throw UserError(err + "no \"question\" object (ARC's JSONL: question.stem, question.choices, answerKey)");
    const nlohmann::json& q = j["question"];
    if (!q.contains("choices") || !q["choices"].is_array() || q["choices"].size() < 2)
      throw UserError(err + "no \"question.choices\" array of at least 2 choices");
    McTask t;
    t.index = tasks.size();
    t.context = "Question: " + string_at(q, "stem", " in \"question\"") + "\nAnswer:";
    const std::string key = string_at(j, "answerKey", "");
    t.gold = -1;
    for (const nlohmann::json& c : q["choices"]) {
      if (string_at(c, "label", " in a choice") == key) t.gold = int(t.choices.size());
      t.choices.push_back(string_at(c, "text", " in a choice"));
    }
    if (t.gold < 0) throw UserError(err + "answerKey '" + key + "' is none of the choices' labels");
    tasks.push_back(std::move(t));
  });
  if (tasks.empty()) throw UserError(where + ": no ARC questions");
  return tasks;
}

namespace {

// RFC 4180 records: fields split at commas outside quotes, "" a quote inside a quoted field, a
// record ends at a newline outside quotes (CRLF as LF). `lines[i]` is record i's first line.
std::vector<std::vector<std::string>> csv_records(const std::string& text, const std::string& where,
                                                  std::vector<size_t>& lines) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false, any = false;
  size_t line = 0, first = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else {
        line += c == '\n';
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = any = true;
    } else if (c == '"') {
      throw UserError(at_line(where, line) + "a quote inside an unquoted CSV field");
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      if (c == '\r') ++i;
      if (any || !field.empty()) {
        fields.push_back(std::move(field));
        records.push_back(std::move(fields));
        lines.push_back(first);
      }
      fields.clear();
      field.clear();
      any = false;
      first = ++line;
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw UserError(at_line(where, first) + "a quoted CSV field that never ends");
  if (any || !field.empty()) {
    fields.push_back(std::move(field));
    records.push_back(std::move(fields));
    lines.push_back(first);
  }
  return records;
}

std::string strip_whitespace(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string mmlu_question_text(const MmluQuestion& q) {
  return strip_whitespace(q.question) + "\nA. " + q.choices[0] + "\nB. " + q.choices[1] + "\nC. " + q.choices[2] +
         "\nD. " + q.choices[3] + "\nAnswer:";
}

std::string file_name_subject(const fs::path& file, const std::string& suffix) {
  const std::string name = file.filename().string();
  return name.size() > suffix.size() && name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size()) : "";
}

}  // namespace

std::vector<MmluQuestion> parse_mmlu_csv(const std::string& text, const std::string& where) {
  std::vector<size_t> lines;
  const auto records = csv_records(text, where, lines);
  std::vector<MmluQuestion> out;
  for (size_t r = 0; r < records.size(); ++r) {
    const auto& f = records[r];
    const std::string err = at_line(where, lines[r]);
    if (f.size() != 6)
      throw UserError(err + std::to_string(f.size()) + " fields, not 6 (question,A,B,C,D,answer)");
    MmluQuestion q;
    q.question = f[0];
    for (size_t i = 0; i < 4; ++i) q.choices[i] = f[i + 1];
    const std::string a = strip_whitespace(f[5]);
    if (a.size() != 1 || a[0] < 'A' || a[0] > 'D') throw UserError(err + "answer '" + f[5] + "' is not A-D");
    q.answer = a[0] - 'A';
    out.push_back(std::move(q));
  }
  if (out.empty()) throw UserError(where + ": no MMLU questions");
  return out;
}

std::string mmlu_prompt(const std::string& subject, const std::vector<MmluQuestion>& shots, const MmluQuestion& q) {
  std::string words = subject;
  std::replace(words.begin(), words.end(), '_', ' ');
  std::string p = "The following are multiple choice questions (with answers) about " + words + ".\n\n";
  for (const MmluQuestion& s : shots) p += mmlu_question_text(s) + " " + std::string(1, char('A' + s.answer)) + "\n\n";
  return p + mmlu_question_text(q);
}

std::vector<McTask> read_mmlu(const fs::path& dir, size_t shots) {
  const fs::path test = dir / "test";
  if (!fs::is_directory(test)) throw UserError(dir.string() + ": no test/ folder (MMLU's test/<subject>_test.csv)");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(test))
    if (e.is_regular_file() && !file_name_subject(e.path(), "_test.csv").empty()) files.push_back(e.path());
  if (files.empty()) throw UserError(test.string() + ": no <subject>_test.csv files");
  std::sort(files.begin(), files.end());
  std::vector<McTask> tasks;
  for (const fs::path& file : files) {
    const std::string subject = file_name_subject(file, "_test.csv");
    std::vector<MmluQuestion> dev;
    if (shots > 0) {
      const fs::path d = dir / "dev" / (subject + "_dev.csv");
      if (!fs::is_regular_file(d)) throw UserError(d.string() + ": no such file (the few-shot examples of " + subject + ")");
      dev = parse_mmlu_csv(io::read_text_file(d, 64u << 20), d.string());
      if (dev.size() < shots)
        throw UserError(d.string() + ": " + std::to_string(dev.size()) + " questions, fewer than " +
                        std::to_string(shots) + " shots");
      dev.resize(shots);
    }
    for (const MmluQuestion& q : parse_mmlu_csv(io::read_text_file(file, 64u << 20), file.string())) {
      McTask t;
      t.index = tasks.size();
      t.context = mmlu_prompt(subject, dev, q);
      t.choices = {"A", "B", "C", "D"};
      t.gold = q.answer;
      t.subject = subject;
      tasks.push_back(std::move(t));
    }
  }
  return tasks;
}

std::vector<McTask> read_tasks(Benchmark b, const fs::path& file) {
  if (b == Benchmark::Mmlu || b == Benchmark::Mmlu5Shot) return read_mmlu(file, b == Benchmark::Mmlu5Shot ? 5 : 0);
  if (!fs::is_regular_file(file)) throw UserError(file.string() + ": no such file (" + to_string(b) + " tasks)");
  const std::string text = io::read_text_file(file, 256u << 20);
  if (b == Benchmark::HellaSwag) return parse_hellaswag(text, file.string());
  if (b == Benchmark::ArcEasy || b == Benchmark::ArcChallenge) return parse_arc_jsonl(text, file.string());
  if (file.extension() == ".jsonl") return parse_winogrande_jsonl(text, file.string());
  return parse_winogrande_csv(text, file.string());
}

fs::path find_task_file(Benchmark b, const fs::path& dir) {
  std::vector<fs::path> tried;
  switch (b) {
    case Benchmark::HellaSwag: tried = {dir / "hellaswag_val_full.txt", dir / "hellaswag" / "hellaswag_val_full.txt"}; break;
    case Benchmark::Winogrande:
      tried = {dir / "winogrande" / "winogrande-debiased-eval.csv", dir / "winogrande-debiased-eval.csv",
               dir / "winogrande" / "dev.jsonl"};
      break;
    case Benchmark::ArcEasy: tried = {dir / "arc" / "ARC-Easy-Test.jsonl", dir / "ARC-Easy-Test.jsonl"}; break;
    case Benchmark::ArcChallenge: tried = {dir / "arc" / "ARC-Challenge-Test.jsonl", dir / "ARC-Challenge-Test.jsonl"}; break;
    case Benchmark::Mmlu:
    case Benchmark::Mmlu5Shot: tried = {dir / "mmlu", dir}; break;
  }
  const bool folder = b == Benchmark::Mmlu || b == Benchmark::Mmlu5Shot;
  std::string list;
  for (const fs::path& p : tried) {
    if (folder ? fs::is_directory(p / "test") : fs::is_regular_file(p)) return p;
    list += (list.empty() ? "" : ", ") + p.string();
  }
  throw UserError("no " + to_string(b) + " file in " + dir.string() + " (tried " + list + ")");
}

namespace {

// std::uniform_int_distribution<size_t>(0, range - 1) over std::mt19937 as libstdc++ draws it
// (Lemire's method), the library llama.cpp is built with here; written out so that the order
// does not depend on the standard library this is built with.
size_t draw_below(std::mt19937& rng, uint32_t range) {
  uint64_t product = uint64_t(rng()) * range;
  uint32_t low = uint32_t(product);
  if (low < range) {
    const uint32_t threshold = uint32_t(-range) % range;
    while (low < threshold) {
      product = uint64_t(rng()) * range;
      low = uint32_t(product);
    }
  }
  return size_t(product >> 32);
}

}  // namespace

std::vector<size_t> llama_cpp_selection(Benchmark b, size_t count, size_t limit) {
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  if (limit == 0) return order;
  std::mt19937 rng(1);
  if (b == Benchmark::HellaSwag) {
    // hellaswag_score: draw from the tasks left, erase the one drawn.
    const size_t n = std::min(limit, count);
    std::vector<size_t> picked;
    for (size_t i = 0; i < n; ++i) {
      const size_t k = draw_below(rng, uint32_t(order.size()));
      picked.push_back(order[k]);
      order.erase(order.begin() + std::ptrdiff_t(k));
    }
    return picked;
  }
  if (limit >= count) return order;
  // winogrande_score: j = int(scale * rng() * aux.size()) in float, then swap-remove.
  const float scale = 1 / (1.f + float(std::mt19937::max()));
  std::vector<size_t> picked;
  for (size_t i = 0; i < limit; ++i) {
    size_t j = size_t(int(scale * float(rng()) * float(order.size())));
    j = std::min(j, order.size() - 1);  // a draw that rounds up to 1.0 (llama.cpp would read past the end)
    picked.push_back(order[j]);
    order[j] = order.back();
    order.pop_back();
  }
  return picked;
}

std::vector<size_t> seeded_selection(size_t count, size_t limit) {
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  if (limit == 0 || limit >= count) return order;
  // A partial Fisher-Yates shuffle: the first `limit` places end up a uniform sample.
  std::mt19937 rng(1);
  for (size_t i = 0; i < limit; ++i) std::swap(order[i], order[i + draw_below(rng, uint32_t(count - i))]);
  order.resize(limit);
  // File order keeps an MMLU subject's questions together, so its few-shot prefix stays cached.
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<size_t> select_tasks(Benchmark b, size_t count, size_t limit) {
  return is_lm_eval_prompt(b) ? seeded_selection(count, limit) : llama_cpp_selection(b, count, limit);
}

}  // namespace lowbit::eval
