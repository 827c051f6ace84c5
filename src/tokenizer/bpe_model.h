// tokenizers' BPE model: the vocabulary, the merges by rank, unk / fuse_unk, byte_fallback
// to <0xXX> tokens and ignore_merges; merges a piece into ids as tokenizers'
// Word::merge_all does (lowest rank first, leftmost on ties, O(n log n)).
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lowbit::tokenizer {

class BpeModel {
 public:
  // From tokenizer.json's "model" plus its added tokens (they join the vocabulary), with ids
  // bounded by `max_id` (a hostile file cannot make us allocate billions of entries).
  static BpeModel from_json(const nlohmann::json& model, const std::string& label, int64_t max_id);

  // Appends the ids of one pre-tokenized piece.
  void encode(const std::string& piece, std::vector<int32_t>& out) const;
  void add_token(const std::string& content, int32_t id);  // an added token, by content and id
  int32_t token_id(const std::string& token) const;        // -1 if absent
  const std::string& token(int32_t id) const;              // UserError if out of range
  size_t vocab_size() const { return id_to_token_.size(); }

 private:
  std::vector<int32_t> merge_word(const std::string& piece) const;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  bool ignore_merges_ = false, byte_fallback_ = false, fuse_unk_ = false;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256] = {};  // "<0xXX>" tokens for byte_fallback (-1 if absent)
  // (left id, right id) -> (rank, merged id), as tokenizers' BPE keeps its merges.
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  struct Cache {  // ids of pieces seen before (encode runs from several threads)
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>> ids;
  };
  std::unique_ptr<Cache> cache_ = std::make_unique<Cache>();
};

}  // namespace lowbit::tokenizer
