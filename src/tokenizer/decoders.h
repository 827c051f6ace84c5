// tokenizers' decoders: ids back to text. Byte-level tokenizers map GPT-2's byte alphabet
// back to bytes; SentencePiece-style ones run Replace, ByteFallback, Fuse, Strip and
// Metaspace steps (and Sequence of them).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lowbit::tokenizer {

class Decoder {
 public:
  // From tokenizer.json's "decoder" (null: tokens are concatenated). A kind it cannot run is
  // remembered, not refused: encoding works, decode() names it in its error.
  static Decoder from_json(const nlohmann::json& j, bool byte_level);
  std::string decode(std::vector<std::string> tokens) const;

 private:
  struct Step {
    enum Kind { Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
    std::string from, to;  // Replace; Metaspace: from = replacement
    int strip_start = 0, strip_stop = 0;
    bool metaspace_prepend = true;  // Metaspace: drop the first token's leading space
  };
  static std::string parse(const nlohmann::json& d, std::vector<Step>& out);  // the unsupported kind, or ""
  std::vector<Step> steps_;
  bool byte_level_ = false;
  std::string unsupported_;
};

}  // namespace lowbit::tokenizer
