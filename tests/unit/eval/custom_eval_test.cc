#include "eval/custom_eval.h"

#include <gtest/gtest.h>

#include <cmath>

#include "user_error.h"
#include "engine/generate.h"
#include "tiny_model_fixture.h"

using namespace lowbit;
using namespace lowbit::eval;

namespace {

using fixtures::error_of;

std::string parse_error(const std::string& text) {
  return error_of([&] { parse_custom_prompts(text, "evals.jsonl"); });
}
CustomPrompt one(const std::string& line) { return parse_custom_prompts(line, "f.jsonl").at(0); }

// An item as run_custom_eval leaves it, from hand-made answers.
CustomItem item(const CustomPrompt& p, std::vector<int32_t> model_tokens, std::optional<bool> pass,
                std::optional<std::vector<int32_t>> base_tokens = std::nullopt, std::optional<bool> base_pass = std::nullopt) {
  CustomItem it;
  it.prompt = &p;
  it.model.tokens = std::move(model_tokens);
  it.model.pass = pass;
  if (base_tokens) {
    it.base.emplace();
    it.base->tokens = *base_tokens;
    it.base->pass = base_pass;
  }
  return it;
}

const fixtures::LoadedTiny& tiny() {
  static const fixtures::LoadedTiny t = fixtures::load_tiny_model("custom-eval-model", 256);
  return t;
}

// Sum of log p(seq[p] | seq[0..p)) for p >= from, from one forward pass over the whole sequence.
double from_scratch(const engine::Transformer& net, const std::vector<int32_t>& seq, size_t from) {
  const int64_t V = net.arch().vocab;
  const std::vector<float> logits = net.forward(seq);
  double total = 0;
  for (size_t p = from; p < seq.size(); ++p) {
    const float* row = logits.data() + (p - 1) * size_t(V);
    double mx = row[0], sum = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
    for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
    total += double(row[seq[p]]) - mx - std::log(sum);
  }
  return total;
}

}  // namespace

TEST(CustomEvalParse, EveryKey) {
  const auto ps = parse_custom_prompts(
      "{\"prompt\": \"2+2=\"}\n"
      "\n"
      "{\"id\": \"capital\", \"prompt\": \"The capital of France is\", \"expected\": \"Paris\", \"contains\": \"Par\", "
      "\"regex\": \"P\\\\w+s\", \"max_tokens\": 8}\n"
      "{\"id\": 7, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"contains\": [\"a\", \"b\"]}\n"
      "{\"prompt\": \"Pick:\", \"choices\": [\" yes\", \" no\"], \"answer\": \" no\"}\n"
      "{\"prompt\": \"Pick:\", \"choices\": [\" yes\", \" no\"], \"answer\": 0, \"expected\": \"yes\"}\n",
      "f.jsonl");
  ASSERT_EQ(ps.size(), 5u);
  EXPECT_EQ(ps[0].id, "1");  // the line number
  EXPECT_EQ(ps[0].line, 1);
  EXPECT_EQ(ps[0].prompt, "2+2=");
  EXPECT_FALSE(ps[0].has_checks());
  EXPECT_TRUE(ps[0].generates());
  EXPECT_EQ(ps[0].max_tokens, kDefaultMaxTokens);
  EXPECT_EQ(ps[1].id, "capital");
  EXPECT_EQ(ps[1].line, 3);  // the blank line counts
  EXPECT_EQ(*ps[1].expected, "Paris");
  EXPECT_EQ(ps[1].contains, std::vector<std::string>{"Par"});
  EXPECT_EQ(*ps[1].regex, "P\\w+s");
  EXPECT_EQ(ps[1].max_tokens, 8);
  EXPECT_EQ(ps[1].check_descriptions(),
            (std::vector<std::string>{"expected \"Paris\"", "contains \"Par\"", "regex /P\\w+s/"}));
  EXPECT_EQ(ps[2].id, "7");
  EXPECT_TRUE(ps[2].is_chat());
  EXPECT_EQ(ps[2].messages[0]["content"], "Hi");
  EXPECT_EQ(ps[2].contains, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ps[3].answer, 1);  // by text
  EXPECT_FALSE(ps[3].generates());  // choices alone need no generation
  EXPECT_EQ(ps[3].check_descriptions(), std::vector<std::string>{"answer \" no\" of 2 choices"});
  EXPECT_EQ(ps[4].answer, 0);  // by index
  EXPECT_TRUE(ps[4].generates());
}

TEST(CustomEvalParse, EveryErrorNamesFileAndLine) {
  EXPECT_EQ(parse_error(""), "evals.jsonl: no prompts (one JSON object per line)");
  EXPECT_EQ(parse_error("\n  \n"), "evals.jsonl: no prompts (one JSON object per line)");
  EXPECT_NE(parse_error("{\"prompt\": \"a\"}\n{\"prompt\": \"a\"").find("evals.jsonl:2: not valid JSON"), std::string::npos);
  EXPECT_EQ(parse_error("[1]"), "evals.jsonl:1: expected a JSON object per line");
  EXPECT_NE(parse_error("{\"prompt\": \"a\", \"expect\": \"b\"}").find("evals.jsonl:1: unknown key \"expect\" (known: id,"),
            std::string::npos);
  EXPECT_EQ(parse_error("{\"id\": \"x\"}"), "evals.jsonl:1: needs \"prompt\" (text) or \"messages\" (a chat)");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"messages\": []}"), "evals.jsonl:1: has both \"prompt\" and \"messages\"; keep one");
  EXPECT_EQ(parse_error("{\"prompt\": 3}"), "evals.jsonl:1: \"prompt\" must be a string, not 3");
  EXPECT_EQ(parse_error("{\"prompt\": \"\"}"), "evals.jsonl:1: \"prompt\" is an empty string");
  EXPECT_EQ(parse_error("{\"messages\": []}"), "evals.jsonl:1: \"messages\" must be a non-empty list of messages");
  EXPECT_NE(parse_error("{\"messages\": [{\"content\": \"x\"}]}").find("must be an object with a \"role\" string"),
            std::string::npos);
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"id\": 1.5}"), "evals.jsonl:1: \"id\" must be a string, not 1.5");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"expected\": 4}"), "evals.jsonl:1: \"expected\" must be a string, not 4");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"contains\": []}"),
            "evals.jsonl:1: \"contains\" must be a string or a non-empty list of strings, not []");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"contains\": [\"x\", 2]}"), "evals.jsonl:1: \"contains\" must be a string, not 2");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"contains\": \"\"}"), "evals.jsonl:1: \"contains\" is an empty string");
  EXPECT_NE(parse_error("{\"prompt\": \"a\", \"regex\": \"(ab\"}").find("evals.jsonl:1: \"regex\" '(ab' at offset"),
            std::string::npos);
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\", \"y\"]}"), "evals.jsonl:1: \"choices\" and \"answer\" go together");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"answer\": 0}"), "evals.jsonl:1: \"choices\" and \"answer\" go together");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\"], \"answer\": 0}"),
            "evals.jsonl:1: \"choices\" must be a list of 2 or more strings");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\", \"\"], \"answer\": 0}"),
            "evals.jsonl:1: \"choices\" is an empty string");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": 2}"),
            "evals.jsonl:1: \"answer\" 2 is not an index of the 2 choices");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": \"z\"}"),
            "evals.jsonl:1: \"answer\" \"z\" is not one of the choices");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\", \"x\"], \"answer\": \"x\"}"),
            "evals.jsonl:1: \"answer\" \"x\" occurs more than once among the choices");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"choices\": [\"x\", \"y\"], \"answer\": true}"),
            "evals.jsonl:1: \"answer\" must be a choice's index or text, not true");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"max_tokens\": 0}"),
            "evals.jsonl:1: \"max_tokens\" must be an integer from 1 to 4096, not 0");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"max_tokens\": \"8\"}"),
            "evals.jsonl:1: \"max_tokens\" must be an integer from 1 to 4096, not \"8\"");
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"id\": \"q\"}\n{\"prompt\": \"b\", \"id\": \"q\"}"),
            "evals.jsonl:2: the id \"q\" is used by an earlier line");
  // A line number is an id too: an explicit "2" on line 1 clashes with line 2's default.
  EXPECT_EQ(parse_error("{\"prompt\": \"a\", \"id\": 2}\n{\"prompt\": \"b\"}"),
            "evals.jsonl:2: the id \"2\" is used by an earlier line");
}

TEST(CustomEvalChecks, EachKind) {
  EXPECT_EQ(strip(" \n\tParis.\r\n "), "Paris.");
  EXPECT_EQ(strip(" \n "), "");
  const CustomPrompt none = one("{\"prompt\": \"a\"}");
  EXPECT_EQ(check_output(none, "anything", -1), std::nullopt);

  const CustomPrompt exact = one("{\"prompt\": \"a\", \"expected\": \"Paris\"}");
  EXPECT_EQ(check_output(exact, "  Paris\n", -1), true);
  EXPECT_EQ(check_output(exact, "Paris.", -1), false);
  EXPECT_EQ(check_output(exact, "paris", -1), false);

  const CustomPrompt contains = one("{\"prompt\": \"a\", \"contains\": [\"red\", \"blue\"]}");
  EXPECT_EQ(check_output(contains, "blue and red", -1), true);
  EXPECT_EQ(check_output(contains, "red only", -1), false);

  const CustomPrompt re = one("{\"prompt\": \"a\", \"regex\": \"\\\\b\\\\d{4}\\\\b\"}");
  EXPECT_EQ(check_output(re, "It was 1969, I think", -1), true);  // search, not match
  EXPECT_EQ(check_output(re, "It was 19690", -1), false);
  EXPECT_EQ(check_output(re, std::string("19\xff" "69 1969"), -1), false);  // not UTF-8: no match, no throw

  const CustomPrompt mc = one("{\"prompt\": \"a\", \"choices\": [\"A\", \"B\", \"C\"], \"answer\": \"C\"}");
  EXPECT_EQ(check_output(mc, "C", 2), true);
  EXPECT_EQ(check_output(mc, "A", 0), false);

  // All checks must hold.
  const CustomPrompt all = one("{\"prompt\": \"a\", \"expected\": \"Paris 1969\", \"contains\": \"Paris\", \"regex\": "
                               "\"\\\\d+\", \"choices\": [\"x\", \"y\"], \"answer\": 1}");
  EXPECT_EQ(check_output(all, "Paris 1969", 1), true);
  EXPECT_EQ(check_output(all, "Paris 1969", 0), false);
  EXPECT_EQ(check_output(all, "Paris 1968", 1), false);
}

TEST(CustomEvalCompare, FirstDivergence) {
  EXPECT_EQ(first_divergence({1, 2, 3}, {1, 2, 3}), std::nullopt);
  EXPECT_EQ(first_divergence({1, 2, 3}, {1, 5, 3}), 1);
  EXPECT_EQ(first_divergence({7}, {8}), 0);
  EXPECT_EQ(first_divergence({1, 2}, {1, 2, 3}), 2);  // one stopped earlier
  EXPECT_EQ(first_divergence({}, {}), std::nullopt);
}

TEST(CustomEvalCompare, RegressionsFixesAndDrift) {
  const auto ps = parse_custom_prompts(
      "{\"id\": \"a\", \"prompt\": \"p\", \"contains\": \"x\"}\n"   // regression
      "{\"id\": \"b\", \"prompt\": \"p\", \"contains\": \"x\"}\n"   // fix
      "{\"id\": \"c\", \"prompt\": \"p\", \"contains\": \"x\"}\n"   // both pass, same output
      "{\"id\": \"d\", \"prompt\": \"p\"}\n"                        // no checks, diverges at 0
      "{\"id\": \"e\", \"prompt\": \"p\", \"choices\": [\"u\", \"v\"], \"answer\": 0}\n",  // both fail, other pick
      "f.jsonl");
  std::vector<CustomItem> items;
  items.push_back(item(ps[0], {1, 2, 3, 9}, false, std::vector<int32_t>{1, 2, 3, 4}, true));
  items.push_back(item(ps[1], {5, 6}, true, std::vector<int32_t>{5, 7}, false));
  items.push_back(item(ps[2], {1}, true, std::vector<int32_t>{1}, true));
  items.push_back(item(ps[3], {8, 8}, std::nullopt, std::vector<int32_t>{9, 8}, std::nullopt));
  items.push_back(item(ps[4], {}, false, std::vector<int32_t>{}, false));
  items[4].model.pick = 1, items[4].base->pick = 1;  // the same (wrong) pick: the same output
  // Log-probs of the base's continuation: gaps per token -0.25 (4 tokens), -0.5 (2), 0 (1), -1 (2).
  const double lp[][3] = {{-2, -1, 4}, {-3, -2, 2}, {-1, -1, 1}, {-6, -4, 2}};
  for (int i = 0; i < 4; ++i) items[size_t(i)].lp_model = lp[i][0], items[size_t(i)].lp_base = lp[i][1],
                              items[size_t(i)].continuation_tokens = int64_t(lp[i][2]);
  const CustomSummary s = summarize(items);
  EXPECT_EQ(s.prompts, 5u);
  EXPECT_EQ(s.checked, 4u);
  EXPECT_EQ(s.passed, 2u);
  EXPECT_DOUBLE_EQ(*s.pass_rate, 2.0 / 4);       // b, c
  EXPECT_DOUBLE_EQ(*s.base_pass_rate, 2.0 / 4);  // a, c
  EXPECT_EQ(s.regressions, std::vector<std::string>{"a"});
  EXPECT_EQ(s.fixes, std::vector<std::string>{"b"});
  EXPECT_DOUBLE_EQ(*s.same_output, 2.0 / 5);  // c, e
  EXPECT_EQ(s.diverged, 3u);                  // a at 3, b at 1, d at 0
  EXPECT_DOUBLE_EQ(*s.mean_first_divergence, (3 + 1 + 0) / 3.0);
  EXPECT_DOUBLE_EQ(*s.mean_logprob_gap, (-0.25 - 0.5 + 0 - 1) / 4);

  CustomReport r{"f.jsonl", true, items};
  const auto j = to_json(r);
  EXPECT_EQ(j["regressions"], nlohmann::json::array({"a"}));
  EXPECT_EQ(j["fixes"], nlohmann::json::array({"b"}));
  EXPECT_EQ(j["checked"], 4);
  EXPECT_EQ(j["items"][0]["first_divergence"], 3);
  EXPECT_EQ(j["items"][0]["base_continuation_logprob"]["model"], -2.0);
  EXPECT_EQ(j["items"][2]["first_divergence"], nullptr);
  EXPECT_EQ(j["items"][3]["pass"], nullptr);
  EXPECT_EQ(j["items"][4]["same_output"], true);
  EXPECT_EQ(j["items"][4]["first_divergence"], nullptr);  // choices only: no generation
  EXPECT_EQ(j["items"][4]["base_continuation_logprob"], nullptr);
  const std::vector<std::string> keys = {"file", "prompts", "checked", "pass_rate", "base_pass_rate", "regressions",
                                         "fixes", "same_output", "items"};
  EXPECT_EQ(j.size(), keys.size());
  for (const auto& k : keys) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["items"][0].size(), 10u);

  Measurements m;
  add_measurements(r, m);
  EXPECT_EQ(m.at("custom.regressions").value, 1);
  EXPECT_DOUBLE_EQ(m.at("custom.pass_rate").value, 0.5);
  EXPECT_DOUBLE_EQ(m.at("custom.same_output").value, 0.4);
  const std::string text = to_text(r);
  EXPECT_NE(text.find("regressions      1   fixes 1"), std::string::npos) << text;
  EXPECT_NE(text.find("  regression a (line 1)"), std::string::npos) << text;
}

TEST(CustomEvalCompare, WithoutBaseOrChecks) {
  const auto ps = parse_custom_prompts("{\"prompt\": \"p\"}\n", "f.jsonl");
  std::vector<CustomItem> items{item(ps[0], {1}, std::nullopt)};
  const CustomSummary s = summarize(items);
  EXPECT_EQ(s.checked, 0u);
  EXPECT_FALSE(s.pass_rate);
  EXPECT_FALSE(s.same_output);
  const auto j = to_json(CustomReport{"f.jsonl", false, items});
  EXPECT_EQ(j["pass_rate"], nullptr);
  EXPECT_EQ(j["same_output"], nullptr);
  EXPECT_EQ(j["items"][0]["base_output"], nullptr);
  Measurements m;
  add_measurements(CustomReport{"f.jsonl", false, items}, m);
  EXPECT_TRUE(m.empty());
}

TEST(CustomEvalGate, MetricsAndPlan) {
  auto g = parse_gate("custom.regressions==0,custom.pass_rate>=0.9,custom.same_output>=0.5");
  GatePlan p;
  p.custom = p.custom_checks = p.task_base = true;
  check_gate(g, p);
  EXPECT_EQ(g[0].metric, "custom.regressions");
  GatePlan no_base = p;
  no_base.task_base = false;
  EXPECT_NE(error_of([&] { auto c = parse_gate("custom.regressions==0"); check_gate(c, no_base); })
                .find("compares with the base model: give --base"),
            std::string::npos);
  auto pr = parse_gate("custom.pass_rate>=0.9");
  check_gate(pr, no_base);  // the pass rate needs no base
  GatePlan no_prompts;
  EXPECT_NE(error_of([&] { auto c = parse_gate("custom.pass_rate>=0.9"); check_gate(c, no_prompts); })
                .find("is measured on --prompts, which this run has not"),
            std::string::npos);
  GatePlan no_checks = p;
  no_checks.custom_checks = false;
  EXPECT_NE(error_of([&] { auto c = parse_gate("custom.pass_rate>=0.9"); check_gate(c, no_checks); })
                .find("no prompt of --prompts has a check"),
            std::string::npos);
  EXPECT_NE(error_of([&] { auto c = parse_gate("custom.regressions<=noise"); check_gate(c, p); })
                .find("has no noise verdict"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_gate("custom.regresions==0"); }).find("custom.regressions, custom.pass_rate"),
            std::string::npos);
  Measurements m{{"custom.regressions", {1, std::nullopt}}, {"custom.pass_rate", {0.95, std::nullopt}},
                 {"custom.same_output", {0.4, std::nullopt}}};
  const auto out = evaluate_gate(g, m);
  EXPECT_FALSE(out[0].holds);
  EXPECT_TRUE(out[1].holds);
  EXPECT_FALSE(out[2].holds);
}

TEST(CustomEvalRun, ChoicesAndContinuationsEqualAForwardPassFromScratch) {
  const auto& net = *tiny().m->net;
  const auto& tok = *tiny().tok;
  const CustomPrompt p = one("{\"prompt\": \"Question: which?\\nAnswer:\", \"choices\": [\" a dog\", \" a cat\", \" x\"], "
                             "\"answer\": 1, \"max_tokens\": 6}");
  const int32_t bos = 1;
  const PreparedPrompt pp = prepare_prompt(p, p.prompt, tok, bos);
  const std::vector<int32_t> prompt_ids = [&] {
    std::vector<int32_t> v{bos};
    for (int32_t t : tok.encode(p.prompt)) v.push_back(t);
    return v;
  }();
  EXPECT_EQ(pp.ids, prompt_ids);  // the BOS first for a plain prompt
  ASSERT_EQ(pp.choice_seqs.size(), 3u);
  const CustomAnswer a = answer_prompt(net, tok, p, pp, {2});
  ASSERT_EQ(a.choice_logprobs.size(), 3u);
  for (size_t c = 0; c < 3; ++c)
    EXPECT_NEAR(a.choice_logprobs[c], from_scratch(net, pp.choice_seqs[c], pp.ids.size()), 1e-4) << c;
  const int best = int(std::max_element(a.choice_logprobs.begin(), a.choice_logprobs.end()) - a.choice_logprobs.begin());
  EXPECT_EQ(a.pick, best);
  EXPECT_EQ(a.pass, best == 1);
  // Generation: greedy_generate's tokens (prompt has choices and max_tokens but no text check: not generated).
  EXPECT_FALSE(p.generates());
  EXPECT_TRUE(a.tokens.empty());
  EXPECT_EQ(a.output, p.choices[size_t(best)]);

  const CustomPrompt g = one("{\"prompt\": \"Once upon\", \"max_tokens\": 7, \"contains\": \"zzz\"}");
  const PreparedPrompt gp = prepare_prompt(g, g.prompt, tok, -1);
  const CustomAnswer ga = answer_prompt(net, tok, g, gp, {});
  EXPECT_EQ(ga.tokens, engine::greedy_generate(net, gp.ids, 7, {}));
  EXPECT_EQ(ga.tokens.size(), 7u);
  EXPECT_EQ(ga.output, tok.decode(ga.tokens));
  EXPECT_EQ(ga.pass, ga.output.find("zzz") != std::string::npos);
  std::vector<int32_t> whole = gp.ids;
  whole.insert(whole.end(), ga.tokens.begin(), ga.tokens.end());
  EXPECT_NEAR(continuation_logprob(net, gp.ids, ga.tokens), from_scratch(net, whole, gp.ids.size()), 1e-4);
  // A stop token ends the answer and stays out of its text.
  size_t k = ga.tokens.size() - 1;  // the last token whose value is new there (0 if none is)
  while (k > 0 && std::find(ga.tokens.begin(), ga.tokens.begin() + long(k), ga.tokens[k]) != ga.tokens.begin() + long(k)) --k;
  ASSERT_GT(k, 0u) << "the greedy answer repeats one token; pick another prompt";
  const CustomAnswer stopped = answer_prompt(net, tok, g, gp, {ga.tokens[k]});
  EXPECT_EQ(stopped.tokens, std::vector<int32_t>(ga.tokens.begin(), ga.tokens.begin() + long(k) + 1));
  EXPECT_EQ(stopped.output, tok.decode(std::vector<int32_t>(ga.tokens.begin(), ga.tokens.begin() + long(k))));
}
