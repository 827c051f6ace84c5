#include "eval/benchmarks.h"

#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "io/file_util.h"

namespace lowbit::eval {

namespace fs = std::filesystem;

std::string to_string(Benchmark b) { return b == Benchmark::HellaSwag ? "hellaswag" : "winogrande"; }

Benchmark parse_benchmark(const std::string& name) {
  if (name == "hellaswag") return Benchmark::HellaSwag;
  if (name == "winogrande") return Benchmark::Winogrande;
  throw UserError("unknown task '" + name + "' (known: hellaswag, winogrande)");
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
  const std::vector<std::string> lines = split_lines(text);
  std::vector<McTask> tasks;
  for (size_t n = 0; n < lines.size(); ++n) {
    if (lines[n].empty()) continue;
    const std::string err = at_line(where, n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[n]);
    } catch (const nlohmann::json::exception& e) {
      throw UserError(err + "not JSON (" + e.what() + ")");
    }
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
  }
  if (tasks.empty()) throw UserError(where + ": no Winogrande tasks");
  return tasks;
}

std::vector<McTask> read_tasks(Benchmark b, const fs::path& file) {
  if (!fs::is_regular_file(file)) throw UserError(file.string() + ": no such file (" + to_string(b) + " tasks)");
  const std::string text = io::read_text_file(file, 256u << 20);
  if (b == Benchmark::HellaSwag) return parse_hellaswag(text, file.string());
  if (file.extension() == ".jsonl") return parse_winogrande_jsonl(text, file.string());
  return parse_winogrande_csv(text, file.string());
}

fs::path find_task_file(Benchmark b, const fs::path& dir) {
  const std::vector<fs::path> tried =
      b == Benchmark::HellaSwag
          ? std::vector<fs::path>{dir / "hellaswag_val_full.txt", dir / "hellaswag" / "hellaswag_val_full.txt"}
          : std::vector<fs::path>{dir / "winogrande" / "winogrande-debiased-eval.csv",
                                  dir / "winogrande-debiased-eval.csv", dir / "winogrande" / "dev.jsonl"};
  std::string list;
  for (const fs::path& p : tried) {
    if (fs::is_regular_file(p)) return p;
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

}  // namespace lowbit::eval
