// AWQ on one decoder layer, as llm-compressor's AWQModifier runs it in its sequential
// pipeline: the calibration pass (with the original weights) collects mean |x| per input
// channel of each mapping's first balance layer; then mapping after mapping, every
// candidate scale of the grid is scored by the mean squared difference between the parent
// block's output with the balance layers at Q(W s)/s and its output in full precision, and
// the best scales are folded in (balance W *= s, smooth layer /= s). The parent's inputs
// are recomputed from the layer's input hidden states for each mapping (nothing per
// sample is kept but what the layer itself needs), and candidates are scored in batches
// whose weights fit a memory budget.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "algorithms/awq.h"
#include "engine/observer.h"
#include "engine/rope.h"
#include "engine/weight_source.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::pipeline {

// The AWQModifier's arguments, and its mappings as patterns (llm-compressor's defaults for
// Llama, Mistral, Qwen2 and Qwen3 when the recipe names none).
struct AwqConfig {
  algorithms::AwqOptions options;
  struct Mapping {
    std::string smooth;
    std::vector<std::string> balance;
  };
  std::vector<Mapping> mappings;
};

// From recipe.awq (AWQModifier's arguments: mappings, duo_scaling, n_grid; offload_device
// noted and ignored). UserError for values out of range.
AwqConfig awq_config(const quant::Recipe& recipe, const std::string& where);

// One mapping resolved in one layer, as one of the four folds a Llama-family layer allows.
struct AwqMapping {
  enum class Kind { AttentionInput, ValueOutput, MlpInput, UpDown } kind;
  const model::Module* smooth = nullptr;       // RMSNorm or Linear whose output is divided by s
  std::vector<const model::Module*> balance;  // Linears whose input columns are multiplied by s
};

// The config's mappings in layer `layer`: patterns match as targets do; a mapping whose
// smooth layer is absent in this layer is left out; v -> o where v's outputs are not o's
// inputs (grouped-query attention) is skipped, as llm-compressor skips it, and so is one
// with no targeted layer (`notes` says which). UserError for a mapping that is not one of
// the four folds (e.g. a balance list that leaves out a consumer of the smoothed output).
std::vector<AwqMapping> resolve_awq_mappings(const model::Architecture& arch, int layer, const AwqConfig& config,
                                             const quant::Plan& plan, std::vector<std::string>* notes);

// A layer's tensors as AWQ left them, over the checkpoint's: tensors by name ("<module>.weight",
// "<module>.bias") in the checkpoint's dtype.
class SmoothedWeights : public engine::WeightSource {
 public:
  SmoothedWeights(const engine::WeightSource& base, const io::ModelDir& in) : base_(base), in_(in) {}
  void set(const std::string& tensor, std::vector<uint8_t> bytes);
  // The tensor's bytes and dtype: the smoothed ones if set, else the checkpoint's.
  const void* data(const std::string& tensor) const;
  DType dtype(const std::string& tensor) const { return in_.at(tensor).info->dtype; }
  const std::map<std::string, std::vector<uint8_t>>& changed() const { return changed_; }
  std::map<std::string, std::vector<uint8_t>> take_changed() { return std::move(changed_); }
  const engine::WeightSource& base() const { return base_; }

  engine::TensorView dense_weight(const model::Module& m) const override;
  std::unique_ptr<engine::Linear> linear(const model::Module& m) const override;
  void release(const model::Module& m) const override { base_.release(m); }

 private:
  const engine::WeightSource& base_;
  const io::ModelDir& in_;
  std::map<std::string, std::vector<uint8_t>> changed_;
};

struct AwqMappingResult {
  std::string smooth;  // module path
  algorithms::AwqCandidate best{0, false};
  double initial_error = 0, best_error = 0;  // the identity's and the best candidate's loss
  std::vector<double> losses;                 // per grid candidate, in grid order
  std::vector<double> scales;                 // folded in (empty: skipped)
  int64_t scored_tokens = 0;                  // tokens a block parent's candidates were scored on
  std::string note;                           // why it was skipped
};

class AwqLayer {
 public:
  using ArgsOf = std::function<const quant::QuantArgs*(const model::Module&)>;
  // `original` is the checkpoint's layer weights; `args_of` gives a Linear's weight args (null: kept).
  AwqLayer(const model::Architecture& arch, std::vector<AwqMapping> mappings, const algorithms::AwqOptions& options,
           ArgsOf args_of);
  // Attach to the calibration pass of the original layer: sums |x| per input channel.
  engine::LinearObserver& statistics() { return stats_; }
  // The search and the folds, mapping after mapping, into `weights` (which must start as the
  // original layer). `hidden` are the layer's input hidden states per sample (BF16 [T, hidden]).
  // `sample_done` (optional) is called once per sample per mapping, for progress.
  std::vector<AwqMappingResult> run(SmoothedWeights& weights, const std::vector<std::vector<uint16_t>>& hidden,
                                    const std::function<engine::RopeTable(int64_t tokens)>& rope,
                                    const std::function<void()>& sample_done = {}) const;
  const std::vector<AwqMapping>& mappings() const { return mappings_; }
  // The search's passes multiply in BF16 (Linear::set_bf16_products), for a BF16 model.
  void set_bf16_products(bool on) { bf16_products_ = on; }

 private:
  class Stats : public engine::LinearObserver {
   public:
    std::map<std::string, std::vector<double>> sum;  // first balance path -> sum |x|
    std::map<std::string, int64_t> count;
    void on_input(const model::Module& m, const float* x, int64_t tokens) override;
  };
  AwqMappingResult search(const AwqMapping& map, SmoothedWeights& weights,
                          const std::vector<std::vector<uint16_t>>& hidden,
                          const std::function<engine::RopeTable(int64_t)>& rope,
                          const std::function<void()>& sample_done) const;

  const model::Architecture& arch_;
  std::vector<AwqMapping> mappings_;
  algorithms::AwqOptions options_;
  ArgsOf args_of_;
  bool bf16_products_ = false;
  mutable Stats stats_;
};

}  // namespace lowbit::pipeline
