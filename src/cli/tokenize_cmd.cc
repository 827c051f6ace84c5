// `lowbit tokenize`: token ids of a text with a model's tokenizer.json, or of chat
// conversations rendered by the model's chat template (as apply_chat_template).
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "io/file_util.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::cli {

namespace {

void print_ids(const std::vector<int32_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? ",%d" : "%d", ids[i]);
  std::printf("\n");
}

// Each line of `file` through the chat template: its text (each followed by a newline) or
// its ids (one line per conversation; the template writes the BOS, none is added). Printed
// only when every line rendered, so a failure prints nothing but the error.
int run_chat(const std::filesystem::path& dir, const std::string& file, bool generation_prompt, bool print_text,
             const std::string& kwargs_json) {
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
  if (!kwargs_json.empty()) {
    kwargs = nlohmann::ordered_json::parse(kwargs_json, nullptr, false);
    if (!kwargs.is_object()) throw UserError("--chat-kwargs must be a JSON object, e.g. '{\"enable_thinking\": false}'");
  }
  auto tmpl = chat::ChatTemplate::from_model_dir(dir);
  if (!tmpl)
    throw UserError(dir.string() + ": the model has no chat template (no chat_template.jinja, no chat_template in "
                    "tokenizer_config.json)");
  std::optional<tokenizer::Tokenizer> tok;
  if (!print_text) tok = tokenizer::Tokenizer::from_file(dir / "tokenizer.json");
  std::istringstream in(io::read_text_file(file, size_t(1) << 30));
  std::string line, out;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file + ":" + std::to_string(n);
    const auto record = nlohmann::ordered_json::parse(line, nullptr, false);
    if (record.is_discarded()) throw UserError(where + ": not valid JSON");
    std::string text;
    try {
      text = chat::render_conversation(*tmpl, record, generation_prompt, kwargs);
    } catch (const UserError& e) {
      throw UserError(where + ": " + e.what());
    }
    if (print_text) {
      out += text;
    } else {
      const std::vector<int32_t> ids = tok->encode(text);
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(ids[i]);
      }
    }
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app) {
  static std::string model, text, file, out, chat_file, chat_kwargs;
  static bool generation_prompt = false, print_text = false;
  CLI::App* sub = app.add_subcommand("tokenize", "Token ids of a text (tokenizer.json BPE, as Hugging Face tokenizers)");
  sub->add_option("model", model, "Model folder or tokenizer.json")->required();
  sub->add_option("--text", text, "Text to encode");
  sub->add_option("--file", file, "Encode this file instead");
  sub->add_option("--chat", chat_file,
                  "JSONL of conversations ({\"messages\": [{\"role\", \"content\"}...]} per line): each is rendered "
                  "by the model's chat template and encoded, one line of ids per conversation");
  sub->add_flag("--add-generation-prompt", generation_prompt, "With --chat: end with the assistant turn's opening");
  sub->add_flag("--print-text", print_text, "With --chat: print the rendered text instead of ids");
  sub->add_option("--chat-kwargs", chat_kwargs,
                  "With --chat: more template variables as a JSON object, e.g. '{\"enable_thinking\": false}'");
  sub->add_option("-o,--output", out, "Write ids as raw little-endian int32 instead of printing them");
  sub->footer(
      "Examples:\n"
      "  lowbit tokenize ./SmolLM2-135M-Instruct --text 'The capital of France is'\n"
      "  echo '{\"messages\": [{\"role\": \"user\", \"content\": \"Hi!\"}]}' > chat.jsonl\n"
      "  lowbit tokenize ./SmolLM2-135M-Instruct --chat chat.jsonl --add-generation-prompt --print-text\n"
      "  lowbit tokenize ./SmolLM2-135M-Instruct --chat chat.jsonl      # the ids apply_chat_template gives");
  register_runner("tokenize", [] {
    std::filesystem::path p = model;
    if (!chat_file.empty()) {
      if (!text.empty() || !file.empty() || !out.empty()) throw UserError("--chat takes no --text, --file or --output");
      return run_chat(std::filesystem::is_directory(p) ? p : p.parent_path(), chat_file, generation_prompt,
                      print_text, chat_kwargs);
    }
    if (generation_prompt || print_text || !chat_kwargs.empty())
      throw UserError("--add-generation-prompt, --print-text and --chat-kwargs go with --chat");
    if (std::filesystem::is_directory(p)) p /= "tokenizer.json";
    auto tok = tokenizer::Tokenizer::from_file(p);
    if (text.empty() == file.empty()) throw UserError("give exactly one of --text, --file or --chat");
    std::string input = file.empty() ? text : io::read_text_file(file, 1u << 30);
    auto ids = tok.encode(input);
    if (!out.empty()) {
      io::FileWriter w(out);
      w.write(ids.data(), ids.size() * sizeof(int32_t));
      w.close();
      std::printf("wrote %s: %zu tokens\n", out.c_str(), ids.size());
      return 0;
    }
    print_ids(ids);
    return 0;
  });
}

}  // namespace lowbit::cli
