#include "eval/chunks.h"

#include <gtest/gtest.h>

#include "core/error.h"

using namespace lowbit;
using namespace lowbit::eval;

TEST(Chunks, LlamaCppProtocolPutsBosFirstAndScoresTheSecondHalf) {
  std::vector<int32_t> t(100);
  for (size_t i = 0; i < t.size(); ++i) t[i] = int32_t(i);
  const Chunks c = make_chunks(t, 32, Protocol::LlamaCpp, 7, -1);
  ASSERT_EQ(c.count(), 3);  // the 4 tokens after 96 do not fill a chunk
  EXPECT_EQ(c.first, 16);
  EXPECT_EQ(c.rows(), 15);
  EXPECT_EQ(c.tokens[1][0], 7);   // BOS replaces the first token
  EXPECT_EQ(c.tokens[1][1], 33);  // the rest as in the text
  EXPECT_EQ(c.tokens[2][31], 95);
  EXPECT_EQ(make_chunks(t, 32, Protocol::LlamaCpp, -1, -1).tokens[1][0], 32);  // no BOS: unchanged
}

TEST(Chunks, PaperProtocolScoresEveryPositionAndKeepsTheText) {
  std::vector<int32_t> t(64, 3);
  const Chunks c = make_chunks(t, 16, Protocol::Paper, 1, 2);
  EXPECT_EQ(c.count(), 2);  // limited
  EXPECT_EQ(c.first, 0);
  EXPECT_EQ(c.rows(), 15);
  EXPECT_EQ(c.tokens[0][0], 3);  // the paper protocol never substitutes BOS
}

TEST(Chunks, TooShortTextOrContextIsAUserError) {
  std::vector<int32_t> t(20, 1);
  EXPECT_THROW(make_chunks(t, 32, Protocol::LlamaCpp, -1, -1), UserError);
  EXPECT_THROW(make_chunks(t, 8, Protocol::LlamaCpp, -1, -1), UserError);
  EXPECT_THROW(parse_protocol("lm-eval"), UserError);
  EXPECT_EQ(parse_protocol(to_string(Protocol::Paper)), Protocol::Paper);
}
