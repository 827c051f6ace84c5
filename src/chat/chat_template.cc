#include "chat/chat_template.h"

#include <algorithm>

#include "core/error.h"
#include "io/file_util.h"

namespace lowbit::chat {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

ojson read_json(const fs::path& p) {
  try {
    return ojson::parse(io::read_text_file(p));
  } catch (const ojson::exception& e) {
    throw UserError(p.string() + ": not valid JSON: " + e.what());
  }
}

// A token is a string or an AddedToken object {"content": ...}.
std::optional<std::string> token_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

const char* const kStandard[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                 "pad_token", "cls_token", "mask_token"};

bool is_standard(const std::string& key) {
  return std::find_if(std::begin(kStandard), std::end(kStandard), [&](const char* s) { return key == s; }) !=
         std::end(kStandard);
}

void set_var(Variables& vars, const std::string& name, Value v) {
  for (auto& [k, x] : vars)
    if (k == name) {
      x = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

}  // namespace

Variables special_token_variables(const fs::path& dir) {
  const fs::path cfg_path = dir / "tokenizer_config.json";
  ojson cfg = fs::exists(cfg_path) ? read_json(cfg_path) : ojson::object();
  if (!cfg.is_object()) throw UserError(cfg_path.string() + ": expected a JSON object");
  // The legacy special_tokens_map.json counts only without added_tokens_decoder, and then wins.
  const fs::path map_path = dir / "special_tokens_map.json";
  if (!cfg.contains("added_tokens_decoder") && fs::exists(map_path)) {
    const ojson m = read_json(map_path);
    if (m.is_object())
      for (const auto& [k, v] : m.items()) cfg[k] = v;
  }
  return special_token_variables(cfg);
}

Variables special_token_variables(const ojson& cfg) {
  Variables vars;
  if (!cfg.is_object()) return vars;
  for (const char* key : kStandard)
    if (cfg.contains(key))
      if (auto t = token_text(cfg[key])) set_var(vars, key, Value::string(*t));
  // Model-specific tokens: other *_token keys holding strings, and extra_special_tokens as a dict.
  for (const auto& [k, v] : cfg.items()) {
    if (!is_standard(k) && k.size() > 6 && k.compare(k.size() - 6, 6, "_token") == 0 && v.is_string())
      set_var(vars, k, Value::string(v.get<std::string>()));
  }
  if (cfg.contains("extra_special_tokens") && cfg["extra_special_tokens"].is_object())
    for (const auto& [k, v] : cfg["extra_special_tokens"].items())
      if (auto t = token_text(v)) set_var(vars, k, Value::string(*t));
  return vars;
}

ChatTemplate::ChatTemplate(std::string source, std::string label, Variables special_tokens)
    : special_(std::move(special_tokens)) {
  sources_["default"] = {std::move(source), std::move(label)};
  for (const auto& [k, v] : special_)
    if (k == "bos_token" && v.is_string()) bos_ = v.str();
}

std::optional<ChatTemplate> ChatTemplate::from_model_dir(const fs::path& dir) {
  ChatTemplate t;
  if (fs::exists(dir / "chat_template.jinja"))
    t.sources_["default"] = {io::read_text_file(dir / "chat_template.jinja"), (dir / "chat_template.jinja").string()};
  const fs::path extra = dir / "additional_chat_templates";
  if (fs::is_directory(extra))
    for (const auto& e : fs::directory_iterator(extra))
      if (e.path().extension() == ".jinja")
        t.sources_[e.path().stem().string()] = {io::read_text_file(e.path()), e.path().string()};
  const fs::path cfg_path = dir / "tokenizer_config.json";
  if (t.sources_.empty() && fs::exists(cfg_path)) t.add_config_templates(read_json(cfg_path), cfg_path.string());
  if (t.sources_.empty()) return std::nullopt;
  t.special_ = special_token_variables(dir);
  for (const auto& [k, v] : t.special_)
    if (k == "bos_token") t.bos_ = v.str();
  return t;
}

void ChatTemplate::add_config_templates(const ojson& cfg, const std::string& where) {
  const std::string label = where + " (chat_template";
  const ojson ct = cfg.is_object() && cfg.contains("chat_template") ? cfg["chat_template"] : ojson();
  if (ct.is_string()) {
    sources_["default"] = {ct.get<std::string>(), label + ")"};
  } else if (ct.is_array()) {
    for (const auto& e : ct) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
          !e["template"].is_string())
        throw UserError(where + ": chat_template list entries need string \"name\" and \"template\"");
      const std::string name = e["name"].get<std::string>();
      sources_[name] = {e["template"].get<std::string>(), label + " '" + name + "')"};
    }
  } else if (ct.is_object()) {
    for (const auto& [name, v] : ct.items()) {
      if (!v.is_string()) throw UserError(where + ": chat_template '" + name + "' is not a string");
      sources_[name] = {v.get<std::string>(), label + " '" + name + "')"};
    }
  } else if (!ct.is_null()) {
    throw UserError(where + ": chat_template must be a string or a list of {name, template}");
  }
}

std::optional<ChatTemplate> ChatTemplate::from_tokenizer_config(const ojson& cfg, const std::string& where) {
  ChatTemplate t;
  t.add_config_templates(cfg, where);
  if (t.sources_.empty()) return std::nullopt;
  t.special_ = special_token_variables(cfg);
  for (const auto& [k, v] : t.special_)
    if (k == "bos_token") t.bos_ = v.str();
  return t;
}

std::string ChatTemplate::label() const {
  std::string out;
  for (const auto& [name, s] : sources_) {
    if (!out.empty()) out += ", ";
    out += s.label;
  }
  return out;
}

const Template& ChatTemplate::pick(bool tools) const {
  std::string name;
  if (sources_.size() == 1) {
    name = sources_.begin()->first;
  } else if (tools && sources_.count("tool_use")) {
    name = "tool_use";
  } else if (sources_.count("default")) {
    name = "default";
  } else {
    std::string names;
    for (const auto& [n, s] : sources_) {
      if (!names.empty()) names += ", ";
      names += n;
    }
    throw UserError("the model has several chat templates (" + names + ") and none named \"default\"");
  }
  auto& cached = parsed_[name];
  if (!cached) cached = std::make_shared<const Template>(sources_.at(name).text, sources_.at(name).label);
  return *cached;
}

std::string ChatTemplate::render(const ojson& messages, bool add_generation_prompt, const ojson& tools,
                                 const ojson& extra) const {
  if (!messages.is_array()) throw UserError("\"messages\" must be a list of message objects");
  if (messages.empty()) throw UserError("cannot apply the chat template to an empty conversation");
  if (!tools.is_null() && !tools.is_array()) throw UserError("\"tools\" must be a list");
  if (!extra.is_object()) throw UserError("template keyword arguments must be a JSON object");
  // As apply_chat_template prepares them: null-valued keys dropped (templates handle a
  // missing key, not None), then reasoning under its standard names.
  std::vector<Value> msgs;
  for (const auto& m : messages) {
    if (!m.is_object()) throw UserError("chat messages must be objects, got " + m.dump());
    DictData d;
    for (const auto& [k, v] : m.items())
      if (!v.is_null()) d.items.emplace_back(Value::string(k), Value::from_json(v));
    std::optional<Value> reasoning;
    for (const char* key : {"reasoning_content", "thinking", "reasoning"})
      if (const Value* r = d.find(std::string(key)); r && !reasoning) reasoning = *r;
    if (reasoning) {
      DictData aliased;
      aliased.set(Value::string("thinking"), *reasoning);
      for (auto& kv : d.items) aliased.set(kv.first, kv.second);
      aliased.set(Value::string("reasoning_content"), *reasoning);
      d = std::move(aliased);
    }
    msgs.push_back(Value::dict(std::move(d)));
  }
  Variables vars = special_;
  for (const auto& [k, v] : extra.items()) set_var(vars, k, Value::from_json(v));
  set_var(vars, "messages", Value::list(std::move(msgs)));
  set_var(vars, "tools", Value::from_json(tools));
  set_var(vars, "documents", Value::none());
  set_var(vars, "add_generation_prompt", Value::boolean(add_generation_prompt));
  return pick(!tools.is_null()).render(vars);
}

std::string render_conversation(const ChatTemplate& t, const ojson& record, bool add_generation_prompt,
                                const ojson& extra) {
  if (record.is_array()) return t.render(record, add_generation_prompt, nullptr, extra);
  if (!record.is_object() || !record.contains("messages"))
    throw UserError("expected {\"messages\": [...]} or a list of messages");
  const ojson tools = record.contains("tools") ? record["tools"] : ojson();
  return t.render(record["messages"], add_generation_prompt, tools, extra);
}

}  // namespace lowbit::chat
