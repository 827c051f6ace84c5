#include "pipeline/weight_quantizer.h"

#include "algorithms/rtn.h"

namespace lowbit::pipeline {

std::optional<float> shared_amax_of(const std::map<std::string, float>& shared, const std::string& module) {
  auto it = shared.find(module);
  return it == shared.end() ? std::nullopt : std::optional<float>(it->second);
}

QuantizedModule RtnQuantizer::quantize(const model::Module& m, const quant::QuantArgs& args, const io::TensorRef& src,
                                       const std::map<std::string, float>& shared_amax) {
  const std::string where = src.file->path().filename().string() + ": tensor " + src.info->name;
  return {algorithms::rtn_quantize_observed(src.data(), src.info->dtype, m.out_features, m.in_features, args, where,
                                            shared_amax_of(shared_amax, m.path)),
          ""};
}

}  // namespace lowbit::pipeline
