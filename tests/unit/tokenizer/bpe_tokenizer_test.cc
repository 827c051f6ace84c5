#include "tokenizer/bpe_tokenizer.h"

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
  EXPECT_THROW(Tokenizer::from_json_text(R"({"normalizer": {"type": "NFC"}, "model": {"type": "BPE", "vocab": {}, "merges": []}})", "t"),
               lowbit::UserError);
  auto t = Tokenizer::from_json_text(kJson, "test");
  EXPECT_THROW(t.encode("x"), lowbit::UserError);  // a byte the vocabulary lacks
}
