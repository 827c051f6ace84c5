// The compressed-tensors checkpoint writer: sharded safetensors (model.safetensors or
// model-0000i-of-0000n.safetensors with model.safetensors.index.json), config.json with the
// quantization_config llm-compressor writes, recipe.yaml, quantization_report.json and the
// source's tokenizer files, in a hidden temporary folder renamed into place on commit.
#pragma once
#include <memory>
#include <vector>

#include "export/checkpoint_writer.h"

namespace lowbit::exporter {

// Checks the free space for the planned tensors and creates the temporary folder;
// UserError if the output exists (without overwrite) or the disk is too small.
std::unique_ptr<CheckpointWriter> compressed_tensors_writer(const WriterOptions& options,
                                                            const std::vector<PlannedTensor>& plan);

// quantization_report.json: the groups and each module's weight error.
nlohmann::json quantization_report(const CheckpointMetadata& meta);

}  // namespace lowbit::exporter
