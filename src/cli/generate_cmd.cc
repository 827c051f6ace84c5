// `lowbit generate`: greedy continuation of a prompt, a quick sanity check of a checkpoint.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/runner.h"
#include "cli/special_tokens.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "export/load_model.h"
#include "io/model_dir.h"
#include "engine/transformer.h"
#include "tokenizer/bpe_tokenizer.h"

namespace lowbit::cli {

void register_generate(CLI::App& app) {
  static std::string model_path, prompt, bos = "auto";
  static int n = 32, threads = 0;
  static bool ids_only = false, ignore_eos = false;
  CLI::App* sub = app.add_subcommand("generate", "Greedy continuation of a prompt (sanity check)");
  sub->add_option("model", model_path, "Model folder (dense or quantized)")->required();
  sub->add_option("--prompt", prompt, "Prompt text")->required();
  sub->add_option("-n", n, "Tokens to generate")->capture_default_str();
  sub->add_flag("--ids", ids_only, "Print the generated token ids instead of text");
  sub->add_option("--bos", bos, "auto (tokenizer_config add_bos_token) | yes | no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  sub->add_flag("--ignore-eos", ignore_eos, "Keep going past the end-of-sequence token (generation_config eos_token_id)");
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->footer("Example:\n  lowbit generate ./out-W4A16 --prompt \"The capital of France is\" -n 32");
  register_runner("generate", [] {
    set_threads(threads);
    if (n < 0) throw UserError("-n must be >= 0");
    auto m = exporter::load_model(model_path);
    const auto& arch = m->arch;
    auto tok = tokenizer::Tokenizer::from_file(m->dir->path() / "tokenizer.json");
    std::vector<int32_t> ids = tok.encode(prompt);
    if (const int32_t b = bos_to_add(m->dir->path(), tok, bos); b >= 0) ids.insert(ids.begin(), b);
    if (ids.empty()) throw UserError("the prompt encodes to no tokens");
    const std::vector<int32_t> eos = ignore_eos ? std::vector<int32_t>{} : eos_ids(m->dir->path());
    std::vector<int32_t> out;
    // The prompt runs once (only its last row through the head); then one token per step
    // against the KV cache.
    engine::KVCache cache;
    std::vector<int32_t> step = ids;
    for (int i = 0; i < n; ++i) {
      check_interrupted();
      auto logits = m->net->forward(step, int64_t(step.size()) - 1, cache);
      int32_t best = 0;
      for (int32_t v = 1; v < int32_t(arch.vocab); ++v)
        if (logits[size_t(v)] > logits[size_t(best)]) best = v;
      out.push_back(best);
      if (std::find(eos.begin(), eos.end(), best) != eos.end()) break;  // as transformers' generate stops
      step = {best};
    }
    if (ids_only) {
      for (size_t i = 0; i < out.size(); ++i) std::printf(i ? ",%d" : "%d", out[i]);
      std::printf("\n");
    } else {
      std::printf("%s%s\n", prompt.c_str(), tok.decode(out).c_str());
    }
    return 0;
  });
}

}  // namespace lowbit::cli
