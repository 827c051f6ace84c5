// A tokenizer.json (Hugging Face `tokenizers`) tokenizer, split as that library splits it:
// added/special tokens, a normalizer, a pre-tokenizer, the BPE model and a decoder. Token
// ids equal the reference library's on the same text.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::tokenizer {

class Tokenizer {
 public:
  // Throws UserError for files it cannot read or features it does not support.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json_text(const std::string& text, const std::string& label);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Ids of `text` as tokenizers' encode(text, add_special_tokens=False) gives them.
  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  int32_t token_id(const std::string& token) const;  // -1 if absent
  size_t vocab_size() const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit::tokenizer
