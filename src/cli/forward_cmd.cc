// `lowbit forward`: run a checkpoint (original or quantized) on token ids and write the
// logits, for checking our engine against other runtimes.
#include <cstdio>
#include <sstream>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "export/load_model.h"
#include "io/file_util.h"
#include "io/model_dir.h"
#include "engine/transformer.h"

namespace lowbit::cli {

void register_forward(CLI::App& app) {
  static std::string model_dir, tokens_text, out;
  static int threads = 0;
  CLI::App* sub = app.add_subcommand("forward", "Run a checkpoint on token ids; print the top tokens or write logits");
  sub->add_option("model", model_dir, "Model folder (dense or compressed-tensors) or .gguf file")->required();
  sub->add_option("--tokens", tokens_text, "Comma-separated token ids (one causal sequence)")->required();
  sub->add_option("-o,--output", out, "Write logits here as raw little-endian float32 [tokens, vocab]");
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->footer("Example:\n  lowbit forward ./SmolLM2-135M-Instruct --tokens 1,504,3458 -o logits.f32");
  register_runner("forward", [] {
    set_threads(threads);
    std::vector<int32_t> ids;
    std::stringstream ss(tokens_text);
    std::string item;
    while (std::getline(ss, item, ',')) {
      try {
        ids.push_back(std::stoi(item));
      } catch (const std::exception&) {
        throw UserError("--tokens: '" + item + "' is not an integer");
      }
    }
    if (ids.empty()) throw UserError("--tokens is empty");
    auto m = exporter::load_model(model_dir);
    const auto& arch = m->arch;
    auto logits = m->net->forward(ids);
    if (!out.empty()) {
      io::FileWriter w(out);
      w.write(logits.data(), logits.size() * sizeof(float));
      w.close();
      std::printf("wrote %s: %zu x %ld float32 logits\n", out.c_str(), ids.size(), long(arch.vocab));
      return 0;
    }
    for (size_t t = 0; t < ids.size(); ++t) {
      const float* row = logits.data() + t * size_t(arch.vocab);
      int64_t best = 0;
      for (int64_t v = 1; v < arch.vocab; ++v)
        if (row[v] > row[best]) best = v;
      std::printf("position %zu: token %d -> argmax %ld (logit %.4f)\n", t, ids[t], long(best), row[best]);
    }
    return 0;
  });
}

}  // namespace lowbit::cli
