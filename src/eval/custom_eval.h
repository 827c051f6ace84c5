// Custom evals (`lowbit eval --prompts FILE.jsonl`): the product's own prompts, each with optional
// checks, answered by greedy generation (with the KV cache) or, for `choices`, by log-likelihood.
// Against a base model: per prompt, the same output or not, the first diverging token, the base's
// greedy continuation's log-prob under both models, and the regressions (pass on the base, fail
// here) and fixes. The file format and the numbers are described in docs/eval.md.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/transformer.h"
#include "eval/gate.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::eval {

constexpr int kDefaultMaxTokens = 64;

// One line of the prompt file.
struct CustomPrompt {
  std::string id;                 // "id", else the line number
  int64_t line = 0;               // 1-based line in the file
  std::string prompt;             // "prompt" (plain text); empty when `messages` is given
  nlohmann::ordered_json messages;  // "messages" (chat), null when `prompt` is given
  std::optional<std::string> expected;  // exact match of the stripped output
  std::vector<std::string> contains;    // every string occurs in the output
  std::optional<std::string> regex;     // searched in the output (PCRE2, Python-like syntax)
  std::vector<std::string> choices;     // scored by log-likelihood after the prompt
  int answer = -1;                      // index into choices
  int max_tokens = kDefaultMaxTokens;

  bool is_chat() const { return !messages.is_null(); }
  bool has_checks() const { return expected || !contains.empty() || regex || !choices.empty(); }
  // Generation happens unless the prompt only has choices (their argmax needs no generated text).
  bool generates() const { return choices.empty() || expected || !contains.empty() || regex; }
  // One line per check, for reports: `expected "Paris"`, `contains "x"`, `regex /\d+/`, `answer "B" of 3 choices`.
  std::vector<std::string> check_descriptions() const;
};

// The prompts of a JSONL file's text (`label` names the file in errors). Keys: prompt | messages
// (exactly one), id, expected, contains (string or list), regex, choices + answer (both or
// neither; answer an index or one of the choices), max_tokens (1..4096). Unknown keys, wrong
// types, a bad regex, duplicate ids or an empty file: UserError "<label>:<line>: ...".
std::vector<CustomPrompt> parse_custom_prompts(const std::string& text, const std::string& label);
std::vector<CustomPrompt> read_custom_prompts(const std::string& path);

// The output's text with ASCII whitespace stripped at both ends (Python's str.strip() on ASCII).
std::string strip(const std::string& s);
// Whether every check holds: `output` the generated text, `pick` the likeliest choice (-1 when the
// prompt has none). nullopt for a prompt without checks.
std::optional<bool> check_output(const CustomPrompt& p, const std::string& output, int pick);

// What one model did with one prompt.
struct CustomAnswer {
  std::vector<int32_t> tokens;  // greedy tokens (a final stop token included); empty without generation
  std::string output;           // the tokens' text (the stop token left out), or the picked choice
  std::vector<double> choice_logprobs;  // sum of each choice's token log-probs
  int pick = -1;                        // argmax of choice_logprobs (-1 without choices)
  std::optional<bool> pass;
};

// A prompt's results on the model and, with a base, on the base.
struct CustomItem {
  const CustomPrompt* prompt = nullptr;
  std::string prompt_text;  // what the model saw (the chat template's rendering for messages)
  CustomAnswer model;
  std::optional<CustomAnswer> base;
  // The base's greedy continuation, teacher-forced: sum of its token log-probs under each model.
  std::optional<double> lp_model, lp_base;
  int64_t continuation_tokens = 0;  // tokens of that continuation
};

// The first index where the token lists differ (the shorter length when one is a prefix of the
// other); nullopt when they are equal.
std::optional<int64_t> first_divergence(const std::vector<int32_t>& a, const std::vector<int32_t>& b);
// Same output: the same tokens when generated, else the same pick.
bool same_output(const CustomItem& item);

struct CustomSummary {
  size_t prompts = 0, checked = 0, passed = 0;  // passed: of the checked, on this model
  std::optional<double> pass_rate, base_pass_rate;
  std::vector<std::string> regressions, fixes;  // ids, in file order
  // Drift against the base (nullopt without one, or without generating prompts).
  std::optional<double> same_output;            // fraction of prompts with the same output
  std::optional<double> mean_first_divergence;  // over generated prompts whose outputs differ
  std::optional<double> mean_logprob_gap;       // mean over generated prompts of (lp_model - lp_base) / tokens
  size_t diverged = 0;                          // generated prompts whose outputs differ
};
CustomSummary summarize(const std::vector<CustomItem>& items);

// A prompt ready to run: its token ids and, for choices, each choice's full sequence.
struct PreparedPrompt {
  std::vector<int32_t> ids;
  std::vector<std::vector<int32_t>> choice_seqs;  // prompt text + choice, tokenized together
  int64_t context_tokens = 0;  // the choices are scored from here (lm-eval: len(encode(context)))
};
// Chat prompts are rendered by `render` (the model's chat template with the generation prompt);
// their text is tokenized as is (the template writes any BOS), plain prompts get `bos` (>= 0) first.
using ChatRenderer = std::function<std::string(const nlohmann::ordered_json& messages)>;
std::string prompt_text(const CustomPrompt& p, const ChatRenderer& render);
PreparedPrompt prepare_prompt(const CustomPrompt& p, const std::string& text, const tokenizer::Tokenizer& tok,
                              int32_t bos);

// One model's answer: greedy generation up to max_tokens (stopping at a stop id) and the choices'
// log-likelihoods.
CustomAnswer answer_prompt(const engine::Transformer& net, const tokenizer::Tokenizer& tok, const CustomPrompt& p,
                           const PreparedPrompt& pp, const std::vector<int32_t>& stop_ids);
// Sum of log p(continuation[i] | prompt, continuation[0..i)) under `net`, teacher-forced.
double continuation_logprob(const engine::Transformer& net, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& continuation);

struct CustomReport {
  std::string file;
  bool has_base = false;
  std::vector<CustomItem> items;
};
std::string to_text(const CustomReport& r);
// Every prompt on the model and, when `base` is not null, on the base (texts[i]: prompt i as the
// model sees it, from prompt_text), with progress (rate, ETA) on stderr.
CustomReport run_custom_eval(const std::string& file, const std::vector<CustomPrompt>& prompts,
                             const std::vector<std::string>& texts, const engine::Transformer& model,
                             const engine::Transformer* base, const tokenizer::Tokenizer& tok, int32_t bos,
                             const std::vector<int32_t>& stop_ids);
// custom.pass_rate (with checks), custom.regressions and custom.same_output (with a base) for --gate.
void add_measurements(const CustomReport& r, Measurements& out);
// The "custom" object of `lowbit eval --json` (docs/eval.md gives the schema).
nlohmann::json to_json(const CustomReport& r);

}  // namespace lowbit::eval
