// GPTQ over a whole model, one decoder layer at a time, as llm-compressor's sequential
// pipeline runs it: the calibration samples' hidden states (BF16) enter layer i; a pass with
// the original weights accumulates each targeted Linear's Hessian (one per distinct input:
// q/k/v share one, gate/up another); GPTQ quantizes the layer's Linears; a second pass with
// the quantized weights produces the next layer's inputs, so later layers calibrate on what
// the quantized model will really feed them. Memory: one layer's weights, its Hessians and
// the samples' hidden states.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "algorithms/gptq.h"
#include "core/progress.h"
#include "engine/transformer.h"
#include "export/checkpoint_weights.h"
#include "pipeline/calibration_data.h"
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
class SequentialGptq : public WeightQuantizer {
 public:
  enum class Method { Gptq, Rtn };
  // `in`, `arch`, `plan` and `recipe` must outlive this. Embeds the samples now.
  SequentialGptq(const io::ModelDir& in, const model::Architecture& arch, const quant::Recipe& recipe,
                 const quant::Plan& plan, CalibrationSet samples, algorithms::GptqOptions options,
                 ProgressMode progress = ProgressMode::Auto, Method method = Method::Gptq);
  ~SequentialGptq() override;
  // Calibrates the module's layer first if it has not been (layers in order; lm_head last).
  QuantizedModule quantize(const model::Module& m, const quant::QuantArgs& args, const io::TensorRef& src,
                           const std::map<std::string, float>& shared_amax) override;
  std::string method() const override { return method_ == Method::Gptq ? "gptq" : "rtn"; }

 private:
  void calibrate_layer(int layer, const std::map<std::string, float>& shared_amax);
  void calibrate_head(const std::map<std::string, float>& shared_amax);
  const quant::QuantArgs* args_of(const model::Module& m) const;

  const io::ModelDir& in_;
  const model::Architecture& arch_;
  const quant::Recipe& recipe_;
  const quant::Plan& plan_;
  CalibrationSet set_;
  algorithms::GptqOptions options_;
  Method method_;
  exporter::CheckpointWeights source_;
  std::unique_ptr<engine::Transformer> net_;  // embeddings, RoPE and the final norm
  std::vector<std::vector<uint16_t>> hidden_;  // per sample [T, hidden_size] in BF16: the next layer's input
  int next_layer_ = 0;
  bool head_done_ = false;
  std::map<std::string, QuantizedModule> done_;  // the current layer's results, handed out once
  std::unique_ptr<Progress> progress_;
};

}  // namespace lowbit::pipeline
