#include "pipeline/stream.h"

#include "core/interrupt.h"
#include "export/compressed_tensors_writer.h"

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

void write_checkpoint(const std::vector<StreamStep>& steps, exporter::CheckpointMetadata meta,
                      const QuantizeOptions& opts, const std::string& label, QuantizeSummary& sum) {
  auto writer = exporter::compressed_tensors_writer(opts.writer, planned_tensors(steps));
  sum.seconds = run_stream(steps, *writer, label, opts.progress);
  meta.errors = sum.errors;
  const exporter::WriteResult r = writer->commit(meta);
  for (const auto& s : steps) sum.input_bytes += s.input_bytes;
  sum.output_bytes = r.bytes;
  sum.shards = r.shards;
}

}  // namespace lowbit::pipeline
