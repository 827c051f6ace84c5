// tokenizers' normalizers, applied to each segment between added tokens: NFC, NFD, NFKC,
// NFKD (utf8proc), Prepend, Replace, and Sequence of them.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/regex.h"

namespace lowbit::tokenizer {

class Normalizer {
 public:
  // From tokenizer.json's "normalizer" (null: none). UserError naming `label` for unsupported kinds.
  static Normalizer from_json(const nlohmann::json& j, const std::string& label);
  std::string apply(const std::string& segment) const;

 private:
  struct Step {
    enum Kind { Nfc, Nfd, Nfkc, Nfkd, Prepend, Replace } kind;
    std::string text;                 // Prepend: the prefix; Replace: the replacement
    std::shared_ptr<const Regex> re;  // Replace: the pattern
  };
  static void parse(const nlohmann::json& j, std::vector<Step>& out, const std::string& label);
  std::vector<Step> steps_;
};

}  // namespace lowbit::tokenizer
