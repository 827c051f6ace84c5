// How the quantize pipeline turns one targeted Linear into a QuantizedWeight: data-free
// round-to-nearest, or a calibrated method (GPTQ) that runs the model layer by layer. The
// pipeline asks for modules in checkpoint order (layer after layer), which is the order a
// sequential method calibrates in, so it never holds more than one layer's results.
#pragma once
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/ggml_types.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "numerics/quantized_weight.h"
#include "quant/quant_args.h"

namespace lowbit::pipeline {

struct QuantizedModule {
  QuantizedModule() = default;
  QuantizedModule(QuantizedWeight w, std::string n) : weight(std::move(w)), note(std::move(n)) {}
  QuantizedWeight weight;
  std::string note;  // e.g. a GPTQ fallback; "" if nothing to report
  // GPTQ onto a ggml type (GGUF export): the blocks, rows in Hugging Face order; `weight` is
  // then empty. Empty for every compressed-tensors scheme.
  std::vector<uint8_t> ggml_blocks;
  GgmlType ggml_type = GgmlType::F32;
};

class WeightQuantizer {
 public:
  virtual ~WeightQuantizer() = default;
  // `src` is the module's stored weight ([out, in]); `shared_amax` maps each NVFP4 member of
  // a vLLM-fused group to the group's absolute max (quantize_checkpoint fills it).
  virtual QuantizedModule quantize(const model::Module& m, const quant::QuantArgs& args, const io::TensorRef& src,
                                   const std::map<std::string, float>& shared_amax) = 0;
  // A tensor that is not quantized but that the method changed (AWQ folds scales into norm
  // weights and biases), to be written instead of the checkpoint's bytes; nullopt: copy it.
  // Asked in checkpoint order, once per tensor.
  virtual std::optional<std::vector<uint8_t>> dense_tensor(const std::string& name,
                                                          const std::map<std::string, float>& shared_amax) {
    return std::nullopt;
  }
  virtual std::string method() const = 0;  // "rtn", "gptq", "awq", "awq+gptq"
  // What the method chose, for quantization_report.json (asked once all tensors are written).
  virtual nlohmann::json report() const { return nlohmann::json::object(); }
};

// The entry of `module` in a shared-amax map, if any.
std::optional<float> shared_amax_of(const std::map<std::string, float>& shared, const std::string& module);

class RtnQuantizer : public WeightQuantizer {
 public:
  QuantizedModule quantize(const model::Module& m, const quant::QuantArgs& args, const io::TensorRef& src,
                           const std::map<std::string, float>& shared_amax) override;
  std::string method() const override { return "rtn"; }
};

}  // namespace lowbit::pipeline
