#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include "core/error.h"

using namespace lowbit::tokenizer;

namespace {
// A hand-made byte-level BPE: merges "l o" (rank 0), "lo w" (1), "Ġ w" (2); "Ġ" is the
// byte-level form of a space.
const char* kJson = R"({
  "added_tokens": [{"id": 9, "content": "<|end|>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "model": {"type": "BPE", "vocab": {"l": 0, "o": 1, "w": 2, "Ġ": 3, "lo": 4, "low": 5, "Ġw": 6, "e": 7, "!": 8},
            "merges": ["l o", ["lo", "w"], "Ġ w"]}
})";
}  // namespace

TEST(BpeTokenizer, MergesByRankAndSplitsAddedTokens) {
  auto t = Tokenizer::from_json_text(kJson, "test");
  EXPECT_EQ(t.encode("low"), (std::vector<int32_t>{5}));
  EXPECT_EQ(t.encode("lowe"), (std::vector<int32_t>{5, 7}));
  // The GPT-2 regex keeps " w" together (" ?\p{L}+"), so it becomes "Ġw".
  EXPECT_EQ(t.encode("low we!"), (std::vector<int32_t>{5, 6, 7, 8}));
  EXPECT_EQ(t.encode("lo<|end|>w"), (std::vector<int32_t>{4, 9, 2}));
  EXPECT_EQ(t.decode({5, 6, 7, 8, 9}), "low we!<|end|>");
  EXPECT_EQ(t.token_id("Ġw"), 6);
  EXPECT_EQ(t.token_id("zzz"), -1);
}

TEST(BpeTokenizer, UnsupportedThingsAreClearErrors) {
  EXPECT_THROW(Tokenizer::from_json_text("{", "t"), lowbit::UserError);
  EXPECT_THROW(Tokenizer::from_json_text(R"({"model": {"type": "Unigram"}})", "t"), lowbit::UserError);
  EXPECT_THROW(Tokenizer::from_json_text(R"({"normalizer": {"type": "Lowercase"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})", "t"),
               lowbit::UserError);
  // A merge whose parts or result are not in the vocabulary (tokenizers refuses these too).
  EXPECT_THROW(Tokenizer::from_json_text(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})", "t"),
               lowbit::UserError);
  auto t = Tokenizer::from_json_text(kJson, "test");
  // Invalid UTF-8 (found by fuzz_tokenizer: the regex engine ran on it unchecked and crashed).
  EXPECT_THROW(t.encode(std::string("a\xfe\xff\xff\xff" "2 <|end|>c")), lowbit::UserError);
  EXPECT_THROW(t.encode(std::string("\xed\xa0\x80")), lowbit::UserError);  // a UTF-16 surrogate
  // Without an unk token, tokenizers drops a character the vocabulary lacks; so do we.
  EXPECT_EQ(t.encode("lxo"), (std::vector<int32_t>{4}));
}

namespace {
// SentencePiece-style (Llama-2): "\u2581" for spaces, prepended; byte fallback for unknown
// characters; unk fused; the decoder undoes all of it.
const char* kSpJson = R"({
  "added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}],
  "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                 {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
  "pre_tokenizer": null,
  "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
              {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
            "vocab": {"<unk>": 0, "<s>": 1, "<0xC3>": 2, "<0xA9>": 3, "\u2581": 4, "h": 5, "i": 6, "\u2581h": 7,
                      "\u2581hi": 8, "hi": 9},
            "merges": ["h i", "\u2581 h", "\u2581h i"]}
})";
}  // namespace

TEST(BpeTokenizer, SentencePieceStyleByteFallbackAndDecoder) {
  auto t = Tokenizer::from_json_text(kSpJson, "sp");
  // "hi hi": normalized to "\u2581hi\u2581hi"; merges by rank: "h i" (0) first, so the
  // pieces are "\u2581" + "hi" twice (not "\u2581hi", whose merges rank later).
  EXPECT_EQ(t.encode("hi hi"), (std::vector<int32_t>{4, 9, 4, 9}));
  // "\u00e9" is not in the vocabulary: its UTF-8 bytes C3 A9 are byte-fallback tokens
  // ("\u2581 h" then merges). Expected ids checked with tokenizers 0.23.3 on this same JSON.
  EXPECT_EQ(t.encode("h\u00e9"), (std::vector<int32_t>{7, 2, 3}));
  // "x" has no byte token either: <unk>, and two unknowns in a row fuse into one.
  EXPECT_EQ(t.encode("hxx"), (std::vector<int32_t>{7, 0}));
  EXPECT_EQ(t.decode({4, 9, 4, 9}), "hi hi");
  EXPECT_EQ(t.decode({7, 2, 3}), "h\u00e9");
  EXPECT_EQ(t.decode({4, 5, 3}), "h\ufffd");  // a lone continuation byte is not UTF-8
}

TEST(BpeTokenizer, NfcNormalizerComposes) {
  // "e" + combining acute (U+0301) composes to U+00E9 before the vocabulary lookup.
  auto t = Tokenizer::from_json_text(R"({"normalizer": {"type": "NFC"},
      "model": {"type": "BPE", "vocab": {"\u00e9": 0, "e": 1, "\u0301": 2}, "merges": []}})", "nfc");
  EXPECT_EQ(t.encode("e\u0301"), (std::vector<int32_t>{0}));
  EXPECT_EQ(t.encode("e"), (std::vector<int32_t>{1}));
}
