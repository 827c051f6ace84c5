// `lowbit generate`: greedy continuation of a prompt, a quick sanity check of a checkpoint.
#include <cstdio>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "engine/generate.h"
#include "export/load_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace lowbit::cli {

void register_generate(CLI::App& app) {
  static std::string model_path, prompt, bos = "auto";
  static int n = 32, threads = 0;
  static bool ids_only = false, ignore_eos = false;
  CLI::App* sub = app.add_subcommand("generate", "Greedy continuation of a prompt (sanity check)");
  sub->add_option("model", model_path, "Model folder (dense or quantized) or .gguf file")->required();
  sub->add_option("--prompt", prompt, "Prompt text")->required();
  sub->add_option("-n", n, "Tokens to generate")->capture_default_str();
  sub->add_flag("--ids", ids_only, "Print the generated token ids instead of text");
  sub->add_option("--bos", bos, "auto (tokenizer_config add_bos_token) | yes | no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  sub->add_flag("--ignore-eos", ignore_eos, "Keep going past the end-of-sequence token (generation_config eos_token_id)");
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->footer("Examples:\n  lowbit generate ./out-W4A16 --prompt \"The capital of France is\" -n 32\n"
              "  lowbit generate model-Q4_K_M.gguf --prompt \"The capital of France is\"");
  register_runner("generate", [] {
    set_threads(threads);
    if (n < 0) throw UserError("-n must be >= 0");
    auto m = exporter::load_model(model_path);
    const auto files = m->token_files();
    auto tok = m->tokenizer();
    std::vector<int32_t> ids = tok.encode(prompt);
    if (const int32_t b = tokenizer::bos_to_add(files, tok, tokenizer::parse_bos_mode(bos)); b >= 0)
      ids.insert(ids.begin(), b);
    const auto stop = ignore_eos ? std::vector<int32_t>{} : tokenizer::eos_ids(files);
    const auto out = engine::greedy_generate(*m->net, ids, n, stop);
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
