// The several-checkpoints table from hand-made `lowbit eval --json` objects.
#include "eval/checkpoints_table.h"

#include <gtest/gtest.h>

using nlohmann::json;
using lowbit::eval::checkpoints_table;

namespace {

json run(const std::string& model, double ppl, double dppl, const char* verdict, double acc, double delta) {
  return json{{"model", model},
              {"ppl", ppl},
              {"base_ppl", 10.0},
              {"mean_kld", 0.0123},
              {"top1_agreement", 0.9},
              {"against_base", {{"dppl", {{"value", dppl}, {"se", 0.25}, {"verdict", verdict}}}}},
              {"benchmarks",
               {{"hellaswag",
                 {{"metrics", {{"acc_norm", {{"acc", acc}, {"base", {{"acc", 0.5}}}}}}},
                  {"against_base", {{"acc_norm", {{"delta", delta}, {"se", 0.02}, {"verdict", "same"}}}}}}}}},
              {"custom", {{"pass_rate", 0.75}, {"base_pass_rate", 1.0}, {"regressions", {"a", "b"}}}},
              {"gate", {{"holds", delta > -0.05}}}};
}

}  // namespace

TEST(CheckpointsTable, OneRowPerRunWithTheVerdictsAndTheBaseAbove) {
  const std::string t = checkpoints_table({run("./w4", 12.5, 2.5, "worse", 0.46, -0.04),
                                           run("./fp8", 10.01, 0.01, "same", 0.40, -0.10)});
  EXPECT_NE(t.find("base PPL 10.0000, base hellaswag acc_norm 50.00, base custom pass 100.0 %\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("+2.5000 +/- 0.25 worse"), std::string::npos) << t;
  EXPECT_NE(t.find("+0.0100 +/- 0.25 same"), std::string::npos) << t;
  EXPECT_NE(t.find("46.00 (-4.00 +/- 2.00 same)"), std::string::npos) << t;
  EXPECT_NE(t.find("75.0 %"), std::string::npos) << t;
  EXPECT_NE(t.find("holds"), std::string::npos) << t;
  EXPECT_NE(t.find("FAILS"), std::string::npos) << t;
  // Header, then the rows in order, columns aligned.
  const size_t h = t.find("model  "), a = t.find("./w4 "), b = t.find("./fp8");
  ASSERT_NE(h, std::string::npos) << t;
  EXPECT_LT(h, a);
  EXPECT_LT(a, b);
  const auto col = [&](size_t row_start, const std::string& cell) { return t.find(cell, row_start) - row_start; };
  const size_t header_line = t.rfind('\n', h) + 1, row_a = t.rfind('\n', a) + 1, row_b = t.rfind('\n', b) + 1;
  EXPECT_EQ(col(header_line, "PPL"), col(row_a, "12.5000"));
  EXPECT_EQ(col(row_a, "12.5000"), col(row_b, "10.0100"));
  EXPECT_EQ(checkpoints_table({}), "");
}

TEST(CheckpointsTable, OnlyTheColumnsTheRunsMeasured) {
  const std::string t = checkpoints_table({json{{"model", "m"}, {"ppl", 20.0}}});
  EXPECT_EQ(t, "model  PPL\nm      20.0000\n");
}
