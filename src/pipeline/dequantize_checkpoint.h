// A compressed-tensors checkpoint back to a dense one (weights in the scale dtype),
// with lowbit's own decompressor: a reference for tests and a way back for users.
#pragma once
#include "pipeline/quantize_checkpoint.h"

namespace lowbit::pipeline {

QuantizeSummary dequantize_checkpoint(const io::ModelDir& in, const QuantizeOptions& opts);

}  // namespace lowbit::pipeline
