// Calibrated quantization over a whole model, one decoder layer at a time, as llm-compressor's
// sequential pipeline runs it: the calibration samples' hidden states (BF16) enter layer i; a
// pass with the original weights accumulates each targeted Linear's Hessian (one per distinct
// input: q/k/v share one, gate/up another) and, with AWQ, each mapping's mean |x|; AWQ then
// searches and folds its scales (awq_layer.h); GPTQ (or round-to-nearest) quantizes the
// layer's Linears; a second pass produces the next layer's inputs: with GPTQ's quantized
// weights, so later layers calibrate on what the quantized model will really feed them (with
// round-to-nearest, the full-precision layer's, as llm-compressor's QuantizationModifier and
// AWQModifier leave the weights unquantized while calibrating). Memory: one layer's weights,
// its Hessians and the samples' hidden states.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "algorithms/gptq.h"
#include "algorithms/gptq_ggml.h"
#include "core/progress.h"
#include "engine/transformer.h"
#include "export/checkpoint_weights.h"
#include "pipeline/awq_layer.h"
#include "pipeline/calibration_data.h"
#include "pipeline/resume_state.h"
#include "pipeline/weight_quantizer.h"
#include "quant/plan.h"

namespace lowbit::pipeline {

// Makes `recipe` the GPTQModifier recipe llm-compressor would write (its weights get actorder
// "static", GPTQModifier's default, unless they name one) and returns the solver options from
// its modifier arguments (block_size, dampening_frac; offload_hessians has no meaning here and
// is noted). UserError for values out of range.
algorithms::GptqOptions prepare_gptq_recipe(quant::Recipe& recipe, const std::string& where);

// Round-to-nearest whose observer weighs by activations (imatrix_mse) runs the same loop with
// only E[x^2] per input channel collected, and propagates the original layer's outputs (as
// llm-compressor's QuantizationModifier, which changes no weight during calibration).
class SequentialCalibration : public WeightQuantizer {
 public:
  enum class Method { Gptq, Rtn };
  // `in`, `arch`, `plan` and `recipe` must outlive this. Embeds the samples now.
  // `awq`: run AWQ's scale search and folds before quantizing each layer. `state` (optional,
  // must outlive this): layers it has finished are read back instead of calibrated again, and
  // each layer calibrated now is saved to it.
  SequentialCalibration(const io::ModelDir& in, const model::Architecture& arch, const quant::Recipe& recipe,
                        const quant::Plan& plan, CalibrationSet samples, algorithms::GptqOptions options,
                        ProgressMode progress = ProgressMode::Auto, Method method = Method::Gptq,
                        std::optional<AwqConfig> awq = std::nullopt, ResumeState* state = nullptr);
  ~SequentialCalibration() override;
  // GGUF export: these modules (path -> ggml type, beside or instead of the plan's) are
  // quantized by GPTQ onto the type's blocks (algorithms/gptq_ggml.h), their QuantizedModule
  // holding ggml_blocks. Not with AWQ or a resume state. Set before the first quantize().
  void set_ggml_targets(std::map<std::string, GgmlType> targets,
                        algorithms::GgmlScales scales = algorithms::GgmlScales::During);
  // Calibrates the module's layer first if it has not been (layers in order; lm_head last).
  QuantizedModule quantize(const model::Module& m, const quant::QuantArgs& args, const io::TensorRef& src,
                           const std::map<std::string, float>& shared_amax) override;
  // AWQ's folded tensors that are not quantized (norm weights, biases, kept Linears).
  std::optional<std::vector<uint8_t>> dense_tensor(const std::string& name,
                                                  const std::map<std::string, float>& shared_amax) override;
  std::string method() const override;
  nlohmann::json report() const override;  // "awq": per mapping, the chosen ratio and the loss it brought
  // Per AWQ mapping: the chosen ratio and the loss it brought (for the report).
  const std::vector<AwqMappingResult>& awq_results() const { return awq_results_; }

 private:
  void calibrate_layer(int layer, const std::map<std::string, float>& shared_amax);
  void restore_layer(int layer);  // from state_
  void save_layer(int layer, const std::vector<std::string>& dense_names, size_t awq_first);
  void calibrate_through(int layer, const std::map<std::string, float>& shared_amax);
  void calibrate_head(const std::map<std::string, float>& shared_amax);
  const quant::QuantArgs* args_of(const model::Module& m) const;
  bool is_target(const model::Module& m) const { return args_of(m) || ggml_targets_.count(m.path); }
  // GPTQ of one module from its (folded) weight and Hessian, onto its ggml type or its args.
  QuantizedModule gptq_module(const model::Module& m, const void* data, DType dtype, const std::vector<float>& hessian,
                              const std::string& where, std::optional<float> shared_amax) const;
  void log_stages() const;

  // Wall time and useful FLOPs of each stage, summed over the layers calibrated in this run
  // (logged once at the end, so a user sees what bounds the run; never in the checkpoint).
  struct Stage {
    double seconds = 0, flops = 0;
  };
  struct Stages {
    Stage forward, xtx, awq, gptq, propagate;
    int layers = 0;
  };
  Stages stages_;

  const io::ModelDir& in_;
  const model::Architecture& arch_;
  const quant::Recipe& recipe_;
  const quant::Plan& plan_;
  CalibrationSet set_;
  algorithms::GptqOptions options_;
  Method method_;
  std::optional<AwqConfig> awq_;
  std::map<std::string, GgmlType> ggml_targets_;
  algorithms::GgmlScales ggml_scales_ = algorithms::GgmlScales::During;
  std::vector<AwqMappingResult> awq_results_;
  std::map<std::string, std::vector<uint8_t>> folded_dense_;  // AWQ-changed tensors not yet written
  exporter::CheckpointWeights source_;
  std::unique_ptr<engine::Transformer> net_;  // embeddings, RoPE and the final norm
  std::vector<std::vector<uint16_t>> hidden_;  // per sample [T, hidden_size] in BF16: the next layer's input
  int next_layer_ = 0;
  bool head_done_ = false;
  std::map<std::string, QuantizedModule> done_;  // the current layer's results, handed out once
  std::unique_ptr<Progress> progress_;
  ResumeState* state_ = nullptr;
};

}  // namespace lowbit::pipeline
