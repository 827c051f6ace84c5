#include "eval/benchmark_report.h"

#include <map>

#include "core/strings.h"

namespace lowbit::eval {

using nlohmann::json;

std::string describe(Benchmark b, McMetric m) {
  if (b == Benchmark::ArcEasy || b == Benchmark::ArcChallenge)
    return m == McMetric::AccNorm ? "lm-eval acc_norm: sum of the log-probs of \" answer\" / the answer's length in characters"
                                  : "lm-eval acc: sum of the log-probs of \" answer\" after \"Question: ...\\nAnswer:\"";
  if (b == Benchmark::Mmlu || b == Benchmark::Mmlu5Shot)
    return std::string("lm-eval acc: the likeliest of \" A\"..\" D\" after the ") +
           (b == Benchmark::Mmlu5Shot ? "5-shot" : "0-shot") +
           " prompt, over all questions (lm-eval's mmlu: subjects weighted by size)";
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
  if (is_lm_eval_prompt(r.benchmark))
    return std::to_string(r.tasks.size()) + " drawn with seed 1 (mt19937), file order" +
           (r.benchmark == Benchmark::Mmlu || r.benchmark == Benchmark::Mmlu5Shot ? ", over all subjects together" : "");
  return "first " + std::to_string(r.tasks.size()) + " of llama.cpp's order, as --" + to_string(r.benchmark) +
         "-tasks " + std::to_string(r.limit);
}

json task_json(const TaskScore& t, bool lm_eval_only) {
  json llama = json::array(), lp = json::array(), chars = json::array();
  for (const ChoiceScore& c : t.choices) llama.push_back(c.llama), lp.push_back(c.logprob), chars.push_back(c.chars);
  json j{{"index", t.index}, {"gold", t.gold}, {"acc", t.acc}, {"acc_norm", t.acc_norm}, {"logprob", lp}, {"chars", chars}};
  if (!lm_eval_only) j["llama.cpp"] = t.llama, j["score_llama.cpp"] = llama;
  if (!t.subject.empty()) j["subject"] = t.subject;
  return j;
}

json accuracy_json(const Accuracy& a) {
  return json{{"acc", a.acc}, {"stderr", a.stderr_}, {"correct", a.correct}, {"tasks", a.total}};
}

}  // namespace

std::vector<SubjectAccuracy> by_subject(const std::vector<TaskScore>& tasks, McMetric m) {
  std::map<std::string, std::vector<TaskScore>> groups;
  for (const TaskScore& t : tasks) groups[t.subject].push_back(t);
  std::vector<SubjectAccuracy> out;
  for (const auto& [subject, group] : groups) out.push_back({subject, accuracy(group, m)});
  return out;
}

double macro_average(const std::vector<SubjectAccuracy>& subjects) {
  double sum = 0;
  for (const SubjectAccuracy& s : subjects) sum += s.acc.acc;
  return subjects.empty() ? 0 : sum / double(subjects.size());
}

std::string to_text(const BenchmarkReport& rep) {
  std::string out;
  auto line = [&](const char* fmt, auto... args) { appendf(out, fmt, args...); };
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
    if (r.benchmark == Benchmark::Mmlu || r.benchmark == Benchmark::Mmlu5Shot) {
      const auto subjects = by_subject(r.tasks, McMetric::Acc);
      line("  %-10s %6.2f %%   (unweighted mean of the %zu subjects' acc)\n", "macro", 100 * macro_average(subjects),
           subjects.size());
      const auto base = r.base_tasks.empty() ? std::vector<SubjectAccuracy>{} : by_subject(r.base_tasks, McMetric::Acc);
      for (size_t i = 0; i < subjects.size(); ++i) {
        line("    %-38s %6.2f %% of %3ld", subjects[i].subject.c_str(), 100 * subjects[i].acc.acc,
             long(subjects[i].acc.total));
        if (!base.empty()) line("   base %6.2f %%", 100 * base[i].acc.acc);
        line("\n");
      }
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
    const bool lm_eval_only = is_lm_eval_prompt(r.benchmark);
    json tasks = json::array(), base = json::array();
    for (const TaskScore& t : r.tasks) tasks.push_back(task_json(t, lm_eval_only));
    for (const TaskScore& t : r.base_tasks) base.push_back(task_json(t, lm_eval_only));
    json j{{"file", r.file},   {"file_tasks", r.file_tasks}, {"limit", r.limit},     {"selection", selection(r)},
           {"seconds", r.seconds}, {"metrics", metrics},     {"per_task", tasks}};
    if (r.benchmark == Benchmark::Mmlu || r.benchmark == Benchmark::Mmlu5Shot) {
      const auto subjects = by_subject(r.tasks, McMetric::Acc);
      json per = json::object();
      for (const SubjectAccuracy& s : subjects) per[s.subject] = accuracy_json(s.acc);
      j["subjects"] = per;
      j["macro_acc"] = macro_average(subjects);
      if (!r.base_tasks.empty()) j["base_macro_acc"] = macro_average(by_subject(r.base_tasks, McMetric::Acc));
    }
    if (!r.base_tasks.empty()) j["base_per_task"] = base;
    runs[to_string(r.benchmark)] = j;
  }
  json j{{"model", rep.model}, {"bos", rep.bos}, {"benchmarks", runs}};
  if (!rep.base.empty()) j["base"] = rep.base;
  return j;
}

}  // namespace lowbit::eval
