#include "eval/multiple_choice.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace lowbit::eval {

namespace {

// log-softmax of one row at `token`, given the row's max and log-sum-exp.
struct RowNorm {
  float max = 0;
  double lse = 0;
};
RowNorm row_norm(const float* row, int64_t vocab) {
  RowNorm n;
  n.max = *std::max_element(row, row + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(row[i]) - double(n.max));
  n.lse = std::log(sum);
  return n;
}
double logprob(const float* row, const RowNorm& n, int32_t token) { return double(row[token]) - n.max - n.lse; }

size_t common_prefix(const std::vector<std::vector<int32_t>>& seqs) {
  size_t shortest = seqs[0].size();
  for (const auto& s : seqs) shortest = std::min(shortest, s.size());
  size_t cp = 0;
  // Every sequence keeps at least its last token after the prefix (llama.cpp assumes it does).
  while (cp + 1 < shortest) {
    bool same = true;
    for (const auto& s : seqs) same = same && s[cp] == seqs[0][cp];
    if (!same) break;
    ++cp;
  }
  return cp;
}

int64_t code_points(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// lm-eval moves a context's trailing whitespace to the front of the continuation (_encode_pair).
void move_trailing_spaces(std::string& context, std::string& continuation) {
  size_t end = context.size();
  while (end > 0 && context[end - 1] == ' ') --end;
  continuation = context.substr(end) + continuation;
  context.resize(end);
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// lm-eval's Winogrande continuation: the part after the blank, stripped, after one space.
std::string after_blank(const std::string& after) {
  std::string cont(" ");
  cont.append(strip(after));
  return cont;
}

int argmax_first(const std::vector<double>& v) {
  int best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[size_t(best)]) best = int(i);
  return best;
}

void set_picks(TaskScore& t) {
  std::vector<double> sum, norm;
  for (const ChoiceScore& c : t.choices) {
    sum.push_back(c.logprob);
    norm.push_back(c.chars > 0 ? c.logprob / double(c.chars) : c.logprob);
  }
  t.acc = argmax_first(sum);
  t.acc_norm = argmax_first(norm);
}

// `branches` continuing `cache` in one forward_branches pass, scored: out[s][offset + r + 1] =
// log p(branches[s][r + 1]) for rows r >= first_row[s] of branch s (row r predicting its token
// r + 1), and the log-softmax of branch s's last row into *last[s] where that is not null. Only
// those rows go through the final norm and lm_head. The rows are normalised in parallel: a
// log-sum-exp over the vocabulary per row costs about as much as a small forward pass.
void score_branch_rows(const engine::Transformer& net, const std::vector<std::vector<int32_t>>& branches,
                       const engine::KVCache& cache, int64_t offset, const std::vector<int64_t>& first_row,
                       const std::vector<std::vector<float>*>& last, std::vector<std::vector<double>>& out) {
  struct Need {
    size_t seq, k;  // the branch; its row among the logits
    int64_t pos;
    int32_t token;
  };
  std::vector<Need> need;
  std::vector<int64_t> rows;  // the logits' rows: rows of the pass, the branches end to end
  std::vector<size_t> last_k(branches.size());
  int64_t row0 = 0;
  for (size_t s = 0; s < branches.size(); ++s) {
    const int64_t T = int64_t(branches[s].size());
    for (int64_t r = std::max<int64_t>(0, first_row[s]); r + 1 < T; ++r) {
      need.push_back({s, rows.size(), offset + r + 1, branches[s][size_t(r + 1)]});
      rows.push_back(row0 + r);
    }
    last_k[s] = rows.size();
    if (last[s]) rows.push_back(row0 + T - 1);
    row0 += T;
  }
  // No row wanted (MMLU's rests " A" ... " D", one token each, all scored by the prefix's last
  // row): the pass, a read of every weight, is skipped.
  if (rows.empty()) return;
  const std::vector<float> logits = net.forward_branches(branches, cache, rows);
  const int64_t V = net.arch().vocab;
  for (size_t s = 0; s < branches.size(); ++s)
    if (last[s]) {
      const float* row = logits.data() + int64_t(last_k[s]) * V;
      const RowNorm n = row_norm(row, V);
      last[s]->resize(size_t(V));
      for (int64_t i = 0; i < V; ++i) (*last[s])[size_t(i)] = float(logprob(row, n, int32_t(i)));
    }
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < need.size(); ++i) {
    const Need& nd = need[i];
    const float* row = logits.data() + int64_t(nd.k) * V;
    out[nd.seq][size_t(nd.pos)] = logprob(row, row_norm(row, V), nd.token);
  }
}

}  // namespace

std::vector<std::vector<double>> shared_prefix_logprobs(const engine::Transformer& net,
                                                        const std::vector<std::vector<int32_t>>& seqs, int64_t from,
                                                        std::vector<float>* last_row, PrefixCache* reuse) {
  if (seqs.empty()) throw std::logic_error("shared_prefix_logprobs: no sequences");
  if (from < 1) throw std::logic_error("shared_prefix_logprobs: position 0 has no prediction");
  for (const auto& s : seqs)
    if (s.empty()) throw std::logic_error("shared_prefix_logprobs: an empty sequence");
  const int64_t V = net.arch().vocab, cp = int64_t(common_prefix(seqs));
  std::vector<std::vector<double>> out(seqs.size());
  for (size_t s = 0; s < seqs.size(); ++s) out[s].assign(seqs[s].size(), 0.0);
  engine::KVCache local;
  engine::KVCache& cache = reuse ? reuse->cache : local;
  int64_t kept = 0;
  if (reuse) {
    // A cache left inconsistent by an interrupted call starts over.
    if (cache.positions != int64_t(reuse->tokens.size())) cache = engine::KVCache{};
    // Keep the positions this prefix shares, short of the rows that must be scored.
    const int64_t most = std::min<int64_t>(int64_t(reuse->tokens.size()), std::max<int64_t>(0, std::min(from, cp) - 1));
    while (kept < most && reuse->tokens[size_t(kept)] == seqs[0][size_t(kept)]) ++kept;
    cache.truncate(kept);
    reuse->tokens.resize(size_t(kept));
  }
  if (cp > 0) {
    // Rows [r0, cp) of the prefix: row r predicts token r + 1; the last one predicts each
    // sequence's first token of its own. Positions below `kept` are in the cache already.
    const int64_t r0 = std::min(from, cp) - 1;
    const std::vector<int32_t> prefix(seqs[0].begin() + kept, seqs[0].begin() + cp);
    const std::vector<float> logits = net.forward(prefix, r0 - kept, cache);
    if (reuse) reuse->tokens.assign(seqs[0].begin(), seqs[0].begin() + cp);
    for (int64_t r = r0; r < cp; ++r) {
      const float* row = logits.data() + (r - r0) * V;
      const RowNorm n = row_norm(row, V);
      for (size_t s = 0; s < seqs.size(); ++s)
        if (r + 1 >= from) out[s][size_t(r + 1)] = logprob(row, n, seqs[s][size_t(r + 1)]);
    }
  }
  // All the rests in one pass (their projections one GEMM), each seeing the prefix and itself.
  std::vector<std::vector<int32_t>> rests;
  for (const auto& seq : seqs) rests.emplace_back(seq.begin() + cp, seq.end());
  std::vector<int64_t> first_row;
  std::vector<std::vector<float>*> last(seqs.size(), nullptr);
  for (size_t i = 0; i < seqs.size(); ++i) first_row.push_back(std::max<int64_t>(0, from - 1 - cp));
  last[0] = last_row;
  score_branch_rows(net, rests, cache, cp, first_row, last, out);
  return out;
}

std::vector<std::vector<double>> independent_logprobs(const engine::Transformer& net,
                                                      const std::vector<std::vector<int32_t>>& seqs,
                                                      const std::vector<int64_t>& from,
                                                      const std::vector<bool>& want_last,
                                                      std::vector<std::vector<float>>& last_rows) {
  if (from.size() != seqs.size() || want_last.size() != seqs.size())
    throw std::logic_error("independent_logprobs: one from and one want_last per sequence");
  std::vector<std::vector<double>> out(seqs.size());
  last_rows.assign(seqs.size(), {});
  for (size_t s = 0; s < seqs.size(); ++s) {
    if (seqs[s].empty() || from[s] < 1) throw std::logic_error("independent_logprobs: an empty sequence or from < 1");
    out[s].assign(seqs[s].size(), 0.0);
  }
  std::vector<int64_t> first_row;
  std::vector<std::vector<float>*> last(seqs.size(), nullptr);
  for (size_t i = 0; i < seqs.size(); ++i) {
    first_row.push_back(from[i] - 1);
    if (want_last[i]) last[i] = &last_rows[i];
  }
  score_branch_rows(net, seqs, engine::KVCache{}, 0, first_row, last, out);
  return out;
}

std::vector<int32_t> ChoiceScorer::encode(const std::string& text) const {
  std::vector<int32_t> ids;
  if (bos_ >= 0) ids.push_back(bos_);
  const std::vector<int32_t> t = tok_.encode(text);
  ids.insert(ids.end(), t.begin(), t.end());
  return ids;
}

TaskScore ChoiceScorer::score(Benchmark b, const McTask& task) const {
  if (is_lm_eval_prompt(b)) return lm_eval_prompt(task);
  return b == Benchmark::HellaSwag ? hellaswag(task) : winogrande(task);
}

TaskScore ChoiceScorer::lm_eval_prompt(const McTask& task) const {
  // lm-eval's loglikelihood request: the context and the continuation " " + choice tokenized
  // together, the continuation being the tokens after those of the context alone.
  std::vector<std::vector<int32_t>> seqs;
  int64_t ctx_len = 0;
  for (const std::string& choice : task.choices) {
    std::string ctx = task.context, cont = " " + choice;
    move_trailing_spaces(ctx, cont);
    if (seqs.empty()) ctx_len = int64_t(encode(ctx).size());
    seqs.push_back(encode(ctx + cont));
  }
  const int64_t cp = int64_t(common_prefix(seqs));
  const auto lp = shared_prefix_logprobs(net_, seqs, std::max<int64_t>(1, std::min(cp, ctx_len)), nullptr, &prefix_);
  TaskScore t;
  t.index = task.index;
  t.gold = task.gold;
  t.subject = task.subject;
  for (size_t s = 0; s < seqs.size(); ++s) {
    ChoiceScore c;
    for (size_t p = size_t(std::max<int64_t>(1, ctx_len)); p < seqs[s].size(); ++p) c.logprob += lp[s][p];
    c.llama = c.logprob;  // no llama.cpp protocol here; kept equal to lm-eval's sum
    c.chars = code_points(task.choices[s]);
    t.choices.push_back(c);
  }
  set_picks(t);
  t.llama = t.acc;
  return t;
}

TaskScore ChoiceScorer::hellaswag(const McTask& task) const {
  // llama.cpp tokenizes context + " " + ending; lm-eval the same string, its continuation
  // being the tokens after those of the context alone.
  std::vector<std::vector<int32_t>> seqs;
  for (const std::string& e : task.choices) seqs.push_back(encode(task.context + " " + e));
  std::string ctx = task.context, cont = " ";
  move_trailing_spaces(ctx, cont);
  const int64_t ctx_len = int64_t(encode(ctx).size());
  const int64_t cp = int64_t(common_prefix(seqs));
  const auto lp = shared_prefix_logprobs(net_, seqs, std::max<int64_t>(1, std::min(cp, ctx_len)));
  TaskScore t;
  t.index = task.index;
  t.gold = task.gold;
  std::vector<double> llama;
  for (size_t s = 0; s < seqs.size(); ++s) {
    ChoiceScore c;
    // llama.cpp: the mean over the tokens after the endings' common prefix.
    for (size_t p = size_t(cp); p < seqs[s].size(); ++p) c.llama += lp[s][p];
    c.llama /= double(seqs[s].size() - size_t(cp));
    for (size_t p = size_t(std::max<int64_t>(1, ctx_len)); p < seqs[s].size(); ++p) c.logprob += lp[s][p];
    c.chars = code_points(task.choices[s]);
    t.choices.push_back(c);
    llama.push_back(c.llama);
  }
  t.llama = argmax_first(llama);  // a tie goes to the first, as llama.cpp's strict >
  set_picks(t);
  return t;
}

// One Winogrande task's sequences: llama.cpp's two (first + option + rest) and lm-eval's, where
// its tokens differ; where scoring starts.
struct ChoiceScorer::WinograndePlan {
  std::vector<std::vector<int32_t>> seqs;
  int64_t base[2] = {0, 0}, lm_ctx[2] = {0, 0}, cp = 0, from = 1;
  size_t lm_seq[2] = {0, 0};
};

ChoiceScorer::WinograndePlan ChoiceScorer::plan_winogrande(const McTask& task) const {
  // llama.cpp: first + option + rest, scoring the tokens after those of first + option.
  // lm-eval: context first + option, continuation " " + rest.strip() (its own token sequence
  // when that differs, e.g. "_'s": it then inserts a space).
  WinograndePlan w;
  for (int s = 0; s < 2; ++s) {
    w.seqs.push_back(encode(task.context + task.choices[size_t(s)] + task.after));
    w.base[s] = int64_t(encode(task.context + task.choices[size_t(s)]).size());
  }
  for (int s = 0; s < 2; ++s) {
    std::string ctx = task.context + task.choices[size_t(s)], cont = after_blank(task.after);
    move_trailing_spaces(ctx, cont);
    w.lm_ctx[s] = int64_t(encode(ctx).size());
    std::vector<int32_t> whole = encode(ctx + cont);
    auto same = std::find(w.seqs.begin(), w.seqs.end(), whole);
    w.lm_seq[s] = size_t(same - w.seqs.begin());
    if (same == w.seqs.end()) w.seqs.push_back(std::move(whole));
  }
  const std::vector<std::vector<int32_t>> pair(w.seqs.begin(), w.seqs.begin() + 2);
  w.cp = int64_t(common_prefix(pair));
  w.from = std::max<int64_t>(1, std::min({w.cp, w.base[0], w.base[1], w.lm_ctx[0], w.lm_ctx[1]}));
  return w;
}

// llama.cpp's and lm-eval's scores of one Winogrande task from its sequences' log-probs.
TaskScore ChoiceScorer::score_winogrande(const McTask& task, const WinograndePlan& w,
                                         const std::vector<std::vector<double>>& lp,
                                         const std::vector<float>& last_row) {
  const std::vector<std::vector<int32_t>>& seqs = w.seqs;
  const int64_t cp = w.cp;
  TaskScore t;
  t.index = task.index;
  t.gold = task.gold;
  // llama.cpp scores the part after the choice when both sequences run on for more than 3
  // tokens after their common prefix, else everything after that prefix; the final token is
  // left out when more than one remains. Sums in float as llama.cpp.
  const int64_t len[2] = {int64_t(seqs[0].size()), int64_t(seqs[1].size())};
  const bool skip_choice = len[0] - cp > 3 && len[1] - cp > 3;
  float score[2];
  for (int s = 0; s < 2; ++s) {
    const int64_t start = skip_choice ? w.base[s] : cp, last = len[s] - start > 1 ? 1 : 0, end = len[s] - last;
    float sum = 0;
    for (int64_t p = start; p < end; ++p) {
      // llama.cpp's FIXME, kept for comparable numbers: without skipping the choice, the second
      // sequence's first token is scored against the first sequence's last logits.
      const bool quirk = s == 1 && !skip_choice && p == cp;
      sum += quirk ? last_row[size_t(seqs[1][size_t(p)])] : float(lp[size_t(s)][size_t(p)]);
    }
    score[s] = end > start ? sum / float(end - start) : -std::numeric_limits<float>::infinity();
  }
  for (int s = 0; s < 2; ++s) {
    ChoiceScore c;
    c.llama = score[s];
    const auto& seq = seqs[w.lm_seq[s]];
    for (size_t p = size_t(std::max<int64_t>(1, w.lm_ctx[s])); p < seq.size(); ++p) c.logprob += lp[w.lm_seq[s]][p];
    c.chars = code_points(after_blank(task.after));
    t.choices.push_back(c);
  }
  t.llama = score[0] > score[1] ? 0 : 1;  // a tie goes to the second, as in llama.cpp
  set_picks(t);
  return t;
}

TaskScore ChoiceScorer::winogrande(const McTask& task) const {
  const WinograndePlan w = plan_winogrande(task);
  std::vector<float> last_row;
  const auto lp = shared_prefix_logprobs(net_, w.seqs, w.from, &last_row);
  return score_winogrande(task, w, lp, last_row);
}

std::vector<TaskScore> ChoiceScorer::score_batch(Benchmark b, const std::vector<const McTask*>& tasks) const {
  std::vector<TaskScore> out;
  if (b != Benchmark::Winogrande || tasks.size() < 2) {
    for (const McTask* t : tasks) out.push_back(score(b, *t));
    return out;
  }
  // Every task's sequences side by side, each from its own first scored position.
  std::vector<WinograndePlan> plans;
  std::vector<std::vector<int32_t>> seqs;
  std::vector<int64_t> from;
  std::vector<bool> want_last;
  std::vector<size_t> first;
  for (const McTask* t : tasks) {
    plans.push_back(plan_winogrande(*t));
    first.push_back(seqs.size());
    for (size_t s = 0; s < plans.back().seqs.size(); ++s) {
      seqs.push_back(plans.back().seqs[s]);
      from.push_back(plans.back().from);
      want_last.push_back(s == 0);
    }
  }
  std::vector<std::vector<float>> last_rows;
  const auto lp = independent_logprobs(net_, seqs, from, want_last, last_rows);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const WinograndePlan& w = plans[i];
    const std::vector<std::vector<double>> mine(lp.begin() + long(first[i]),
                                                lp.begin() + long(first[i] + w.seqs.size()));
    out.push_back(score_winogrande(*tasks[i], w, mine, last_rows[first[i]]));
  }
  return out;
}

std::string to_string(McMetric m) {
  switch (m) {
    case McMetric::LlamaCpp: return "llama.cpp";
    case McMetric::Acc: return "acc";
    case McMetric::AccNorm: return "acc_norm";
  }
  return "?";
}

std::vector<McMetric> metrics_of(Benchmark b) {
  switch (b) {
    case Benchmark::HellaSwag: return {McMetric::LlamaCpp, McMetric::Acc, McMetric::AccNorm};
    case Benchmark::Winogrande: return {McMetric::LlamaCpp, McMetric::Acc};
    case Benchmark::ArcEasy:
    case Benchmark::ArcChallenge: return {McMetric::Acc, McMetric::AccNorm};
    case Benchmark::Mmlu:
    case Benchmark::Mmlu5Shot: return {McMetric::Acc};
  }
  return {};
}

int pick(const TaskScore& t, McMetric m) {
  return m == McMetric::LlamaCpp ? t.llama : m == McMetric::Acc ? t.acc : t.acc_norm;
}

Accuracy accuracy(const std::vector<TaskScore>& tasks, McMetric m) {
  Accuracy a;
  a.total = int64_t(tasks.size());
  for (const TaskScore& t : tasks) a.correct += pick(t, m) == t.gold;
  if (a.total > 0) a.acc = double(a.correct) / double(a.total);
  if (a.total > 1) a.stderr_ = std::sqrt(a.acc * (1 - a.acc) / double(a.total - 1));
  return a;
}

int64_t differing(const std::vector<TaskScore>& a, const std::vector<TaskScore>& b, McMetric m) {
  if (a.size() != b.size()) throw std::logic_error("differing: runs over different tasks");
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += pick(a[i], m) != pick(b[i], m);
  return n;
}

}  // namespace lowbit::eval
