// Multiple-choice benchmarks scored by log-likelihood, under two protocols from the same forward
// passes:
//  * llama.cpp's perplexity tool (--hellaswag, --winogrande): HellaSwag scores each ending by the
//    mean log-prob of its tokens after the endings' common token prefix; Winogrande by the mean
//    log-prob of the tokens after the choice word (the last token left out), "partial scoring".
//  * lm-evaluation-harness: acc = argmax of the continuation's summed log-probs; acc_norm (HellaSwag,
//    ARC) divides that sum by the choice's length in characters. ARC and MMLU are scored this way
//    only, their context being lm-eval's whole prompt and each continuation " " + choice.
// The token prefix the choices share runs once; the choices then continue it from the KV cache,
// all in one pass (Transformer::forward_branches).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/transformer.h"
#include "eval/benchmarks.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::eval {

// A KV cache kept from one call of shared_prefix_logprobs to the next with the tokens it holds:
// the next call keeps the part its own prefix shares (MMLU 5-shot: the subject's description and
// examples) and runs only the rest.
struct PrefixCache {
  engine::KVCache cache;
  std::vector<int32_t> tokens;  // what `cache` holds, position by position
};

// log p(seq[p] | seq[0..p)) for every position p >= from (0 below it) of each sequence, the
// sequences' common token prefix (at most the shortest length - 1) run once and each sequence's
// rest continuing it from the KV cache, all rests in one pass. `last_row` (if not null) receives the log-softmax of the
// last row of sequence 0 (what its final token predicts). Every sequence needs from >= 1.
// `reuse` (if not null): positions below `from` that it holds already are not run again.
std::vector<std::vector<double>> shared_prefix_logprobs(const engine::Transformer& net,
                                                        const std::vector<std::vector<int32_t>>& seqs, int64_t from,
                                                        std::vector<float>* last_row = nullptr,
                                                        PrefixCache* reuse = nullptr);

// Independent sequences in one pass (no shared prefix; each sees only itself): out[s][p] =
// log p(seqs[s][p] | seqs[s][0..p)) for p >= from[s] (0 below), and for each s with want_last[s]
// the log-softmax of its final row in last_rows[s]. Packs several short tasks into one read of
// the weights, as llama.cpp packs Winogrande tasks into one batch.
std::vector<std::vector<double>> independent_logprobs(const engine::Transformer& net,
                                                      const std::vector<std::vector<int32_t>>& seqs,
                                                      const std::vector<int64_t>& from,
                                                      const std::vector<bool>& want_last,
                                                      std::vector<std::vector<float>>& last_rows);

struct ChoiceScore {
  double llama = 0;    // llama.cpp's score: mean log-prob of the tokens it scores
  double logprob = 0;  // lm-eval: sum of the continuation's token log-probs
  int64_t chars = 0;   // lm-eval's acc_norm divisor: the choice's length in characters (code points)
};

struct TaskScore {
  size_t index = 0;  // the task's position in its file
  std::string subject;  // MMLU: the task's subject
  int gold = 0;
  int llama = 0, acc = 0, acc_norm = 0;  // the choice each protocol picks
  std::vector<ChoiceScore> choices;
};

class ChoiceScorer {
 public:
  // `bos` >= 0 starts every sequence (the model adds BOS, as llama.cpp's tokenize does then).
  ChoiceScorer(const engine::Transformer& net, const tokenizer::Tokenizer& tok, int32_t bos)
      : net_(net), tok_(tok), bos_(bos) {}
  TaskScore score(Benchmark b, const McTask& task) const;
  // Several tasks: Winogrande's (short) tasks in one pass, the same scores as one at a time up to
  // float summation order; other benchmarks one by one.
  std::vector<TaskScore> score_batch(Benchmark b, const std::vector<const McTask*>& tasks) const;

 private:
  struct WinograndePlan;
  std::vector<int32_t> encode(const std::string& text) const;
  TaskScore hellaswag(const McTask& task) const;
  TaskScore winogrande(const McTask& task) const;
  WinograndePlan plan_winogrande(const McTask& task) const;
  static TaskScore score_winogrande(const McTask& task, const WinograndePlan& w,
                                    const std::vector<std::vector<double>>& lp, const std::vector<float>& last_row);
  TaskScore lm_eval_prompt(const McTask& task) const;

  const engine::Transformer& net_;
  const tokenizer::Tokenizer& tok_;
  int32_t bos_;
  // The last prompt's prefix, which the next task of the same subject starts with.
  mutable PrefixCache prefix_;
};

// Accuracy of one protocol over tasks, with the binomial standard error sqrt(p(1-p)/(n-1)) that
// llama.cpp's Winogrande and lm-eval print.
struct Accuracy {
  int64_t correct = 0, total = 0;
  double acc = 0, stderr_ = 0;  // fractions (not %)
};
enum class McMetric { LlamaCpp, Acc, AccNorm };
std::string to_string(McMetric m);  // "llama.cpp" | "acc" | "acc_norm"
// The metrics a benchmark reports: HellaSwag all three, Winogrande llama.cpp and acc (its
// continuation is the same for both choices, so acc_norm would equal acc), ARC acc and acc_norm,
// MMLU acc (lm-eval's mmlu reports only acc).
std::vector<McMetric> metrics_of(Benchmark b);
int pick(const TaskScore& t, McMetric m);
Accuracy accuracy(const std::vector<TaskScore>& tasks, McMetric m);
// Tasks where two runs over the same tasks picked different choices.
int64_t differing(const std::vector<TaskScore>& a, const std::vector<TaskScore>& b, McMetric m);

}  // namespace lowbit::eval
