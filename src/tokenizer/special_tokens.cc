#include "tokenizer/special_tokens.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_util.h"

namespace lowbit::tokenizer {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
json read_json_or_null(const fs::path& p) {
  if (!fs::exists(p)) return json();
  json j = json::parse(io::read_text_file(p), nullptr, false);
  return j.is_object() ? j : json();
}

// The id of tokenizer_config.json's bos_token (a string or an AddedToken object), or -1.
int32_t bos_id(const json& cfg, const Tokenizer& tok) {
  if (!cfg.is_object() || !cfg.contains("bos_token")) return -1;
  const json& b = cfg["bos_token"];
  const std::string bos = b.is_string() ? b.get<std::string>() : b.is_object() ? b.value("content", "") : "";
  return bos.empty() ? -1 : tok.token_id(bos);
}
}  // namespace

BosMode parse_bos_mode(const std::string& mode) {
  if (mode == "auto") return BosMode::Auto;
  if (mode == "yes") return BosMode::Yes;
  if (mode == "no") return BosMode::No;
  throw UserError("--bos must be auto, yes or no (got '" + mode + "')");
}

TokenFiles TokenFiles::from_dir(const fs::path& dir) {
  return {read_json_or_null(dir / "tokenizer_config.json"), read_json_or_null(dir / "config.json"),
          read_json_or_null(dir / "generation_config.json")};
}

int32_t bos_to_add(const fs::path& dir, const Tokenizer& tok, BosMode mode) {
  return bos_to_add(TokenFiles::from_dir(dir), tok, mode);
}

int32_t bos_to_add(const TokenFiles& files, const Tokenizer& tok, BosMode mode) {
  if (mode == BosMode::No) return -1;
  const json& cfg = files.tokenizer_config;
  const bool add = cfg.is_object() && cfg.value("add_bos_token", false);
  if (mode == BosMode::Auto && !add) return -1;
  const int32_t id = bos_id(cfg, tok);
  if (id < 0) throw UserError("--bos: the tokenizer defines no BOS token");
  return id;
}

int32_t start_token(const fs::path& dir, const Tokenizer& tok) { return start_token(TokenFiles::from_dir(dir), tok); }

int32_t start_token(const TokenFiles& files, const Tokenizer& tok) {
  if (const int32_t id = bos_id(files.tokenizer_config, tok); id >= 0) return id;
  const json& model = files.config;
  if (model.contains("bos_token_id") && model["bos_token_id"].is_number_integer()) return model["bos_token_id"].get<int32_t>();
  return -1;
}

std::vector<int32_t> eos_ids(const fs::path& dir) { return eos_ids(TokenFiles::from_dir(dir)); }

std::vector<int32_t> eos_ids(const TokenFiles& files) {
  for (const json* c : {&files.generation_config, &files.config}) {
    const json& cfg = *c;
    if (!cfg.is_object() || !cfg.contains("eos_token_id")) continue;
    const json& e = cfg["eos_token_id"];
    std::vector<int32_t> ids;
    if (e.is_number_integer()) ids.push_back(e.get<int32_t>());
    if (e.is_array())
      for (const auto& x : e)
        if (x.is_number_integer()) ids.push_back(x.get<int32_t>());
    return ids;
  }
  return {};
}

}  // namespace lowbit::tokenizer
