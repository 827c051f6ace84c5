// `lowbit eval`: perplexity of a checkpoint on a text, and with --base the KL divergence,
// top-1 agreement and RMS delta-p against the original, as llama.cpp's perplexity tool.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "eval/perplexity.h"
#include "eval/report.h"
#include "export/load_model.h"
#include "io/file_util.h"
#include "io/model_dir.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace lowbit::cli {

namespace fs = std::filesystem;

void register_eval(CLI::App& app) {
  static std::string model_path, base_path, text_path, protocol = "llama.cpp", json_path, bos = "auto";
  static std::string save_logits, base_logits;
  static int64_t ctx = 512, chunks = -1;
  static int threads = 0;
  CLI::App* sub = app.add_subcommand("eval", "Perplexity, and KL divergence / top-1 agreement against a base model");
  sub->add_option("model", model_path, "Model folder (dense or quantized)")->required();
  sub->add_option("--text", text_path, "Evaluation text (e.g. WikiText-2 wiki.test.raw)")->required();
  sub->add_option("--base", base_path, "Original model to compare with (KLD, top-1, delta-PPL)");
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
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->footer(
      "Examples:\n"
      "  lowbit eval ./SmolLM2-135M-Instruct --text wiki.test.raw\n"
      "  lowbit eval ./out-W4A16 --base ./SmolLM2-135M-Instruct --text wiki.test.raw --ctx 512 --json report.json\n"
      "  lowbit eval ./SmolLM2-135M-Instruct --text wiki.test.raw --save-logits base.lp   # once\n"
      "  lowbit eval ./out-W4A16 --text wiki.test.raw --base-logits base.lp            # per recipe");
  register_runner("eval", [] {
    set_threads(threads);
    auto m = exporter::load_model(model_path);
    std::unique_ptr<exporter::LoadedModel> b;
    if (!base_path.empty()) {
      b = exporter::load_model(base_path);
      if (b->arch.vocab != m->arch.vocab) throw UserError("--base has a different vocabulary size");
    }
    // The model's tokenizer, or the base's when a quantized folder carries none.
    const fs::path tok_dir = fs::exists(m->dir->path() / "tokenizer.json") || !b ? m->dir->path() : b->dir->path();
    auto tok = tokenizer::Tokenizer::from_file(tok_dir / "tokenizer.json");
    const auto tokens = tok.encode(io::read_text_file(text_path, 1u << 30));
    eval::EvalOptions o;
    o.ctx = ctx;
    o.protocol = eval::parse_protocol(protocol);
    o.max_chunks = chunks;
    o.bos_id = tokenizer::bos_to_add(tok_dir, tok, tokenizer::parse_bos_mode(bos));
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
    rep.base = base_lp ? base_logits : base_path;
    rep.text_tokens = int64_t(tokens.size());
    rep.ctx = ctx;
    rep.protocol = o.protocol;
    rep.bos = o.bos_id >= 0;
    std::printf("%s", eval::to_text(rep).c_str());
    if (!json_path.empty()) io::write_text_file(json_path, eval::to_json(rep).dump(2) + "\n");
    return 0;
  });
}

}  // namespace lowbit::cli
