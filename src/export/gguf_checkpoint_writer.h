// The GGUF file as a checkpoint writer: the pipeline's streaming loop (pipeline/stream.h)
// hands it each tensor's ggml-encoded bytes in the planned order; the metadata and every
// tensor info are fixed up front (a GGUF header precedes the data), and the file appears at
// its path only when commit() has written the last byte.
#pragma once
#include <memory>
#include <vector>

#include "export/checkpoint_writer.h"
#include "export/gguf_metadata.h"
#include "io/gguf.h"

namespace lowbit::exporter {

// `tensors`: GGUF names, ggml shapes and types in file order (offsets are computed).
std::unique_ptr<CheckpointWriter> gguf_checkpoint_writer(const WriterOptions& options, const GgufMetadata& metadata,
                                                         const std::vector<io::GgufTensorInfo>& tensors);

}  // namespace lowbit::exporter
