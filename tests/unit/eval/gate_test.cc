#include "eval/gate.h"

#include <gtest/gtest.h>

#include "user_error.h"

using namespace lowbit;
using namespace lowbit::eval;

namespace {
GatePlan full_plan() {
  GatePlan p;
  p.text = p.text_base = p.task_base = true;
  p.tasks["hellaswag"] = {"llama.cpp", "acc", "acc_norm"};
  p.tasks["winogrande"] = {"llama.cpp", "acc"};
  return p;
}
using fixtures::error_of;
}  // namespace

TEST(Gate, ParsesConditions) {
  auto g = parse_gate("kld<=0.02, ppl_ratio < 1.02 ,hellaswag.drop<=noise,top1>=0.9,winogrande.acc.acc>0.5,dppl==0");
  ASSERT_EQ(g.size(), 6u);
  EXPECT_EQ(g[0].metric, "kld");
  EXPECT_EQ(g[0].op, GateOp::Le);
  EXPECT_DOUBLE_EQ(g[0].bound, 0.02);
  EXPECT_FALSE(g[0].noise);
  EXPECT_EQ(g[1].metric, "ppl_ratio");
  EXPECT_EQ(g[1].op, GateOp::Lt);
  EXPECT_EQ(g[1].text, "ppl_ratio < 1.02");
  EXPECT_TRUE(g[2].noise);
  EXPECT_EQ(g[3].op, GateOp::Ge);
  EXPECT_EQ(g[4].op, GateOp::Gt);
  EXPECT_EQ(g[5].op, GateOp::Eq);

  check_gate(g, full_plan());
  EXPECT_EQ(g[2].metric, "hellaswag.llama.cpp.drop");  // the default protocol filled in
  EXPECT_EQ(g[4].metric, "winogrande.acc.acc");
  auto explicit_protocol = parse_gate("hellaswag.llama.cpp.acc>=0.3,hellaswag.acc_norm.drop<=noise");
  check_gate(explicit_protocol, full_plan());
  EXPECT_EQ(explicit_protocol[0].metric, "hellaswag.llama.cpp.acc");
  EXPECT_EQ(explicit_protocol[1].metric, "hellaswag.acc_norm.drop");
}

TEST(Gate, RefusesMalformedExpressions) {
  EXPECT_NE(error_of([] { parse_gate("kld"); }).find("no operator"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("kld<="); }).find("no bound"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("<=0.1"); }).find("no metric"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("kld=0.1"); }).find("'=' is not an operator"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("kld<=0.1x"); }).find("'0.1x' is neither a number nor 'noise'"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("kld<=0.1,,top1>=0.9"); }).find("an empty condition"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("kld<=0.1,"); }).find("an empty condition"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("kld<=nan"); }).find("neither a number"), std::string::npos);
}

TEST(Gate, UnknownMetricNamesTheKnownOnes) {
  const std::string e = error_of([] { parse_gate("kdl<=0.02"); });
  EXPECT_NE(e.find("unknown metric 'kdl'"), std::string::npos) << e;
  EXPECT_NE(e.find("known: ppl, base_ppl, dppl, ppl_ratio"), std::string::npos) << e;
  EXPECT_NE(e.find("<task>.drop"), std::string::npos) << e;
  EXPECT_NE(e.find("custom.regressions, custom.pass_rate, custom.same_output"), std::string::npos) << e;
  EXPECT_EQ(error_of([] { parse_gate("custom.regressions<=0"); }), "");  // --prompts' metrics are known
  EXPECT_NE(error_of([] { parse_gate("custom.regression<=0"); }).find("unknown metric 'custom.regression'"),
            std::string::npos);
}

TEST(Gate, RefusesWhatTheRunDoesNotMeasure) {
  auto check = [](const std::string& expr, const GatePlan& plan) {
    return error_of([&] {
      auto g = parse_gate(expr);
      check_gate(g, plan);
    });
  };
  GatePlan text_only;
  text_only.text = true;
  EXPECT_EQ(check("ppl<=30", text_only), "");
  EXPECT_NE(check("kld<=0.02", text_only).find("give --base"), std::string::npos);
  EXPECT_NE(check("hellaswag.acc>=0.3", text_only).find("task 'hellaswag' is not evaluated"), std::string::npos);
  GatePlan tasks_only = full_plan();
  tasks_only.text = false;
  EXPECT_NE(check("kld<=0.02", tasks_only).find("measured on --text"), std::string::npos);
  EXPECT_NE(check("winogrande.acc_norm.acc>=0.5", full_plan()).find("no protocol 'acc_norm'"), std::string::npos);
  GatePlan base_logits = full_plan();  // --base-logits: a base for the text only
  base_logits.task_base = false;
  EXPECT_EQ(check("kld<=0.02", base_logits), "");
  EXPECT_NE(check("hellaswag.drop<=0.01", base_logits).find("give --base"), std::string::npos);
  EXPECT_EQ(check("hellaswag.acc>=0.3", base_logits), "");
  EXPECT_NE(check("mmlu.acc>=0.5", full_plan()).find("task 'mmlu' is not evaluated"), std::string::npos);
  // noise: only on a metric with a verdict, in its direction.
  EXPECT_NE(check("kld_p99<=noise", full_plan()).find("has no noise verdict"), std::string::npos);
  EXPECT_NE(check("kld>=noise", full_plan()).find("'noise' goes with <="), std::string::npos);
  EXPECT_NE(check("hellaswag.acc<=noise", full_plan()).find("'noise' goes with >="), std::string::npos);
  EXPECT_EQ(check("hellaswag.acc>=noise,top1>=noise,dppl==noise", full_plan()), "");
}

TEST(Gate, EvaluatesValuesAndVerdicts) {
  auto g = parse_gate(
      "kld<=0.02,ppl_ratio<1.02,top1>=0.9,hellaswag.drop<=noise,dppl==noise,hellaswag.acc>0.3,ppl==12.5");
  check_gate(g, full_plan());
  Measurements m;
  m["kld"] = {0.03, Verdict::Worse};
  m["ppl_ratio"] = {1.01, Verdict::Worse};
  m["top1"] = {0.9, Verdict::Worse};
  m["hellaswag.llama.cpp.drop"] = {0.02, Verdict::Same};
  m["dppl"] = {0.5, Verdict::Better};
  m["hellaswag.llama.cpp.acc"] = {0.3, Verdict::Same};
  m["ppl"] = {12.5, std::nullopt};
  const auto out = evaluate_gate(g, m);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_FALSE(out[0].holds);  // 0.03 > 0.02
  EXPECT_DOUBLE_EQ(out[0].value, 0.03);
  EXPECT_TRUE(out[1].holds);
  EXPECT_TRUE(out[2].holds);   // >= includes equality
  EXPECT_TRUE(out[3].holds);   // same is not worse
  EXPECT_FALSE(out[4].holds);  // == noise needs same, better is not
  EXPECT_FALSE(out[5].holds);  // 0.3 is not > 0.3
  EXPECT_TRUE(out[6].holds);

  m["hellaswag.llama.cpp.drop"] = {0.08, Verdict::Worse};
  EXPECT_FALSE(evaluate_gate(g, m)[3].holds);
  m["dppl"] = {0.0, Verdict::Same};
  EXPECT_TRUE(evaluate_gate(g, m)[4].holds);
  m.erase("ppl");
  EXPECT_NE(error_of([&] { evaluate_gate(g, m); }).find("ppl was not measured"), std::string::npos);
}
