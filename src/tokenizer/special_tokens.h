// The special-token rules a checkpoint declares, as transformers applies them: BOS from
// tokenizer_config.json (added when it says add_bos_token), EOS ids from
// generation_config.json, else config.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace lowbit::tokenizer {

enum class BosMode {
  Auto,  // the BOS id if tokenizer_config.json says add_bos_token, else none
  Yes,   // the BOS id (UserError if the tokenizer has none)
  No,
};
// "auto" | "yes" | "no"; UserError otherwise.
BosMode parse_bos_mode(const std::string& mode);

// The three files the rules read (null where absent): from a folder, or built in memory (a
// GGUF file's metadata).
struct TokenFiles {
  nlohmann::json tokenizer_config, config, generation_config;
  static TokenFiles from_dir(const std::filesystem::path& dir);
};

// The id to put before a text of the model in folder `dir`, or -1 for none.
int32_t bos_to_add(const std::filesystem::path& dir, const Tokenizer& tok, BosMode mode);
int32_t bos_to_add(const TokenFiles& files, const Tokenizer& tok, BosMode mode);

// The token a document starts with, added or not: tokenizer_config.json's bos_token, else
// config.json's bos_token_id; -1 when the model declares neither.
int32_t start_token(const std::filesystem::path& dir, const Tokenizer& tok);
int32_t start_token(const TokenFiles& files, const Tokenizer& tok);

// Token ids that end generation (may be empty).
std::vector<int32_t> eos_ids(const std::filesystem::path& dir);
std::vector<int32_t> eos_ids(const TokenFiles& files);

}  // namespace lowbit::tokenizer
