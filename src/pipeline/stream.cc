#include "pipeline/stream.h"

#include "core/interrupt.h"

namespace lowbit::pipeline {

std::vector<exporter::PlannedTensor> planned_tensors(const std::vector<StreamStep>& steps) {
  std::vector<exporter::PlannedTensor> out;
  for (const auto& s : steps) out.push_back(s.out);
  return out;
}

double run_stream(const std::vector<StreamStep>& steps, exporter::CheckpointWriter& writer, const std::string& label,
                  ProgressMode mode) {
  uint64_t total = 0;
  for (const auto& s : steps) total += s.input_bytes;
  Progress progress(label, steps.size(), total, mode);
  for (const auto& s : steps) {
    check_interrupted();
    s.produce(writer);
    progress.advance(1, s.input_bytes);
  }
  progress.finish();
  check_interrupted();
  return progress.elapsed_seconds();
}

}  // namespace lowbit::pipeline
