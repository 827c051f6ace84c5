// A hook that sees each Linear's input and output as the forward pass runs, by module:
// calibration collects Hessians (X^T X) and per-channel activation statistics through it.
#pragma once
#include <cstdint>

#include "model/architecture.h"

namespace lowbit::engine {

class LinearObserver {
 public:
  virtual ~LinearObserver() = default;
  // x: [tokens, linear.in_features], row-major, the input the Linear multiplies.
  virtual void on_input(const model::Module& linear, const float* x, int64_t tokens) {}
  // y: [tokens, linear.out_features], its output (bias included).
  virtual void on_output(const model::Module& linear, const float* y, int64_t tokens) {}
};

}  // namespace lowbit::engine
