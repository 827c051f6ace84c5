#include "eval/benchmark_report.h"

#include <cstdio>

namespace lowbit::eval {

using nlohmann::json;

std::string describe(Benchmark b, McMetric m) {
  const bool hs = b == Benchmark::HellaSwag;
  switch (m) {
    case McMetric::LlamaCpp:
      return hs ? "llama.cpp --hellaswag: mean log-prob of the ending's tokens after the endings' common prefix"
                : "llama.cpp --winogrande: mean log-prob of the tokens after the choice, last token left out";
    case McMetric::Acc:
      return hs ? "lm-eval acc: sum of the ending's log-probs"
                : "lm-eval acc: sum of the log-probs of the part after the blank (partial scoring)";
    case McMetric::AccNorm: return "lm-eval acc_norm: sum of the ending's log-probs / its length in characters";
  }
  return "";
}

namespace {

std::string selection(const BenchmarkRun& r) {
  if (r.limit == 0) return "all, file order";
  return "first " + std::to_string(r.tasks.size()) + " of llama.cpp's order, as --" + to_string(r.benchmark) +
         "-tasks " + std::to_string(r.limit);
}

json task_json(const TaskScore& t) {
  json llama = json::array(), lp = json::array(), chars = json::array();
  for (const ChoiceScore& c : t.choices) llama.push_back(c.llama), lp.push_back(c.logprob), chars.push_back(c.chars);
  return json{{"index", t.index}, {"gold", t.gold},          {"llama.cpp", t.llama}, {"acc", t.acc},
              {"acc_norm", t.acc_norm}, {"score_llama.cpp", llama}, {"logprob", lp},        {"chars", chars}};
}

json accuracy_json(const Accuracy& a) {
  return json{{"acc", a.acc}, {"stderr", a.stderr_}, {"correct", a.correct}, {"tasks", a.total}};
}

}  // namespace

std::string to_text(const BenchmarkReport& rep) {
  std::string out;
  char buf[1024];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  line("model            %s\n", rep.model.c_str());
  if (!rep.base.empty()) line("base             %s\n", rep.base.c_str());
  for (const BenchmarkRun& r : rep.runs) {
    const double rate = r.seconds > 0 ? double(r.tasks.size()) / r.seconds : 0;
    line("%-16s %zu of %zu tasks (%s), BOS %s; %s; %.1f s, %.2f tasks/s\n", to_string(r.benchmark).c_str(),
         r.tasks.size(), r.file_tasks, selection(r).c_str(), rep.bos ? "yes" : "no", r.file.c_str(), r.seconds,
         rate);
    for (McMetric m : metrics_of(r.benchmark)) {
      const Accuracy a = accuracy(r.tasks, m);
      line("  %-10s %6.2f +/- %.2f %%", to_string(m).c_str(), 100 * a.acc, 100 * a.stderr_);
      if (!r.base_tasks.empty()) {
        const Accuracy b = accuracy(r.base_tasks, m);
        line("   base %6.2f +/- %.2f %%   chose differently on %ld", 100 * b.acc, 100 * b.stderr_,
             long(differing(r.tasks, r.base_tasks, m)));
      }
      line("   (%s)\n", describe(r.benchmark, m).c_str());
    }
  }
  return out;
}

json to_json(const BenchmarkReport& rep) {
  json runs = json::object();
  for (const BenchmarkRun& r : rep.runs) {
    json metrics = json::object();
    for (McMetric m : metrics_of(r.benchmark)) {
      json j = accuracy_json(accuracy(r.tasks, m));
      j["protocol"] = describe(r.benchmark, m);
      if (!r.base_tasks.empty()) {
        j["base"] = accuracy_json(accuracy(r.base_tasks, m));
        j["differing"] = differing(r.tasks, r.base_tasks, m);
      }
      metrics[to_string(m)] = j;
    }
    json tasks = json::array(), base = json::array();
    for (const TaskScore& t : r.tasks) tasks.push_back(task_json(t));
    for (const TaskScore& t : r.base_tasks) base.push_back(task_json(t));
    json j{{"file", r.file},   {"file_tasks", r.file_tasks}, {"limit", r.limit},     {"selection", selection(r)},
           {"seconds", r.seconds}, {"metrics", metrics},     {"per_task", tasks}};
    if (!r.base_tasks.empty()) j["base_per_task"] = base;
    runs[to_string(r.benchmark)] = j;
  }
  json j{{"model", rep.model}, {"bos", rep.bos}, {"benchmarks", runs}};
  if (!rep.base.empty()) j["base"] = rep.base;
  return j;
}

}  // namespace lowbit::eval
