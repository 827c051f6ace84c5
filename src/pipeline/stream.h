// The streaming loop every checkpoint conversion shares (quantize, dequantize, and GGUF
// export next): steps planned up front, each producing one planned output tensor from the
// memory-mapped input, written in order, with progress and Ctrl-C checks between steps.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/progress.h"
#include "export/checkpoint_writer.h"

namespace lowbit::pipeline {

class WeightQuantizer;

struct QuantizeOptions {
  exporter::WriterOptions writer;
  ProgressMode progress = ProgressMode::Auto;
  WeightQuantizer* quantizer = nullptr;  // null: round-to-nearest
  nlohmann::json calibration;            // recorded in recipe.yaml and the report (null: no calibration)
};

struct QuantizeSummary {
  std::vector<exporter::ModuleError> errors;
  int quantized_modules = 0;
  int copied_tensors = 0;
  uint64_t input_bytes = 0;   // tensor bytes read
  uint64_t output_bytes = 0;  // tensor bytes written
  int shards = 0;
  double seconds = 0;
};

struct StreamStep {
  exporter::PlannedTensor out;
  uint64_t input_bytes = 0;  // what the step reads (the progress volume)
  // Writes `out` (and only it) to the writer.
  std::function<void(exporter::CheckpointWriter&)> produce;
};

// The planned tensors of the steps, in order (for the writer).
std::vector<exporter::PlannedTensor> planned_tensors(const std::vector<StreamStep>& steps);

// Runs every step into the writer; returns the seconds taken. Throws Interrupted on Ctrl-C
// (the writer, not committed, then removes its temporary output).
double run_stream(const std::vector<StreamStep>& steps, exporter::CheckpointWriter& writer, const std::string& label,
                  ProgressMode mode);

// The whole conversion: a compressed-tensors writer for the steps' tensors, the steps run
// into it, then commit with `meta` (its errors taken from what the steps put in `sum`);
// `sum` gets the sizes, shard count and time.
void write_checkpoint(const std::vector<StreamStep>& steps, exporter::CheckpointMetadata meta,
                      const QuantizeOptions& opts, const std::string& label, QuantizeSummary& sum);

}  // namespace lowbit::pipeline
