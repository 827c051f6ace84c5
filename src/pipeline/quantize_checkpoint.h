// Data-free quantization of a checkpoint (round-to-nearest): streams the input module by
// module, quantizes targeted Linear weights, copies every other tensor bit-exactly, and hands
// everything to a checkpoint writer (compressed-tensors), which writes it atomically.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/progress.h"
#include "export/checkpoint_writer.h"
#include "pipeline/stream.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "quant/plan.h"
#include "quant/recipe.h"

namespace lowbit::pipeline {

// Checks the checkpoint holds every tensor the architecture needs, with the right
// shapes and float dtypes. Throws UserError naming the file and tensor.
void validate_checkpoint(const io::ModelDir& in, const model::Architecture& arch);

// Refuses (UserError) a recipe this pipeline cannot run: GPTQModifier without calibration data.
void check_runnable(const quant::Recipe& recipe, bool calibrated, const std::string& label);

QuantizeSummary quantize_checkpoint(const io::ModelDir& in, const model::Architecture& arch,
                                    const quant::Recipe& recipe, const quant::Plan& plan,
                                    const QuantizeOptions& opts);

// The per-module error table and its worst row (empty when nothing was quantized).
std::string error_table(const QuantizeSummary& s, const std::filesystem::path& output, bool report_file = true);
// "wrote OUT: N modules quantized, M tensors copied, ... in T s (R/s)".
std::string summary_line(const QuantizeSummary& s, const std::filesystem::path& output, const char* verb = "quantized");

}  // namespace lowbit::pipeline
