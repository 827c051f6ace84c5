// `lowbit eval`: perplexity of a checkpoint on a text, and with --base the KL divergence,
// top-1 agreement and RMS delta-p against the original, as llama.cpp's perplexity tool;
// multiple-choice benchmarks (--task) by log-likelihood under llama.cpp's and lm-eval's protocols;
// custom evals (--prompts): the user's prompts with checks, regressions against the base.
#include <algorithm>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/compare_methods.h"
#include "cli/runner.h"
#include "chat/chat_template.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "eval/benchmark_report.h"
#include "eval/benchmarks.h"
#include "eval/checkpoints_table.h"
#include "eval/custom_eval.h"
#include "eval/gate.h"
#include "eval/html_report.h"
#include "eval/multiple_choice.h"
#include "eval/perplexity.h"
#include "eval/report.h"
#include "eval/verdicts.h"
#include "export/load_model.h"
#include "io/file_util.h"
#include "io/model_dir.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace lowbit::cli {

namespace fs = std::filesystem;

namespace {

// --data values: a folder laid out as the shared benchmarks folder, or TASK=FILE.
fs::path task_file(eval::Benchmark b, const std::vector<std::string>& data) {
  if (data.empty()) throw UserError("--task needs --data (a benchmarks folder, or " + eval::to_string(b) + "=FILE)");
  std::vector<fs::path> dirs;
  for (const std::string& d : data) {
    const size_t eq = d.find('=');
    if (eq == std::string::npos) {
      dirs.push_back(d);
      continue;
    }
    // mmlu=FOLDER serves mmlu:5shot too (the same folder holds the dev split).
    const eval::Benchmark named = eval::parse_benchmark(d.substr(0, eq));
    if (named == b || (named == eval::Benchmark::Mmlu && b == eval::Benchmark::Mmlu5Shot)) return d.substr(eq + 1);
  }
  if (dirs.empty()) throw UserError("--data names no " + eval::to_string(b) + " file (" + eval::to_string(b) + "=FILE)");
  for (const fs::path& d : dirs)
    if (!fs::is_directory(d)) throw UserError("--data " + d.string() + ": not a folder (or TASK=FILE)");
  std::string why;
  for (const fs::path& d : dirs) {
    try {
      return eval::find_task_file(b, d);
    } catch (const UserError& e) {
      why += (why.empty() ? "" : "; ") + std::string(e.what());
    }
  }
  throw UserError(why);
}

// One benchmark over the selected tasks, with the base model too when given.
struct BenchmarkInput {
  eval::Benchmark benchmark;
  fs::path file;
  std::vector<eval::McTask> tasks;
};

eval::BenchmarkRun run_benchmark(const BenchmarkInput& in, size_t limit, const eval::ChoiceScorer& model,
                                 const eval::ChoiceScorer* base) {
  const eval::Benchmark b = in.benchmark;
  const fs::path& file = in.file;
  const std::vector<eval::McTask>& all = in.tasks;
  eval::BenchmarkRun r;
  r.benchmark = b;
  r.file = file.string();
  r.file_tasks = all.size();
  r.limit = limit;
  const std::vector<size_t> picked = eval::select_tasks(b, all.size(), limit);
  // Counted in tasks (with --base, a task is scored by both models): the rate is tasks/s.
  Progress progress(eval::to_string(b), picked.size(), picked.size(), ProgressMode::Auto, "tasks", "tasks");
  const auto start = std::chrono::steady_clock::now();
  // Winogrande's tasks are a few dozen tokens: 8 to a pass (about llama.cpp's 512-token batch)
  // read the weights once for all of them.
  const size_t per_pass = b == eval::Benchmark::Winogrande ? 8 : 1;
  for (size_t i0 = 0; i0 < picked.size(); i0 += per_pass) {
    check_interrupted();
    std::vector<const eval::McTask*> batch;
    for (size_t i = i0; i < std::min(picked.size(), i0 + per_pass); ++i) batch.push_back(&all[picked[i]]);
    for (eval::TaskScore& t : model.score_batch(b, batch)) r.tasks.push_back(std::move(t));
    if (base)
      for (eval::TaskScore& t : base->score_batch(b, batch)) r.base_tasks.push_back(std::move(t));
    progress.advance(batch.size(), batch.size());
  }
  progress.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

// A GGUF file's chat template (tokenizer.chat_template, and named ones) with its special tokens, as
// `lowbit convert` writes them into tokenizer_config.json; reads the metadata only.
std::optional<chat::ChatTemplate> gguf_chat_template(const fs::path& file) {
  const io::GgufFile f(file);
  const exporter::GgufHfModel m = exporter::gguf_hf_model(f, "float32");
  return chat::ChatTemplate::from_tokenizer_config(nlohmann::ordered_json::parse(m.tokenizer_config.dump()),
                                                   file.string() + " (tokenizer.chat_template)");
}

// Each prompt's text as the model sees it: chat messages through the template of `dir` (the folder
// whose tokenizer the run uses), read before any model loads.
std::vector<std::string> custom_prompt_texts(const std::vector<eval::CustomPrompt>& prompts, const std::string& file,
                                             const fs::path& dir) {
  std::optional<chat::ChatTemplate> tmpl;
  std::vector<std::string> out;
  for (const eval::CustomPrompt& p : prompts) {
    const std::string where = file + ":" + std::to_string(p.line);
    out.push_back(eval::prompt_text(p, [&](const nlohmann::ordered_json& messages) {
      const bool gguf = fs::is_regular_file(dir);
      if (!tmpl) tmpl = gguf ? gguf_chat_template(dir) : chat::ChatTemplate::from_model_dir(dir);
      if (!tmpl)
        throw UserError(where + ": chat \"messages\" need the model's chat template, and " + dir.string() +
                        (gguf ? " has none (no tokenizer.chat_template in its metadata)"
                              : " has none (no chat_template.jinja, no chat_template in tokenizer_config.json)"));
      try {
        return tmpl->render(messages, true);
      } catch (const UserError& e) {
        throw UserError(where + ": " + e.what());
      }
    }));
  }
  return out;
}

// What `lowbit quantize` wrote beside the weights, when the model folder has it: recipe.yaml
// (into --json) and, for --report, quantization_report.json (the weight-error plot).
struct CheckpointRecord {
  std::string recipe;
  std::optional<nlohmann::json> quantization_report;
};
CheckpointRecord read_checkpoint_record(const fs::path& model, bool with_report) {
  CheckpointRecord r;
  if (!fs::is_directory(model)) return r;
  if (fs::is_regular_file(model / "recipe.yaml")) r.recipe = io::read_text_file(model / "recipe.yaml");
  const fs::path q = model / "quantization_report.json";
  if (with_report && fs::is_regular_file(q)) {
    try {
      r.quantization_report = nlohmann::json::parse(io::read_text_file(q));
    } catch (const nlohmann::json::exception& e) {
      throw UserError(q.string() + ": not valid JSON (" + e.what() + ")");
    }
  }
  return r;
}

// Each model's page in `dir` for `--report DIR` with several models: the folder's (or file's stem)
// name, with its position appended when two models share a name.
std::vector<fs::path> report_pages(const std::vector<std::string>& models, const fs::path& dir) {
  std::vector<fs::path> pages;
  std::map<std::string, int> seen;
  for (const std::string& m : models) {
    fs::path p = fs::path(m);
    if (!p.has_filename()) p = p.parent_path();  // "out/" names "out"
    std::string name = fs::is_regular_file(p) ? p.stem().string() : p.filename().string();
    if (name.empty() || name == "." || name == "..") name = "model";
    if (seen[name]++) name += "-" + std::to_string(pages.size() + 1);
    pages.push_back(dir / (name + ".html"));
  }
  return pages;
}

// `lowbit eval A B C ...`: one child run per model with `common` options, then one table (and with
// `json_path`, {"models": [each run's JSON]}; with `report_dir`, each model's HTML page there).
// Exit 3 when a model's gate fails, 2 when a run fails.
int eval_several(const std::vector<std::string>& models, const std::vector<std::string>& common,
                 const std::string& json_path, const std::string& report_dir) {
  if (!json_path.empty()) io::check_output_file(json_path, "--json");
  std::vector<fs::path> pages;
  bool made_report_dir = false;
  if (!report_dir.empty()) {
    if (fs::exists(report_dir) && !fs::is_directory(report_dir))
      throw UserError("--report " + report_dir + ": with several models --report names a folder (one page per model)");
    pages = report_pages(models, report_dir);
    for (const fs::path& p : pages)
      if (fs::exists(p)) throw UserError(p.string() + " exists; not overwriting it");
    made_report_dir = fs::create_directories(report_dir);
  }
  // A failed or interrupted run leaves no page (and no report folder it made).
  struct ReportCleanup {
    fs::path dir;
    const std::vector<fs::path>& pages;
    bool made_dir, armed = true;
    ~ReportCleanup() {
      if (!armed) return;
      std::error_code ec;
      for (const fs::path& p : pages) fs::remove(p, ec);
      if (made_dir) fs::remove_all(dir, ec);
    }
  } report_cleanup{report_dir, pages, made_report_dir};
  const fs::path tmp = fs::temp_directory_path() / ("lowbit-eval-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  std::vector<nlohmann::json> runs;
  bool gate_failed = false;
  for (size_t i = 0; i < models.size(); ++i) {
    check_interrupted();
    std::fprintf(stderr, "=== %s (%zu of %zu) ===\n", models[i].c_str(), i + 1, models.size());
    const fs::path out = tmp / (std::to_string(i) + ".json");
    std::vector<std::string> args{"eval", models[i]};
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), {"--json", out.string()});
    if (!pages.empty()) args.insert(args.end(), {"--report", pages[i].string()});
    const ChildRun r = run_lowbit(args);
    if (interrupted()) throw Interrupted();
    if (r.rc != 0 && r.rc != 3)
      throw UserError("eval of " + models[i] + " failed (exit " + std::to_string(r.rc) + "; see above)");
    gate_failed |= r.rc == 3;
    runs.push_back(nlohmann::json::parse(io::read_text_file(out)));
  }
  std::printf("\n%s", eval::checkpoints_table(runs).c_str());
  if (!json_path.empty())
    io::write_text_file_atomic(json_path, nlohmann::json{{"models", runs}}.dump(2, ' ', false,
                                                                             nlohmann::json::error_handler_t::replace) +
                                              "\n");
  report_cleanup.armed = false;
  for (const fs::path& p : pages) std::fprintf(stderr, "report: %s\n", p.string().c_str());
  std::fflush(stdout);
  if (gate_failed) std::fprintf(stderr, "gate failed for at least one model\n");
  return gate_failed ? 3 : 0;
}

}  // namespace

void register_eval(CLI::App& app) {
  static std::string base_path, text_path, protocol = "llama.cpp", json_path, bos = "auto";
  static std::string save_logits, base_logits, report_path;
  static std::string tasks, gate, prompts_path;
  static std::vector<std::string> data, model_paths;
  static int64_t ctx = 512, chunks = -1, limit = 0;
  static int threads = 0;
  CLI::App* sub = app.add_subcommand(
      "eval", "Perplexity, KL divergence / top-1 agreement against a base model, multiple-choice benchmarks, custom evals");
  sub->add_option("model", model_paths,
                  "Model folder (dense or quantized) or .gguf file; several: each evaluated alike, one table")
      ->required();
  sub->add_option("--text", text_path, "Evaluation text (e.g. WikiText-2 wiki.test.raw)");
  sub->add_option("--task", tasks,
                  "Multiple-choice benchmarks, comma-separated: hellaswag (llama.cpp's text file), winogrande "
                  "(llama.cpp's CSV or the original dev.jsonl), scored as llama.cpp and as lm-eval; arc-easy, "
                  "arc-challenge (ARC's JSONL), mmlu, mmlu:5shot (Hendrycks' CSV folder), scored as lm-eval");
  sub->add_option("--limit", limit,
                  "Only N tasks: hellaswag, winogrande: the first N of llama.cpp's order (llama-perplexity's "
                  "--hellaswag-tasks N / --winogrande-tasks N); arc-*, mmlu*: N drawn with a fixed seed, "
                  "MMLU's over all subjects together (default: all, file order)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--data", data,
                  "Benchmark files: a folder (hellaswag_val_full.txt, winogrande/winogrande-debiased-eval.csv or "
                  "winogrande/dev.jsonl, arc/ARC-Easy-Test.jsonl, arc/ARC-Challenge-Test.jsonl, mmlu/{test,dev}/), "
                  "or TASK=FILE (mmlu=FOLDER); repeatable");
  sub->add_option("--prompts", prompts_path,
                  "Custom eval: a JSONL file, one prompt a line ({\"prompt\": ...} or chat {\"messages\": [...]}), with "
                  "optional checks expected, contains, regex, choices + answer, and max_tokens; greedy answers, the "
                  "pass rate, and with --base the regressions and the drift (docs/eval.md)");
  sub->add_option("--base", base_path,
                  "Original model (folder or .gguf) to compare with (KLD, top-1, delta-PPL, benchmark drops, custom-eval "
                  "regressions)");
  sub->add_option("--ctx", ctx, "Context length per chunk")->capture_default_str();
  sub->add_option("--protocol", protocol,
                  "llama.cpp: chunks of --ctx, BOS first if the tokenizer adds one, score the second half; "
                  "paper: non-overlapping windows, every token scored")
      ->check(CLI::IsMember({"llama.cpp", "paper"}))
      ->capture_default_str();
  sub->add_option("--chunks", chunks, "Evaluate only the first N chunks");
  sub->add_option("--bos", bos, "auto (tokenizer_config add_bos_token) | yes | no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  sub->add_option("--save-logits", save_logits,
                  "Save this model's log-probs of the scored tokens (about 100 KB per token at a 50k vocabulary)");
  sub->add_option("--base-logits", base_logits, "KLD against log-probs saved by --save-logits (instead of --base)")
      ->excludes("--base");
  sub->add_option("--json", json_path, "Also write the results as JSON");
  sub->add_option("--report", report_path,
                  "Also write a self-contained HTML report (verdict table, benchmark bars, KLD plots, per-layer "
                  "weight error from the checkpoint's quantization_report.json; docs/eval.md); with several models, a "
                  "folder that gets one page per model");
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->add_option("--gate", gate,
                  "Conditions that must hold, comma-separated: METRIC OP BOUND with OP <= < >= > ==, BOUND a number "
                  "or 'noise' (the verdict is not worse); metrics ppl, dppl, ppl_ratio, ln_ppl_ratio, kld, kld_p99, "
                  "top1, rms_dp, base_ppl, TASK.acc, TASK.drop, TASK.base_acc, TASK.PROTOCOL.acc, custom.regressions, "
                  "custom.pass_rate, custom.same_output. Exit 3 when one "
                  "fails (docs/eval.md)");
  sub->footer(
      "Examples:\n"
      "  lowbit eval ./SmolLM2-135M-Instruct --text wiki.test.raw\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --text wiki.test.raw --ctx 512 --json report.json\n"
      "  lowbit eval model-Q4_K_M.gguf --base ./SmolLM2-135M-Instruct --text wiki.test.raw   # a GGUF file directly\n"
      "  lowbit eval ./SmolLM2-135M-Instruct --text wiki.test.raw --save-logits base.lp   # once\n"
      "  lowbit eval ./out-W4A16 --text wiki.test.raw --base-logits base.lp            # per recipe\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --task hellaswag,winogrande --limit 400 \\\n"
      "      --data ../shared/data/benchmarks       # = llama-perplexity --hellaswag-tasks 400 / --winogrande-tasks 400\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --task arc-easy,arc-challenge,mmlu,mmlu:5shot \\\n"
      "      --limit 500 --data ../shared/data/benchmarks   # lm-eval's arc_easy, arc_challenge, mmlu (0/5-shot)\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --text wiki.test.raw --task hellaswag,arc-easy \\\n"
      "      --limit 200 --data ../shared/data/benchmarks --json report.json --report report.html\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --text wiki.test.raw --task hellaswag --limit 400 \\\n"
      "      --data ../shared/data/benchmarks --gate 'kld<=0.02,ppl_ratio<=1.02,hellaswag.drop<=noise,top1>=0.9'\n"
      "      # exit 0: every condition holds; 3: one fails (printed with its value); 2: bad input\n"
      "  lowbit eval ./out-W4A16 ./out-NVFP4 ./out-FP8 --base ./SmolLM2-135M-Instruct --text wiki.test.raw \\\n"
      "      --task hellaswag --limit 400 --data ../shared/data/benchmarks --report reports/   # one table, a page each\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --prompts my-product-evals.jsonl \\\n"
      "      --gate 'custom.regressions==0'   # custom eval: exit 3 when a prompt passes on the base only");
  register_runner("eval", [] {
    set_threads(threads);
    if (model_paths.size() > 1) {
      // Several checkpoints: each one is a child `lowbit eval` with the same options (its own
      // --json, and with --report DIR its page there), then one table. The base runs once per checkpoint.
      if (!save_logits.empty()) throw UserError("--save-logits takes one model");
      std::vector<std::string> common;
      auto opt = [&](const char* flag, const std::string& v) {
        if (!v.empty()) common.insert(common.end(), {flag, v});
      };
      opt("--text", text_path);
      opt("--task", tasks);
      for (const auto& d : data) opt("--data", d);
      opt("--prompts", prompts_path);
      opt("--base", base_path);
      opt("--base-logits", base_logits);
      opt("--protocol", protocol);
      opt("--bos", bos);
      opt("--gate", gate);
      common.insert(common.end(), {"--ctx", std::to_string(ctx)});
      if (chunks >= 0) opt("--chunks", std::to_string(chunks));
      if (limit > 0) opt("--limit", std::to_string(limit));
      if (threads > 0) opt("--threads", std::to_string(threads));
      return eval_several(model_paths, common, json_path, report_path);
    }
    const std::string& model_path = model_paths[0];
    if (text_path.empty() && tasks.empty() && prompts_path.empty())
      throw UserError("eval needs --text FILE, --task NAMES or --prompts FILE.jsonl (or several)");
    if (tasks.empty() && (limit > 0 || !data.empty())) throw UserError("--limit and --data go with --task");
    if (text_path.empty() && (!save_logits.empty() || !base_logits.empty()))
      throw UserError("--save-logits and --base-logits go with --text");
    // Every task name and file is checked before a model loads.
    std::vector<BenchmarkInput> bench;
    if (!tasks.empty())
      for (eval::Benchmark which : eval::parse_benchmarks(tasks)) {
        const fs::path file = task_file(which, data);
        bench.push_back({which, file, eval::read_tasks(which, file)});
      }
    // The prompts and their chat rendering too.
    std::vector<eval::CustomPrompt> custom;
    std::vector<std::string> custom_texts;
    if (!prompts_path.empty()) {
      custom = eval::read_custom_prompts(prompts_path);
      // The template of the tokenizer the run uses: a GGUF file always carries its own.
      const bool own = fs::is_regular_file(model_path) || fs::exists(fs::path(model_path) / "tokenizer.json") ||
                       base_path.empty();
      custom_texts = custom_prompt_texts(custom, prompts_path, own ? fs::path(model_path) : fs::path(base_path));
    }
    // The gate is checked against what this run measures before a model loads, so a typo fails fast.
    std::vector<eval::GateCondition> gate_conditions;
    if (!gate.empty()) {
      gate_conditions = eval::parse_gate(gate);
      eval::GatePlan plan;
      plan.text = !text_path.empty();
      plan.text_base = !base_path.empty() || !base_logits.empty();
      plan.task_base = !base_path.empty();
      for (const BenchmarkInput& in : bench)
        for (eval::McMetric metric : eval::metrics_of(in.benchmark))
          plan.tasks[eval::to_string(in.benchmark)].push_back(eval::to_string(metric));
      plan.custom = !custom.empty();
      plan.custom_checks = std::any_of(custom.begin(), custom.end(), [](const auto& p) { return p.has_checks(); });
      eval::check_gate(gate_conditions, plan);
    }
    // Outputs are checked before a model loads, written whole at the end.
    if (!json_path.empty()) io::check_output_file(json_path, "--json");
    if (!report_path.empty()) io::check_output_file(report_path, "--report");
    const CheckpointRecord record = read_checkpoint_record(model_path, !report_path.empty());
    eval::Measurements measured;
    auto m = exporter::load_model(model_path);
    std::unique_ptr<exporter::LoadedModel> b;
    if (!base_path.empty()) {
      b = exporter::load_model(base_path);
      if (b->arch.vocab != m->arch.vocab) throw UserError("--base has a different vocabulary size");
    }
    // The model's tokenizer, or the base's when a quantized folder carries none.
    const exporter::LoadedModel& tok_model = m->has_tokenizer() || !b ? *m : *b;
    auto tok = tok_model.tokenizer();
    const int32_t bos_id = tokenizer::bos_to_add(tok_model.token_files(), tok, tokenizer::parse_bos_mode(bos));
    nlohmann::json json_out;
    if (!text_path.empty()) {
      const std::string text = io::read_text_file(text_path, 1u << 30);
      const auto tokens = tok.encode(text);
      eval::EvalOptions o;
      o.ctx = ctx;
      o.protocol = eval::parse_protocol(protocol);
      o.max_chunks = chunks;
      o.bos_id = bos_id;
      o.save_logits = save_logits;
      std::optional<eval::LogProbReader> base_lp;
      if (!base_logits.empty()) o.base_logits = &base_lp.emplace(base_logits);
      const eval::Chunks ch = eval::chunks_for(tokens, o);
      Progress progress("eval", uint64_t(ch.count()), uint64_t(ch.count() * ctx), ProgressMode::Auto, "chunks",
                        b ? "tokens (x2 models)" : "tokens");
      auto fwd = [](const engine::Transformer& net) {
        return [&net](const std::vector<int32_t>& t, int64_t first) {
          check_interrupted();
          return net.forward(t, first);
        };
      };
      eval::EvalReport rep;
      rep.result = eval::evaluate(ch, m->arch.vocab, fwd(*m->net), b ? eval::LogitsFn(fwd(*b->net)) : eval::LogitsFn(),
                                  o, [&](int64_t, int64_t) { progress.advance(1, uint64_t(ctx)); });
      progress.finish();
      rep.model = model_path;
      rep.text = text_path;
      rep.text_sha256 = io::sha256_hex(text.data(), text.size());
      rep.base = base_lp ? base_logits : base_path;
      rep.text_tokens = int64_t(tokens.size());
      rep.ctx = ctx;
      rep.protocol = o.protocol;
      rep.bos = o.bos_id >= 0;
      std::printf("%s", eval::to_text(rep).c_str());
      json_out = eval::to_json(rep);
      eval::add_measurements(rep.result, measured);
    }
    if (!bench.empty()) {
      eval::BenchmarkReport rep;
      rep.model = model_path;
      rep.base = base_path;
      rep.bos = bos_id >= 0;
      const eval::ChoiceScorer scorer(*m->net, tok, bos_id);
      std::optional<eval::ChoiceScorer> base_scorer;
      if (b) base_scorer.emplace(*b->net, tok, bos_id);
      std::fflush(stdout);  // the text's report before the benchmarks' progress lines (stderr)
      for (const BenchmarkInput& in : bench)
        rep.runs.push_back(run_benchmark(in, size_t(limit), scorer, base_scorer ? &*base_scorer : nullptr));
      std::printf("%s%s%s", text_path.empty() ? "" : "\n", eval::to_text(rep).c_str(),
                  eval::benchmark_comparison_text(rep).c_str());
      nlohmann::json j = eval::to_json(rep);
      eval::add_benchmark_comparisons(rep, j);
      eval::add_measurements(rep, measured);
      if (json_out.is_null()) json_out = j;
      else json_out["benchmarks"] = j["benchmarks"];
    }
    if (!custom.empty()) {
      std::fflush(stdout);  // the report so far before the custom eval's progress lines (stderr)
      const eval::CustomReport rep = eval::run_custom_eval(prompts_path, custom, custom_texts, *m->net,
                                                           b ? b->net.get() : nullptr, tok, bos_id,
                                                           tokenizer::eos_ids(tok_model.token_files()));
      std::printf("%s%s", json_out.is_null() ? "" : "\n", eval::to_text(rep).c_str());
      if (json_out.is_null()) json_out = {{"model", model_path}};
      if (!base_path.empty()) json_out["base"] = base_path;
      json_out["custom"] = eval::to_json(rep);
      eval::add_measurements(rep, measured);
    }
    bool gate_holds = true;
    if (!gate_conditions.empty()) {
      const std::vector<eval::GateOutcome> outcomes = eval::evaluate_gate(gate_conditions, measured);
      std::printf("\n%s", eval::gate_text(outcomes).c_str());
      for (const eval::GateOutcome& g : outcomes) gate_holds = gate_holds && g.holds;
      json_out["gate"] = {{"expression", gate}, {"holds", gate_holds}, {"conditions", eval::gate_json(outcomes)}};
    }
    json_out["lowbit"] = eval::run_info();
    if (!record.recipe.empty()) json_out["recipe"] = record.recipe;
    if (!json_path.empty()) io::write_text_file_atomic(json_path, json_out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!report_path.empty())
      io::write_text_file_atomic(report_path, eval::html_report(json_out, record.quantization_report ? &*record.quantization_report : nullptr));
    std::fflush(stdout);  // the report before the failure line when both go to one pipe
    if (!gate_holds) std::fprintf(stderr, "gate failed: %s\n", gate.c_str());
    return gate_holds ? 0 : 3;
  });
}

}  // namespace lowbit::cli
