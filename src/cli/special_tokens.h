// The special-token rules a checkpoint declares, as transformers applies them: BOS from
// tokenizer_config.json (added when it says add_bos_token), EOS ids from
// generation_config.json, else config.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tokenizer/bpe_tokenizer.h"

namespace lowbit::cli {

// mode "auto": the BOS id if tokenizer_config.json says add_bos_token, else -1; "yes": the
// BOS id (UserError if the tokenizer has none); "no": -1.
int32_t bos_to_add(const std::filesystem::path& dir, const tokenizer::Tokenizer& tok, const std::string& mode);

// Token ids that end generation (may be empty).
std::vector<int32_t> eos_ids(const std::filesystem::path& dir);

}  // namespace lowbit::cli
