// tokenizers' pre-tokenizers, which split a normalised segment into the pieces BPE merges
// within: ByteLevel (GPT-2's regex and byte alphabet), Split (any regex; Isolated or
// Removed), Digits, Metaspace (SentencePiece's "▁"), and Sequence of them.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/regex.h"

namespace lowbit::tokenizer {

class PreTokenizer {
 public:
  // From tokenizer.json's "pre_tokenizer" (null: the segment is one piece).
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& label);
  // `at_start`: the segment begins the text (Metaspace's prepend_scheme "first").
  std::vector<std::string> split(const std::string& segment, bool at_start) const;
  // Pieces are in GPT-2's byte alphabet (a ByteLevel step is present).
  bool byte_level() const { return byte_level_; }

 private:
  struct Step {
    enum Kind { ByteLevel, SplitIsolated, SplitRemoved, Digits, Metaspace } kind;
    std::shared_ptr<const Regex> re;
    bool add_prefix_space = false, use_regex = true;
    // Metaspace: spaces become `replacement`; prepend it always, never, or only to the text's
    // first piece; optionally split so that each replacement starts a new piece.
    std::string replacement;
    enum Prepend { Always, Never, First } prepend = Always;
    bool split = true;
  };
  static void parse(const nlohmann::json& j, PreTokenizer& out, const std::string& label);
  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace lowbit::tokenizer
