#include "eval/custom_eval.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/regex.h"
#include "core/strings.h"
#include "engine/generate.h"
#include "eval/multiple_choice.h"
#include "io/file_util.h"

namespace lowbit::eval {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

constexpr int kMaxTokensLimit = 4096;

std::string json_quoted(const std::string& s) { return json(s).dump(-1, ' ', false, json::error_handler_t::replace); }

// One key's value of a prompt line, checked; `where` is "<file>:<line>".
std::string need_string(const ojson& v, const std::string& where, const char* key, bool non_empty) {
  if (!v.is_string()) throw UserError(where + ": \"" + key + "\" must be a string, not " + v.dump());
  std::string s = v.get<std::string>();
  if (non_empty && s.empty()) throw UserError(where + ": \"" + key + "\" is an empty string");
  return s;
}

CustomPrompt parse_line(const std::string& line, const std::string& where, int64_t number) {
  ojson j;
  try {
    j = ojson::parse(line);
  } catch (const ojson::exception& e) {
    throw UserError(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw UserError(where + ": expected a JSON object per line");
  static const std::set<std::string> known = {"id",    "prompt",  "messages", "expected",  "contains",
                                              "regex", "choices", "answer",   "max_tokens"};
  for (const auto& [key, value] : j.items())
    if (!known.count(key))
      throw UserError(where + ": unknown key \"" + key +
                      "\" (known: id, prompt, messages, expected, contains, regex, choices, answer, max_tokens)");
  CustomPrompt p;
  p.line = number;
  p.id = std::to_string(number);
  if (j.contains("id")) {
    const ojson& v = j["id"];
    if (v.is_number_integer()) p.id = v.dump();
    else p.id = need_string(v, where, "id", true);
  }
  if (j.contains("prompt") == j.contains("messages"))
    throw UserError(where + (j.contains("prompt") ? ": has both \"prompt\" and \"messages\"; keep one"
                                                  : ": needs \"prompt\" (text) or \"messages\" (a chat)"));
  if (j.contains("prompt")) {
    p.prompt = need_string(j["prompt"], where, "prompt", true);
  } else {
    const ojson& m = j["messages"];
    if (!m.is_array() || m.empty()) throw UserError(where + ": \"messages\" must be a non-empty list of messages");
    for (const ojson& msg : m)
      if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
        throw UserError(where + ": each of \"messages\" must be an object with a \"role\" string, not " + msg.dump());
    p.messages = m;
  }
  if (j.contains("expected")) p.expected = need_string(j["expected"], where, "expected", false);
  if (j.contains("contains")) {
    const ojson& c = j["contains"];
    if (c.is_string()) {
      p.contains.push_back(need_string(c, where, "contains", true));
    } else if (c.is_array() && !c.empty()) {
      for (const ojson& s : c) p.contains.push_back(need_string(s, where, "contains", true));
    } else {
      throw UserError(where + ": \"contains\" must be a string or a non-empty list of strings, not " + c.dump());
    }
  }
  if (j.contains("regex")) {
    p.regex = need_string(j["regex"], where, "regex", true);
    Regex(*p.regex, Regex::Mode::Search, where + ": \"regex\"");  // a bad pattern fails here, before any model loads
  }
  if (j.contains("choices") != j.contains("answer"))
    throw UserError(where + ": \"choices\" and \"answer\" go together");
  if (j.contains("choices")) {
    const ojson& c = j["choices"];
    if (!c.is_array() || c.size() < 2) throw UserError(where + ": \"choices\" must be a list of 2 or more strings");
    for (const ojson& s : c) p.choices.push_back(need_string(s, where, "choices", true));
    const ojson& a = j["answer"];
    if (a.is_number_integer()) {
      const int64_t i = a.get<int64_t>();
      if (i < 0 || i >= int64_t(p.choices.size()))
        throw UserError(where + ": \"answer\" " + a.dump() + " is not an index of the " +
                        std::to_string(p.choices.size()) + " choices");
      p.answer = int(i);
    } else if (a.is_string()) {
      const auto it = std::find(p.choices.begin(), p.choices.end(), a.get<std::string>());
      if (it == p.choices.end()) throw UserError(where + ": \"answer\" " + a.dump() + " is not one of the choices");
      if (std::count(p.choices.begin(), p.choices.end(), *it) > 1)
        throw UserError(where + ": \"answer\" " + a.dump() + " occurs more than once among the choices");
      p.answer = int(it - p.choices.begin());
    } else {
      throw UserError(where + ": \"answer\" must be a choice's index or text, not " + a.dump());
    }
  }
  if (j.contains("max_tokens")) {
    const ojson& m = j["max_tokens"];
    if (!m.is_number_integer() || m.get<int64_t>() < 1 || m.get<int64_t>() > kMaxTokensLimit)
      throw UserError(where + ": \"max_tokens\" must be an integer from 1 to " + std::to_string(kMaxTokensLimit) +
                      ", not " + m.dump());
    p.max_tokens = int(m.get<int64_t>());
  }
  return p;
}

// The tokens' text; an id past the tokenizer's vocabulary (a padded embedding a broken model may
// pick) shows as "<id N>" instead of failing the run.
std::string decode_safely(const tokenizer::Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::string out;
  std::vector<int32_t> run;
  for (int32_t id : ids) {
    if (id >= 0 && size_t(id) < tok.vocab_size()) {
      run.push_back(id);
      continue;
    }
    out += tok.decode(run) + "<id " + std::to_string(id) + ">";
    run.clear();
  }
  return out + tok.decode(run);
}

int argmax(const std::vector<double>& v) {
  return v.empty() ? -1 : int(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

std::vector<std::string> CustomPrompt::check_descriptions() const {
  std::vector<std::string> out;
  if (expected) out.push_back("expected " + json_quoted(*expected));
  for (const std::string& c : contains) out.push_back("contains " + json_quoted(c));
  if (regex) out.push_back("regex /" + *regex + "/");
  if (!choices.empty())
    out.push_back("answer " + json_quoted(choices[size_t(answer)]) + " of " + std::to_string(choices.size()) + " choices");
  return out;
}

std::vector<CustomPrompt> parse_custom_prompts(const std::string& text, const std::string& label) {
  std::vector<CustomPrompt> out;
  std::set<std::string> ids;
  std::istringstream in(text);
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = label + ":" + std::to_string(n);
    CustomPrompt p = parse_line(line, where, n);
    if (!ids.insert(p.id).second) throw UserError(where + ": the id " + json_quoted(p.id) + " is used by an earlier line");
    out.push_back(std::move(p));
  }
  if (out.empty()) throw UserError(label + ": no prompts (one JSON object per line)");
  return out;
}

std::vector<CustomPrompt> read_custom_prompts(const std::string& path) {
  return parse_custom_prompts(io::read_text_file(path, size_t(1) << 30), path);
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

std::optional<bool> check_output(const CustomPrompt& p, const std::string& output, int pick) {
  if (!p.has_checks()) return std::nullopt;
  if (p.expected && strip(output) != *p.expected) return false;
  for (const std::string& c : p.contains)
    if (output.find(c) == std::string::npos) return false;
  // An output that is not valid UTF-8 (a broken model's bytes) matches no pattern.
  if (p.regex && !Regex(*p.regex, Regex::Mode::Search).matches(output)) return false;
  if (!p.choices.empty() && pick != p.answer) return false;
  return true;
}

std::optional<int64_t> first_divergence(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return int64_t(i);
  if (a.size() == b.size()) return std::nullopt;
  return int64_t(n);
}

bool same_output(const CustomItem& item) {
  if (!item.base) return false;
  if (item.prompt->generates()) return item.model.tokens == item.base->tokens;
  return item.model.pick == item.base->pick;
}

CustomSummary summarize(const std::vector<CustomItem>& items) {
  CustomSummary s;
  s.prompts = items.size();
  size_t base_passed = 0, same = 0, with_base = 0, generated = 0;
  double divergence_sum = 0, gap_sum = 0;
  for (const CustomItem& it : items) {
    if (it.model.pass) {
      ++s.checked;
      s.passed += *it.model.pass;
    }
    if (!it.base) continue;
    ++with_base;
    same += same_output(it);
    if (it.model.pass && it.base->pass) {
      base_passed += *it.base->pass;
      if (*it.base->pass && !*it.model.pass) s.regressions.push_back(it.prompt->id);
      if (!*it.base->pass && *it.model.pass) s.fixes.push_back(it.prompt->id);
    }
    if (!it.prompt->generates()) continue;
    ++generated;
    if (const auto d = first_divergence(it.model.tokens, it.base->tokens)) {
      ++s.diverged;
      divergence_sum += double(*d);
    }
    if (it.lp_model && it.lp_base && it.continuation_tokens > 0)
      gap_sum += (*it.lp_model - *it.lp_base) / double(it.continuation_tokens);
  }
  if (s.checked > 0) {
    s.pass_rate = double(s.passed) / double(s.checked);
    if (with_base > 0) s.base_pass_rate = double(base_passed) / double(s.checked);
  }
  if (with_base > 0) s.same_output = double(same) / double(with_base);
  if (s.diverged > 0) s.mean_first_divergence = divergence_sum / double(s.diverged);
  if (generated > 0) s.mean_logprob_gap = gap_sum / double(generated);
  return s;
}

std::string prompt_text(const CustomPrompt& p, const ChatRenderer& render) {
  if (!p.is_chat()) return p.prompt;
  return render(p.messages);
}

PreparedPrompt prepare_prompt(const CustomPrompt& p, const std::string& text, const tokenizer::Tokenizer& tok,
                              int32_t bos) {
  // As apply_chat_template(tokenize=True): a chat's rendering carries its own BOS.
  const int32_t first = p.is_chat() ? -1 : bos;
  auto encode = [&](const std::string& s) {
    std::vector<int32_t> ids;
    if (first >= 0) ids.push_back(first);
    const std::vector<int32_t> t = tok.encode(s);
    ids.insert(ids.end(), t.begin(), t.end());
    return ids;
  };
  PreparedPrompt pp;
  pp.ids = encode(text);
  const std::string where = "prompt " + json_quoted(p.id);
  if (pp.ids.empty()) throw UserError(where + " encodes to no tokens");
  pp.context_tokens = int64_t(pp.ids.size());
  // lm-eval's loglikelihood request: prompt and choice tokenized together, the choice's tokens
  // being those after the prompt's own.
  for (const std::string& c : p.choices) {
    std::vector<int32_t> whole = encode(text + c);
    if (int64_t(whole.size()) <= pp.context_tokens)
      throw UserError(where + ": the choice " + json_quoted(c) + " adds no token after the prompt");
    pp.choice_seqs.push_back(std::move(whole));
  }
  return pp;
}

CustomAnswer answer_prompt(const engine::Transformer& net, const tokenizer::Tokenizer& tok, const CustomPrompt& p,
                           const PreparedPrompt& pp, const std::vector<int32_t>& stop_ids) {
  CustomAnswer a;
  if (!pp.choice_seqs.empty()) {
    size_t cp = pp.choice_seqs[0].size();
    for (const auto& s : pp.choice_seqs) {
      size_t k = 0;
      while (k < cp && k < s.size() && s[k] == pp.choice_seqs[0][k]) ++k;
      cp = k;
    }
    const int64_t from = std::max<int64_t>(1, std::min<int64_t>(int64_t(cp), pp.context_tokens));
    const auto lp = shared_prefix_logprobs(net, pp.choice_seqs, from);
    for (const auto& row : lp) {
      double sum = 0;
      for (size_t i = size_t(pp.context_tokens); i < row.size(); ++i) sum += row[i];
      a.choice_logprobs.push_back(sum);
    }
    a.pick = argmax(a.choice_logprobs);
  }
  if (p.generates()) {
    a.tokens = engine::greedy_generate(net, pp.ids, p.max_tokens, stop_ids);
    std::vector<int32_t> text_tokens = a.tokens;
    if (!text_tokens.empty() && std::count(stop_ids.begin(), stop_ids.end(), text_tokens.back())) text_tokens.pop_back();
    a.output = decode_safely(tok, text_tokens);
  } else {
    a.output = p.choices[size_t(a.pick)];
  }
  a.pass = check_output(p, a.output, a.pick);
  return a;
}

double continuation_logprob(const engine::Transformer& net, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& continuation) {
  if (continuation.empty()) return 0;
  std::vector<int32_t> seq = prompt;
  seq.insert(seq.end(), continuation.begin(), continuation.end());
  const auto lp = shared_prefix_logprobs(net, {seq}, int64_t(prompt.size()));
  double sum = 0;
  for (size_t i = prompt.size(); i < seq.size(); ++i) sum += lp[0][i];
  return sum;
}

CustomReport run_custom_eval(const std::string& file, const std::vector<CustomPrompt>& prompts,
                             const std::vector<std::string>& texts, const engine::Transformer& model,
                             const engine::Transformer* base, const tokenizer::Tokenizer& tok, int32_t bos,
                             const std::vector<int32_t>& stop_ids) {
  CustomReport r;
  r.file = file;
  r.has_base = base != nullptr;
  // Every prompt is tokenized (and its choices checked) before the first generation.
  std::vector<PreparedPrompt> prepared;
  for (size_t i = 0; i < prompts.size(); ++i) prepared.push_back(prepare_prompt(prompts[i], texts[i], tok, bos));
  Progress progress("custom", prompts.size(), prompts.size(), ProgressMode::Auto, "prompts", "prompts");
  for (size_t i = 0; i < prompts.size(); ++i) {
    check_interrupted();
    const CustomPrompt& p = prompts[i];
    CustomItem it;
    it.prompt = &p;
    it.prompt_text = texts[i];
    it.model = answer_prompt(model, tok, p, prepared[i], stop_ids);
    if (base) {
      it.base = answer_prompt(*base, tok, p, prepared[i], stop_ids);
      if (p.generates()) {
        // The base's own greedy answer, teacher-forced through both models.
        it.continuation_tokens = int64_t(it.base->tokens.size());
        it.lp_model = continuation_logprob(model, prepared[i].ids, it.base->tokens);
        it.lp_base = continuation_logprob(*base, prepared[i].ids, it.base->tokens);
      }
    }
    r.items.push_back(std::move(it));
    progress.advance(1, 1);
  }
  progress.finish();
  return r;
}

namespace {

// One line of a table cell: newlines shown as \n, cut to `width` bytes (at a UTF-8 boundary).
std::string cell(const std::string& s, size_t width) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\r' || c == '\t') out += ' ';
    else out += c;
  }
  if (out.size() <= width) return out;
  size_t cut = width > 3 ? width - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  return out.substr(0, cut) + "...";
}

const char* yes_no(const std::optional<bool>& b) { return !b ? "-" : *b ? "pass" : "FAIL"; }

}  // namespace

std::string to_text(const CustomReport& r) {
  const CustomSummary s = summarize(r.items);
  std::string out;
  auto line = [&](const char* fmt, auto... args) { appendf<2048>(out, fmt, args...); };
  line("custom eval      %s (%zu prompts, %zu with checks)\n", r.file.c_str(), s.prompts, s.checked);
  if (r.has_base)
    line("  %-14s %-6s %-6s %-5s %-6s %-12s %s\n", "id", "model", "base", "same", "diverge", "lp/token", "output");
  else
    line("  %-14s %-6s %s\n", "id", "check", "output");
  // Each choice's log-likelihood (sum over its tokens), this model's then the base's.
  auto choice_lines = [&](const CustomItem& it) {
    const CustomPrompt& p = *it.prompt;
    if (p.choices.empty()) return;
    for (const CustomAnswer* a : {&it.model, it.base ? &*it.base : nullptr}) {
      if (!a) continue;
      std::string lps;
      for (double v : a->choice_logprobs) {
        char t[32];
        std::snprintf(t, sizeof t, " %.6f", v);
        lps += t;
      }
      line("    %s choices:%s (log-likelihoods; picked %d, answer %d)\n", a == &it.model ? "model" : "base ",
           lps.c_str(), a->pick, p.answer);
    }
  };
  for (const CustomItem& it : r.items) {
    const std::string id = cell(it.prompt->id, 14);
    if (!r.has_base) {
      line("  %-14s %-6s %s\n", id.c_str(), yes_no(it.model.pass), cell(it.model.output, 60).c_str());
      choice_lines(it);
      continue;
    }
    const auto d = it.prompt->generates() ? first_divergence(it.model.tokens, it.base->tokens) : std::nullopt;
    std::string lp = "-";
    if (it.lp_model && it.continuation_tokens > 0) {
      char t[64];
      std::snprintf(t, sizeof t, "%.3f/%.3f", *it.lp_model / double(it.continuation_tokens),
                    *it.lp_base / double(it.continuation_tokens));
      lp = t;
    }
    line("  %-14s %-6s %-6s %-5s %-6s %-12s %s\n", id.c_str(), yes_no(it.model.pass), yes_no(it.base->pass),
         same_output(it) ? "yes" : "no", d ? std::to_string(*d).c_str() : "-", lp.c_str(),
         cell(it.model.output, 40).c_str());
    choice_lines(it);
  }
  if (s.pass_rate) {
    line("pass rate        %.2f %% (%zu of %zu)", 100 * *s.pass_rate, s.passed, s.checked);
    if (s.base_pass_rate) line("   base %.2f %%", 100 * *s.base_pass_rate);
    line("\n");
  }
  if (!r.has_base) return out;
  line("same output      %.2f %% of prompts\n", 100 * s.same_output.value_or(0));
  if (s.mean_first_divergence)
    line("first divergence token %.1f on average (over the %zu generations that differ)\n", *s.mean_first_divergence,
         s.diverged);
  if (s.mean_logprob_gap)
    line("log-prob gap     %+.4f nats/token (the base's greedy continuation: this model - the base)\n",
         *s.mean_logprob_gap);
  line("regressions      %zu   fixes %zu\n", s.regressions.size(), s.fixes.size());
  for (const CustomItem& it : r.items) {
    if (!(it.model.pass && it.base && it.base->pass && *it.base->pass && !*it.model.pass)) continue;
    line("  regression %s (line %ld)\n", it.prompt->id.c_str(), long(it.prompt->line));
    line("    prompt: %s\n", cell(it.prompt_text, 200).c_str());
    line("    base:   %s\n", cell(it.base->output, 200).c_str());
    line("    model:  %s\n", cell(it.model.output, 200).c_str());
  }
  if (!s.fixes.empty()) {
    std::string ids;
    for (const std::string& id : s.fixes) ids += (ids.empty() ? "" : ", ") + id;
    line("  fixes: %s\n", ids.c_str());
  }
  return out;
}

void add_measurements(const CustomReport& r, Measurements& out) {
  const CustomSummary s = summarize(r.items);
  if (s.pass_rate) out["custom.pass_rate"] = {*s.pass_rate, std::nullopt};
  if (!r.has_base) return;
  out["custom.regressions"] = {double(s.regressions.size()), std::nullopt};
  if (s.same_output) out["custom.same_output"] = {*s.same_output, std::nullopt};
}

json to_json(const CustomReport& r) {
  const CustomSummary s = summarize(r.items);
  auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  json items = json::array();
  for (const CustomItem& it : r.items) {
    json j{{"id", it.prompt->id},
           {"prompt", it.prompt_text},
           {"output", it.model.output},
           {"base_output", it.base ? json(it.base->output) : json(nullptr)},
           {"checks", it.prompt->check_descriptions()},
           {"pass", opt(it.model.pass)},
           {"base_pass", it.base ? opt(it.base->pass) : json(nullptr)},
           {"same_output", it.base ? json(same_output(it)) : json(nullptr)},
           {"first_divergence", nullptr},
           {"base_continuation_logprob", nullptr}};
    if (it.base && it.prompt->generates()) {
      j["first_divergence"] = opt(first_divergence(it.model.tokens, it.base->tokens));
      if (it.lp_model && it.lp_base) j["base_continuation_logprob"] = {{"model", *it.lp_model}, {"base", *it.lp_base}};
    }
    items.push_back(j);
  }
  return json{{"file", r.file},
              {"prompts", s.prompts},
              {"checked", s.checked},
              {"pass_rate", opt(s.pass_rate)},
              {"base_pass_rate", opt(s.base_pass_rate)},
              {"regressions", s.regressions},
              {"fixes", s.fixes},
              {"same_output", opt(s.same_output)},
              {"items", items}};
}

}  // namespace lowbit::eval
