// `lowbit tokenize`: token ids of a text with a model's tokenizer.json.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "io/file_util.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::cli {

void register_tokenize(CLI::App& app) {
  static std::string model, text, file, out;
  CLI::App* sub = app.add_subcommand("tokenize", "Token ids of a text (tokenizer.json BPE, as Hugging Face tokenizers)");
  sub->add_option("model", model, "Model folder or tokenizer.json")->required();
  sub->add_option("--text", text, "Text to encode");
  sub->add_option("--file", file, "Encode this file instead");
  sub->add_option("-o,--output", out, "Write ids as raw little-endian int32 instead of printing them");
  sub->footer("Example:\n  lowbit tokenize ./SmolLM2-135M-Instruct --text 'The capital of France is'");
  register_runner("tokenize", [] {
    std::filesystem::path p = model;
    if (std::filesystem::is_directory(p)) p /= "tokenizer.json";
    auto tok = tokenizer::Tokenizer::from_file(p);
    if (text.empty() == file.empty()) throw UserError("give exactly one of --text or --file");
    std::string input = file.empty() ? text : io::read_text_file(file, 1u << 30);
    auto ids = tok.encode(input);
    if (!out.empty()) {
      io::FileWriter w(out);
      w.write(ids.data(), ids.size() * sizeof(int32_t));
      w.close();
      std::printf("wrote %s: %zu tokens\n", out.c_str(), ids.size());
      return 0;
    }
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? ",%d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
  });
}

}  // namespace lowbit::cli
