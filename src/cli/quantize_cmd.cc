// `lowbit quantize`: a model folder + a recipe -> a compressed-tensors checkpoint.
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/compare_methods.h"
#include "cli/imatrix_flags.h"
#include "cli/runner.h"
#include "cli/scheme_flags.h"
#include "core/error.h"
#include "core/log.h"
#include "io/file_util.h"
#include "io/imatrix_file.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "core/ggml_types.h"
#include "export/gguf_metadata.h"
#include "pipeline/calibration_data.h"
#include "pipeline/gguf_export.h"
#include "pipeline/quantize_checkpoint.h"
#include "pipeline/resume_state.h"
#include "pipeline/sequential_calibration.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::cli {

namespace {

struct QuantizeFlags {
  std::string model, output, recipe, progress = "auto", max_shard = "5GB";
  std::string method, calib, actorder, duo_scaling, eval_text, gptq_scales = "during";
  int64_t eval_chunks = -1;
  int n_grid = 0;
  int64_t awq_search_tokens = -1;  // -1: the default (kAwqSearchTokens)
  int64_t samples = 128, seq_len = 2048;
  uint64_t seed = 42;
  double dampening_frac = -1;
  int block_size = 0;
  SchemeFlags s;
  int threads = 0;
  bool overwrite = false, dry_run = false;
  bool quiet_report = false, resume = false;
  std::vector<std::string> targets, ignore;
  // GGUF output (--format gguf / --gguf-type).
  std::string gguf_type, gguf_pre, output_tensor_type, token_embedding_type, imatrix;
  bool process_output = false;
  std::vector<std::string> tensor_types;
  bool pure = false;
};

// AWQ scores candidates on this many tokens by default: the search costs n_grid block passes per
// token, and its choices settle long before llm-compressor's 128 x 512 (docs/calibration.md).
constexpr int64_t kAwqSearchTokens = 16384;

GgmlType ggml_type_flag(const std::string& name, const char* flag) {
  if (auto t = ggml_type_from_name(name)) return *t;
  throw UserError(std::string(flag) + " " + name + ": not a ggml type (e.g. q8_0, q6_K, q4_K, f16)");
}

int run_gguf(QuantizeFlags& f, CLI::App& sub);

// The GGUF export's options from the flags (types, tokenizer, mix overrides).
pipeline::GgufExportOptions gguf_options(const QuantizeFlags& f) {
  pipeline::GgufExportOptions o;
  o.output = f.output;
  o.overwrite = f.overwrite;
  o.ftype = f.gguf_type.empty() ? "Q4_K_M" : f.gguf_type;
  o.pre_tokenizer = f.gguf_pre;
  o.progress = parse_progress_mode(f.progress);
  o.mix.pure = f.pure;
  o.mix.ignore = f.ignore;
  if (!f.output_tensor_type.empty()) o.mix.output_type = ggml_type_flag(f.output_tensor_type, "--output-tensor-type");
  if (!f.token_embedding_type.empty())
    o.mix.token_embedding_type = ggml_type_flag(f.token_embedding_type, "--token-embedding-type");
  for (const auto& t : f.tensor_types) o.mix.tensor_types.push_back(quant::parse_gguf_tensor_type(t));
  return o;
}

void print_gguf_summary(const pipeline::GgufExportSummary& sum, const std::string& output, bool error_table) {
  if (error_table && !sum.sizes.errors.empty()) std::printf("%s", pipeline::error_table(sum.sizes, output, false).c_str());
  for (const auto& n : sum.notes) log::info(n);
  if (sum.kept_codes + sum.re_rounded > 0)
    log::info("from compressed-tensors: " + std::to_string(sum.kept_codes) +
              " quantized module(s) kept their codes and scales, " +
              std::to_string(sum.re_rounded) +
              " decoded and quantized again (Q4_0 keeps symmetric int4 group 32, Q4_1 asymmetric, Q8_0 "
              "symmetric int8 group 32)" +
              (sum.rounded_offsets ? "; " + std::to_string(sum.rounded_offsets) +
                                         " Q4_1 block offset(s) rounded to FP16"
                                   : std::string()));
  if (sum.calibrated > 0)
    log::info(std::to_string(sum.calibrated) + " Linear(s) quantized by GPTQ onto their GGUF type (the imatrix search's "
              "scales, levels re-picked with error feedback)");
  std::string types;
  for (const auto& [t, n] : sum.tensors_per_type) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + t;
  std::printf("tensor types: %s\n%s", types.c_str(), pipeline::summary_line(sum.sizes, output).c_str());
}

// The calibration samples of --calib (text, JSONL, chat, or self:N), as the quantize run reads them.
pipeline::CalibrationSet calibration_set(const QuantizeFlags& f, CLI::App& sub, const io::ModelDir& in,
                                         ProgressMode progress) {
  if (const int64_t n = pipeline::self_calibration_count(f.calib); n > 0) {
    if (sub.count("--samples") && f.samples != n)
      log::warn("--calib " + f.calib + " sets the number of samples; --samples " + std::to_string(f.samples) +
                " is ignored");
    log::info("calibration: the model writes " + std::to_string(n) + " samples of " + std::to_string(f.seq_len) +
              " tokens itself");
    pipeline::CalibrationSet set = pipeline::generate_calibration(in.path(), n, f.seq_len, f.seed, progress);
    log::info("calibration: " + set.description);
    return set;
  }
  const auto tok = tokenizer::Tokenizer::from_file(in.path() / "tokenizer.json");
  pipeline::CalibrationOptions co{f.calib, f.samples, f.seq_len, f.seed, in.path()};
  pipeline::CalibrationSet set =
      pipeline::load_calibration(co, tok, tokenizer::bos_to_add(in.path(), tok, tokenizer::BosMode::Auto));
  log::info("calibration: " + set.description);
  return set;
}

// `--method gptq --gguf-type TYPE`: GPTQ layer by layer onto each Linear's GGUF type (every type
// with per-block levels), written straight into the file; the other tensors as without a method.
int run_gguf_gptq(QuantizeFlags& f, CLI::App& sub) {
  if (f.calib.empty()) throw UserError("--method gptq needs calibration data: --calib FILE");
  if (!f.imatrix.empty()) throw UserError("--imatrix with --method gptq: GPTQ computes its own from --calib");
  if (f.resume || f.dry_run || !f.eval_text.empty())
    throw UserError("--resume, --dry-run and --eval do not combine with --method into GGUF");
  io::ModelDir in(f.model);
  const model::Architecture arch = model::architecture_from_config(in.config(), (in.path() / "config.json").string());
  pipeline::GgufExportOptions o = gguf_options(f);
  o.mix.has_imatrix = true;  // GPTQ's searches weigh by the calibration's E[x^2]
  // A bad request (types, tokenizer, an existing output) fails before the calibration.
  const std::map<std::string, GgmlType> targets = pipeline::gguf_gptq_targets(in, arch, o);
  exporter::GgufMetadataOptions mo;
  mo.pre_tokenizer = o.pre_tokenizer;
  exporter::gguf_metadata(in.path(), arch, in.config(), mo);
  if (std::filesystem::exists(f.output) && !f.overwrite)
    throw UserError(f.output + ": already exists (pass --overwrite to replace it)");
  if (targets.empty()) throw UserError("--method gptq: no Linear of this mix has a type GPTQ can quantize onto");
  algorithms::GptqOptions g;
  if (f.block_size) g.block_size = f.block_size;
  if (f.dampening_frac >= 0) g.dampening_frac = f.dampening_frac;
  if (f.actorder == "none") g.actorder = algorithms::GptqOptions::ActOrder::None;  // (the parser allows static/weight/none)
  const quant::Recipe recipe;  // no compressed-tensors scheme: every target is a ggml type
  const quant::Plan plan;  // (no module has a compressed-tensors choice)
  pipeline::SequentialCalibration calibrated(in, arch, recipe, plan, calibration_set(f, sub, in, o.progress), g,
                                             o.progress);
  calibrated.set_ggml_targets(targets, f.gptq_scales == "before" ? algorithms::GgmlScales::Before
                                                                 : algorithms::GgmlScales::During);
  o.calibrated = &calibrated;
  o.calibrated_types = targets;
  print_gguf_summary(pipeline::export_gguf(in, arch, o), f.output, !f.quiet_report);
  return 0;
}

// `--method awq|awq+gptq --gguf-type Q4_0|Q4_1|Q8_0`: the method writes a compressed-tensors
// checkpoint on the type's own grid (int4 symmetric / asymmetric / int8 symmetric, groups of 32)
// into a hidden sibling folder, whose codes then go into the GGUF blocks unchanged
// (pipeline/gguf_from_compressed.h); the folder is removed either way.
int run_gguf_calibrated(QuantizeFlags& f, CLI::App& sub) {
  const std::string ftype = f.gguf_type.empty() ? "Q4_K_M" : f.gguf_type;
  std::string scheme;
  std::string upper = ftype;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "Q4_0") scheme = "W4A16";
  else if (upper == "Q4_1") scheme = "W4A16_ASYM";
  else if (upper == "Q8_0") scheme = "W8A16";
  else
    throw UserError("--method " + f.method + " with --gguf-type " + ftype +
                    ": AWQ's codes go into GGUF where its grid is a compressed-tensors one: Q4_0 (int4 symmetric, "
                    "group 32), Q4_1 (asymmetric) or Q8_0; for the k-quants and IQ types use --method gptq or --calib "
                    "alone (an importance matrix)");
  if (f.calib.empty()) throw UserError("--method " + f.method + " needs calibration data: --calib FILE");
  if (!f.imatrix.empty()) throw UserError("--imatrix with --method " + f.method + ": the method uses --calib");
  if (f.resume || f.dry_run || !f.eval_text.empty())
    throw UserError("--resume, --dry-run and --eval do not combine with --method into GGUF");
  if (std::filesystem::exists(f.output) && !f.overwrite)
    throw UserError(f.output + ": already exists (pass --overwrite to replace it)");
  {  // A bad request (types, tokenizer) fails before the method runs.
    io::ModelDir in(f.model);
    const model::Architecture arch = model::architecture_from_config(in.config(), (in.path() / "config.json").string());
    pipeline::GgufExportOptions o;
    o.ftype = ftype;
    o.mix.ignore = f.ignore;
    pipeline::plan_gguf(in, arch, o);
    exporter::GgufMetadataOptions mo;
    mo.pre_tokenizer = f.gguf_pre;
    exporter::gguf_metadata(in.path(), arch, in.config(), mo);
  }
  const std::filesystem::path out(f.output);
  const std::filesystem::path ct = out.parent_path() / ("." + out.filename().string() + ".lowbit-codes");
  std::vector<std::string> q{"quantize", f.model, "-o", ct.string(), "--overwrite", "--scheme", scheme, "--group-size",
                             "32", "--method", f.method, "--calib", f.calib, "--seq-len", std::to_string(f.seq_len),
                             "--seed", std::to_string(f.seed), "--progress", f.progress, "--no-report"};
  if (sub.count("--samples")) q.insert(q.end(), {"--samples", std::to_string(f.samples)});
  if (f.threads > 0) q.insert(q.end(), {"--threads", std::to_string(f.threads)});
  // The output layer's type is the mix's (Q6_K/Q8_0 for these ftypes), from the original weights.
  q.insert(q.end(), {"--ignore", "lm_head"});
  for (const auto& i : f.ignore)
    if (i != "lm_head") q.insert(q.end(), {"--ignore", i});
  // A tensor given another type is quantized from the original weights: kept dense here.
  for (const auto& t : f.tensor_types) {
    const quant::GgufTypeOverride o = quant::parse_gguf_tensor_type(t);
    if (!o.lowbit_syntax())
      throw UserError("--tensor-type " + t + " with --method: name modules as --ignore does (\"re:.*down_proj\", "
                      "a module path, lm_head), so the method leaves them to the GGUF type");
    q.insert(q.end(), {"--ignore", o.pattern});
  }
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      std::filesystem::remove_all(dir.string() + ".lowbit-resume", ec);
    }
  } cleanup{ct};
  if (const int rc = run_lowbit(q).rc; rc != 0) return rc;
  QuantizeFlags g = f;
  g.model = ct.string();
  g.method.clear();
  g.calib.clear();
  return run_gguf(g, sub);
}

// `lowbit quantize MODEL -o FILE.gguf --gguf-type Q4_K_M`: the whole model as one GGUF file.
int run_gguf(QuantizeFlags& f, CLI::App& sub) {
  f.s.format.clear();
  if (f.s.any() || !f.recipe.empty() || sub.count("--targets"))
    throw UserError("--format gguf takes its types from --gguf-type (and --tensor-type); drop --scheme/--bits/"
                    "--group-size/--strategy/--observer/--recipe/--targets");
  if (f.method == "gptq") return run_gguf_gptq(f, sub);
  if (!f.method.empty() && f.method != "rtn") return run_gguf_calibrated(f, sub);
  if (!f.calib.empty() && !f.imatrix.empty())
    throw UserError("--calib computes an importance matrix and --imatrix reads one: give one of them");
  if (f.resume) throw UserError("--resume continues a calibrated run; a GGUF export is not one");
  if (!f.eval_text.empty()) throw UserError("--eval with --format gguf: run llama-perplexity on the file");
  io::ModelDir in(f.model);
  const model::Architecture arch = model::architecture_from_config(in.config(), (in.path() / "config.json").string());
  pipeline::GgufExportOptions o = gguf_options(f);
  io::Imatrix imatrix;
  if (!f.imatrix.empty()) {
    imatrix = io::read_imatrix(f.imatrix);
    o.imatrix_file = f.imatrix;
    o.imatrix = io::importance_vectors(imatrix);
  }
  o.mix.has_imatrix = !f.imatrix.empty() || !f.calib.empty();
  if (f.dry_run) {
    const quant::GgufMix mix = pipeline::plan_gguf(in, arch, o);
    std::printf("%s: %s as GGUF %s (general.file_type %u)\n", f.model.c_str(), arch.name.c_str(),
                std::string(mix.ftype.name).c_str(), unsigned(mix.ftype.id));
    for (const auto& t : mix.tensors) std::printf("%-40s %s\n", t.name.c_str(), std::string(ggml_traits(t.type).name).c_str());
    for (const auto& n : mix.notes) std::printf("note: %s\n", n.c_str());
    return 0;
  }
  if (!f.calib.empty()) {
    // A bad request (types, tokenizer) fails before the calibration pass.
    pipeline::plan_gguf(in, arch, o);
    exporter::GgufMetadataOptions mo;
    mo.pre_tokenizer = o.pre_tokenizer;
    exporter::gguf_metadata(in.path(), arch, in.config(), mo);
    if (std::filesystem::exists(f.output) && !f.overwrite)
      throw UserError(f.output + ": already exists (pass --overwrite to replace it)");
    ImatrixFlags im;
    im.calib = f.calib;
    if (sub.count("--samples")) im.samples = f.samples;  // else every chunk, as llama-imatrix
    if (sub.count("--seq-len")) im.seq_len = f.seq_len;  // else llama-imatrix's 512
    im.seed = f.seed;
    im.process_output = f.process_output;
    im.gguf_pre = o.pre_tokenizer;
    imatrix = compute_imatrix(in, arch, im, o.progress);
    o.imatrix_file = "lowbit --calib " + f.calib;  // no file: say where the matrix came from
    o.imatrix = io::importance_vectors(imatrix);
  }
  if (!o.imatrix.empty()) {
    o.imatrix_datasets = imatrix.datasets;
    o.imatrix_chunks = imatrix.chunk_count;
    log::info("importance matrix: " + std::to_string(o.imatrix.size()) + " entries, " +
              std::to_string(imatrix.chunk_count) + " chunks" +
              (imatrix.datasets.empty() ? "" : " of " + imatrix.datasets[0]));
  }
  print_gguf_summary(pipeline::export_gguf(in, arch, o), f.output, false);
  return 0;
}

quant::Recipe build_recipe(const QuantizeFlags& f, CLI::App& sub) {
  if (!f.recipe.empty()) {
    if (f.s.any() || sub.count("--targets"))
      throw UserError("--recipe already defines the scheme and targets; drop --scheme/--format/--bits/--group-size/"
                      "--strategy/--block/--symmetric/--asymmetric/--targets (--ignore adds to the recipe's ignore list)");
    quant::Recipe r = quant::parse_recipe_yaml(io::read_text_file(f.recipe), f.recipe);
    pipeline::check_runnable(r, !f.calib.empty(), f.recipe);
    for (const auto& i : f.ignore) r.ignore.push_back(i);
    return r;
  }
  quant::Recipe r;
  r.config_groups.emplace_back("group_0",
                               scheme_from_flags(f.s, f.targets.empty() ? std::vector<std::string>{"Linear"} : f.targets));
  r.ignore = f.ignore;
  return r;
}

int run(QuantizeFlags f, CLI::App& sub) {
  set_threads(f.threads);
  if (f.s.format == "gguf" || !f.gguf_type.empty()) return run_gguf(f, sub);
  if (!f.imatrix.empty() || f.process_output)
    throw UserError(std::string(!f.imatrix.empty() ? "--imatrix" : "--process-output") +
                    " is for GGUF output (--gguf-type); compressed-tensors schemes calibrate with --calib");
  if (f.method.find(',') != std::string::npos) {
    if (f.resume) throw UserError("--resume continues one method's run: run that method alone with --resume");
    if (f.dry_run) throw UserError("--dry-run takes one method");
    MethodComparison c{f.model, f.output, parse_method_list(f.method), f.eval_text, f.eval_chunks, f.overwrite,
                       f.threads, shared_quantize_args()};
    return compare_methods(c);
  }
  quant::Recipe recipe = build_recipe(f, sub);
  std::string method = !f.method.empty() ? f.method : recipe.modifier == "GPTQModifier" ? "gptq" : "rtn";
  if (f.method.empty() && !recipe.awq.is_null()) method = method == "gptq" ? "awq+gptq" : "awq";
  const bool use_awq = method == "awq" || method == "awq+gptq";
  const std::string final_method = method == "awq+gptq" ? "gptq" : method == "awq" ? "rtn" : method;
  if (use_awq) {
    if (recipe.awq.is_null()) recipe.awq = nlohmann::json::object();
    if (!f.duo_scaling.empty())
      recipe.awq["duo_scaling"] = f.duo_scaling == "both" ? nlohmann::json("both") : nlohmann::json(f.duo_scaling == "true");
    if (f.n_grid) recipe.awq["n_grid"] = f.n_grid;
  } else if (!recipe.awq.is_null()) {
    throw UserError("the recipe has an AWQModifier; --method " + method + " would drop it (use --method awq or awq+gptq)");
  } else if (!f.duo_scaling.empty() || f.n_grid || f.awq_search_tokens >= 0) {
    throw UserError("--duo-scaling, --n-grid and --awq-search-tokens are AWQ options: add --method awq");
  }
  bool weighted = false;  // an observer that weighs by activations (imatrix_mse)
  for (const auto& [name, s] : recipe.config_groups) weighted |= s.weights && s.weights->observer == "imatrix_mse";
  if (method == "rtn" && !f.calib.empty() && !weighted) {
    log::warn("--calib is not used: plain round-to-nearest needs no data (--method gptq/awq or --observer imatrix_mse "
              "use it)");
    f.calib.clear();
  }
  if (method == "rtn" && weighted && f.calib.empty())
    log::warn("imatrix_mse without --calib: every input channel weighs the same (as the mse observer)");
  if (method != "rtn" && f.calib.empty())
    throw UserError("--method " + method +
                    " needs calibration data: --calib FILE (plain text, or JSONL with \"text\" or chat \"messages\"), "
                    "or --calib self:N (the model writes N samples itself)");
  algorithms::GptqOptions gptq;
  std::optional<pipeline::AwqConfig> awq;
  if (use_awq) {
    awq = pipeline::awq_config(recipe, "AWQ");
    awq->options.search_tokens = f.awq_search_tokens >= 0 ? f.awq_search_tokens : kAwqSearchTokens;
  }
  if (final_method == "gptq") {
    if (f.block_size) recipe.modifier_args["block_size"] = f.block_size;
    if (f.dampening_frac >= 0) recipe.modifier_args["dampening_frac"] = f.dampening_frac;
    if (!f.actorder.empty()) {
      recipe.modifier_args["actorder"] = f.actorder == "none" ? nlohmann::json() : nlohmann::json(f.actorder);
      for (auto& [name, s] : recipe.config_groups)
        if (s.weights) s.weights->actorder = f.actorder == "none" ? std::nullopt : std::optional<std::string>(f.actorder);
    }
    gptq = pipeline::prepare_gptq_recipe(recipe, "--method " + method);
  }
  io::ModelDir in(f.model);
  model::Architecture arch = model::architecture_from_config(in.config(), (in.path() / "config.json").string());
  quant::Plan plan = quant::make_plan(arch, recipe);
  for (const auto& w : plan.warnings) log::warn(w);
  if (f.dry_run) {
    std::printf("%s: %s, %d of %zu Linear modules quantized\n%s", f.model.c_str(), arch.name.c_str(),
                plan.quantized_count(), plan.linears.size(), quant::to_text(plan, recipe).c_str());
    return 0;
  }
  pipeline::QuantizeOptions opts;
  opts.writer.output = f.output;
  opts.writer.overwrite = f.overwrite;
  opts.writer.max_shard_bytes = parse_size(f.max_shard);
  opts.progress = parse_progress_mode(f.progress);
  std::unique_ptr<pipeline::SequentialCalibration> calibrated;
  std::unique_ptr<pipeline::ResumeState> state;
  if (std::filesystem::exists(f.output) && !f.overwrite)  // before any work (AtomicDir checks again)
    throw UserError(f.output + ": already exists (pass --overwrite to replace it)");
  if (f.resume && f.calib.empty()) throw UserError("--resume continues a calibrated run: it needs --calib");
  if (!f.calib.empty()) {
    const int64_t self_n = pipeline::self_calibration_count(f.calib);
    const nlohmann::json source = self_n > 0 ? nlohmann::json{{"self", self_n}, {"seq_len", f.seq_len}, {"seed", f.seed}}
                                             : nlohmann::json{{"file", io::file_sha256(f.calib)},
                                                              {"samples", f.samples},
                                                              {"seq_len", f.seq_len},
                                                              {"seed", f.seed}};
    nlohmann::json job_source = source;
    if (awq) job_source["awq_search_tokens"] = awq->options.search_tokens;  // the search's choices depend on it
    const std::string method_name = use_awq ? (final_method == "gptq" ? "awq+gptq" : "awq") : final_method;
    state = std::make_unique<pipeline::ResumeState>(pipeline::resume_dir_for(f.output),
                                                    pipeline::resume_job(in, recipe, method_name, job_source), f.resume);
  }
  pipeline::QuantizeSummary sum;
  try {
    if (state) {
      pipeline::CalibrationSet set;
      if (state->has_calibration()) {
        set = state->load_calibration(opts.calibration);
        log::info("calibration: " + set.description + " (from the resume state)");
      } else {
        try {
          set = calibration_set(f, sub, in, opts.progress);
          opts.calibration = pipeline::self_calibration_count(f.calib) > 0
                                 ? nlohmann::json{{"generated", "self"}, {"temperature", 1.0}}
                                 : nlohmann::json{{"file", std::filesystem::path(f.calib).filename().string()},
                                                  {"sha256", set.sha256}};
          opts.calibration.update({{"samples", set.samples.size()}, {"tokens", set.tokens}, {"seq_len", f.seq_len},
                                   {"seed", f.seed}});
          if (awq) opts.calibration["awq_search_tokens"] = awq->options.search_tokens;
          state->save_calibration(set, opts.calibration);
        } catch (...) {
          state->remove();  // no calibration, nothing to resume
          throw;
        }
      }
      calibrated = std::make_unique<pipeline::SequentialCalibration>(
          in, arch, recipe, plan, std::move(set), gptq, opts.progress,
          final_method == "gptq" ? pipeline::SequentialCalibration::Method::Gptq
                                 : pipeline::SequentialCalibration::Method::Rtn,
          awq, state.get());
      opts.quantizer = calibrated.get();
    }
    sum = pipeline::quantize_checkpoint(in, arch, recipe, plan, opts);
  } catch (const UserError&) {
    if (!state || !std::filesystem::exists(state->dir())) throw;
    if (state->layers_done() == 0 && pipeline::self_calibration_count(f.calib) == 0)
      state->remove();  // nothing worth keeping: the data is read again in seconds
    else
      log::info("the finished layers (" + std::to_string(state->layers_done()) + ") are kept in " +
                state->dir().string() + ": run the same command with --resume to continue from there");
    throw;
  }
  if (state) state->remove();
  if (!f.quiet_report) std::printf("%s", pipeline::error_table(sum, f.output).c_str());
  std::printf("%s", pipeline::summary_line(sum, f.output).c_str());
  if (!f.eval_text.empty()) {
    std::vector<std::string> e{"eval", f.output, "--base", f.model, "--text", f.eval_text};
    if (f.eval_chunks > 0) e.insert(e.end(), {"--chunks", std::to_string(f.eval_chunks)});
    if (f.threads > 0) e.insert(e.end(), {"--threads", std::to_string(f.threads)});
    return run_lowbit(e).rc;
  }
  return 0;
}

}  // namespace

void register_quantize(CLI::App& app) {
  static QuantizeFlags f;
  CLI::App* sub = app.add_subcommand("quantize", "Quantize a Hugging Face checkpoint to compressed-tensors, or to a llama.cpp GGUF file");
  sub->add_option("model", f.model, "Model folder (config.json + *.safetensors)")->required();
  sub->add_option("-o,--output", f.output, "Output folder (written atomically)")->required();
  add_scheme_flags(sub, f.s);
  sub->add_option("--recipe", f.recipe, "llm-compressor recipe YAML (QuantizationModifier, GPTQModifier, AWQModifier)");
  sub->add_option("--method", f.method,
                  "rtn (data-free) | gptq | awq (AWQ scales, then round-to-nearest) | awq+gptq (the last three need "
                  "--calib); default: the recipe's modifiers, else rtn. A list (rtn,gptq,awq) writes one checkpoint "
                  "per method into the output folder and compares them (with --eval)")
      ->check([](const std::string& v) {
        try {
          parse_method_list(v);
        } catch (const UserError& e) {
          return std::string(e.what());
        }
        return std::string();
      });
  sub->add_option("--eval", f.eval_text,
                  "Then evaluate against the original on this text (PPL, KLD, same top token); with a method list, "
                  "one table");
  sub->add_option("--eval-chunks", f.eval_chunks, "With --eval: only the first N chunks of 512 tokens");
  sub->add_option("--calib", f.calib,
                  "Calibration data: plain text (cut into --seq-len windows), .jsonl with \"text\" or chat "
                  "\"messages\" (rendered by the model's chat template), or self:N (N samples the model writes "
                  "itself, temperature 1)");
  sub->add_option("--samples", f.samples, "Calibration samples")->capture_default_str();
  sub->add_option("--seq-len", f.seq_len, "Tokens per calibration sample (longer documents are truncated)")
      ->capture_default_str();
  sub->add_option("--seed", f.seed, "Seed for drawing the calibration samples")->capture_default_str();
  sub->add_option("--dampening-frac", f.dampening_frac, "GPTQ: fraction of mean(diag H) added to the diagonal (0.01)");
  sub->add_option("--block-size", f.block_size, "GPTQ: columns per lazy batch update (128)");
  sub->add_option("--actorder", f.actorder, "GPTQ: static (default: columns by decreasing activation; = weight) | none")
      ->check(CLI::IsMember({"static", "weight", "none"}));
  sub->add_option("--gptq-scales", f.gptq_scales,
                  "GPTQ into GGUF: each block's scales searched on the error-fed weight when the sweep first reaches "
                  "it (during; with --actorder none every block sees the feedback of the columns before it) or on the "
                  "original weight before the sweep (before: llama-quantize --imatrix's scales)")
      ->check(CLI::IsMember({"during", "before"}))
      ->capture_default_str();
  sub->add_option("--duo-scaling", f.duo_scaling,
                  "AWQ: scales from activations and weights (true, default) | activations only (false) | both")
      ->check(CLI::IsMember({"true", "false", "both"}));
  sub->add_option("--n-grid", f.n_grid, "AWQ: scale ratios tried per mapping (20)");
  sub->add_option("--awq-search-tokens", f.awq_search_tokens,
                  "AWQ: score the scale candidates of the attention and MLP blocks on about N tokens (whole samples "
                  "spread over the set; statistics still use every token); 0: every token, as llm-compressor (" +
                      std::to_string(kAwqSearchTokens) + ")")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--targets", f.targets, "Modules to quantize: class name, exact path or re:regex (default Linear)");
  sub->add_option("--ignore", f.ignore, "Modules to keep: class name, exact path or re:regex (repeatable)");
  sub->add_option("--gguf-type", f.gguf_type,
                  "GGUF output: llama-quantize's ftype (Q4_K_M, Q4_K_S, Q5_K_M, Q6_K, Q8_0, Q4_0, Q3_K_M, Q2_K, IQ4_XS, "
                  "F16, BF16 ...), with its per-tensor rules; implies --format gguf (default Q4_K_M)");
  sub->add_option("--tensor-type", f.tensor_types,
                  "GGUF: PATTERN=TYPE per tensor (repeatable): our targets syntax on HF module paths "
                  "('re:.*down_proj=q6_K', 'lm_head=q8_0') or llama-quantize's regex on GGUF names ('attn_v=q8_0')");
  sub->add_option("--output-tensor-type", f.output_tensor_type, "GGUF: type of output.weight (as llama-quantize)");
  sub->add_option("--token-embedding-type", f.token_embedding_type,
                  "GGUF: type of token_embd.weight (as llama-quantize)");
  sub->add_option("--imatrix", f.imatrix,
                  "GGUF: importance matrix from llama-imatrix or lowbit imatrix (GGUF or legacy .dat form), as "
                  "llama-quantize --imatrix; --calib FILE computes one instead");
  sub->add_flag("--process-output", f.process_output,
                "GGUF with --calib: also collect output.weight's importance (llama-imatrix --process-output)");
  sub->add_flag("--pure", f.pure, "GGUF: the ftype's type for every weight, no per-tensor rules (llama-quantize --pure)");
  sub->add_option("--gguf-pre", f.gguf_pre,
                  "GGUF: tokenizer.ggml.pre (llama-bpe, qwen2, smollm, ...); default: detected as llama.cpp's "
                  "converter detects it");
  sub->add_flag("--overwrite", f.overwrite, "Replace the output folder if it exists");
  sub->add_flag("--resume", f.resume,
                "Continue an interrupted calibrated run from its last finished layer (state in OUTPUT.lowbit-resume; "
                "same command otherwise)");
  sub->add_flag("--dry-run", f.dry_run, "Print which modules would be quantized and stop");
  sub->add_flag("--no-report", f.quiet_report,
                "Do not print the per-module error table (it is still written to quantization_report.json)");
  sub->add_option("--threads", f.threads, "Threads (default: all cores)");
  sub->add_option("--max-shard-size", f.max_shard, "Largest output shard, e.g. 5GB, 500MB")->capture_default_str();
  sub->add_option("--progress", f.progress, "auto | bar | lines | off")->capture_default_str();
  sub->footer(
      "Examples:\n"
      "  lowbit quantize ./Qwen2.5-7B-Instruct -o ./Qwen2.5-7B-Instruct-W4A16-G128 \\\n"
      "      --scheme W4A16 --ignore lm_head --ignore 're:model\\.layers\\.(0|1|26|27)\\..*'\n"
      "  lowbit quantize ./model -o ./out --recipe recipe.yaml\n"
      "  lowbit quantize ./model -o ./out --scheme W4A16 --method gptq --calib calib.txt --samples 128 --seq-len 2048 \\\n"
      "      --ignore lm_head\n"
      "  lowbit quantize ./model -o ./out --scheme W4A16 --method awq --calib calib.txt --ignore lm_head\n"
      "  lowbit quantize ./model -o ./out --scheme W4A16 --method gptq --calib chats.jsonl --ignore lm_head   # "
      "{\"messages\": [...]} lines\n"
      "  lowbit quantize ./model -o ./out --scheme W4A16 --method gptq --calib self:128 --seq-len 512   # no dataset\n"
      "  lowbit quantize ./model -o ./cmp --scheme W4A16 --method rtn,gptq,awq --calib calib.txt --eval wiki.test.raw \\\n"
      "      --ignore lm_head   # one checkpoint per method and one table\n"
      "  lowbit quantize ./model -o ./out --bits 4 --group-size 64 --asymmetric --ignore lm_head\n"
      "  lowbit quantize ./model -o ./out --scheme FP8_DYNAMIC --ignore lm_head\n"
      "  lowbit quantize ./model -o model-q4km.gguf --gguf-type Q4_K_M   # llama.cpp GGUF, llama-quantize's mix\n"
      "  lowbit quantize ./model -o m.gguf --gguf-type Q4_K_M --tensor-type 're:.*down_proj=q6_K' --ignore lm_head\n"
      "  lowbit quantize ./model -o m.gguf --gguf-type IQ4_XS --imatrix model.imatrix.gguf   # llama-imatrix's file\n"
      "  lowbit quantize ./model -o m.gguf --gguf-type Q4_K_M --calib wiki.train.raw --samples 100 --seq-len 512\n"
      "  lowbit quantize ./model -o ./out --format fp4 --group-size 16 --ignore lm_head   # = NVFP4A16\n"
      "Targets/ignore follow compressed-tensors: 're:' patterns use Python re.match (anchored at the start only).");
  register_runner("quantize", [sub] { return run(f, *sub); });
}

}  // namespace lowbit::cli
