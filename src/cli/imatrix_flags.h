// The calibration flags `lowbit imatrix` and `lowbit quantize --gguf-type T --calib` share, and
// the importance matrix they compute.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "core/progress.h"
#include "io/imatrix_file.h"
#include "io/model_dir.h"
#include "model/architecture.h"

namespace lowbit::cli {

struct ImatrixFlags {
  std::string calib;
  int64_t samples = 0;    // 0: every chunk, as llama-imatrix
  int64_t seq_len = 512;  // llama-imatrix's default context
  uint64_t seed = 42;
  bool process_output = false;
  std::string gguf_pre;  // quantize's --gguf-pre: decides, as in the GGUF, whether texts start with BOS
};

// --samples, --seq-len, --seed, --process-output.
void add_imatrix_calibration_flags(CLI::App* sub, ImatrixFlags& f);

// The calibration chunks of f.calib through the dense model, layer by layer.
io::Imatrix compute_imatrix(const io::ModelDir& in, const model::Architecture& arch, const ImatrixFlags& f,
                            ProgressMode progress);

}  // namespace lowbit::cli
