// A model folder's chat template, found and called as transformers' tokenizer does:
// chat_template.jinja (and additional_chat_templates/*.jinja) take priority over
// tokenizer_config.json's chat_template (a string, or a list of {name, template});
// among several, "tool_use" when tools are given, else "default". The template sees
// messages (keys whose value is null dropped, reasoning fields aliased), tools,
// documents (none), add_generation_prompt, the special tokens (bos_token, eos_token, ...
// as strings) and any extra keyword arguments.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chat/template.h"

namespace lowbit::chat {

class ChatTemplate {
 public:
  // nullopt if the folder declares no chat template; UserError for unreadable files.
  static std::optional<ChatTemplate> from_model_dir(const std::filesystem::path& dir);
  // From a tokenizer_config.json object (e.g. one rebuilt from GGUF metadata); `where` names it in
  // messages. nullopt if it has no chat_template.
  static std::optional<ChatTemplate> from_tokenizer_config(const nlohmann::ordered_json& cfg,
                                                           const std::string& where);
  // One template (named "default") with the given special-token variables.
  ChatTemplate(std::string source, std::string label, Variables special_tokens);

  // `messages`: a non-empty JSON array of message objects; `tools`: null or an array;
  // `extra`: an object of further template variables (e.g. {"enable_thinking": false}).
  // UserError for bad input or when the template fails or raises.
  std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                     const nlohmann::ordered_json& tools = nullptr,
                     const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& bos_token() const { return bos_; }  // "" if the model names none
  std::string label() const;                             // where the template(s) came from

 private:
  ChatTemplate() = default;
  const Template& pick(bool tools) const;
  void add_config_templates(const nlohmann::ordered_json& cfg, const std::string& where);
  struct Source {
    std::string text, label;
  };
  std::map<std::string, Source> sources_;  // name -> template
  mutable std::map<std::string, std::shared_ptr<const Template>> parsed_;  // parsed on first use
  Variables special_;
  std::string bos_;
};

// One conversation of a chat JSONL file: {"messages": [...], "tools": [...] (optional)}, or
// a bare list of messages. UserError if it is neither.
std::string render_conversation(const ChatTemplate& t, const nlohmann::ordered_json& record,
                                bool add_generation_prompt,
                                const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

// The special tokens transformers passes to templates, from tokenizer_config.json (and a
// legacy special_tokens_map.json): bos_token, eos_token, unk_token, sep_token, pad_token,
// cls_token, mask_token, model-specific *_token strings and extra_special_tokens entries.
Variables special_token_variables(const std::filesystem::path& dir);
// The same from a tokenizer_config object already read (no special_tokens_map.json).
Variables special_token_variables(const nlohmann::ordered_json& tokenizer_config);

}  // namespace lowbit::chat
