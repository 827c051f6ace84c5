#include "export/gguf_checkpoint_writer.h"

#include <filesystem>
#include <optional>
#include <stdexcept>

#include "core/error.h"

namespace lowbit::exporter {

namespace {

class GgufCheckpointWriter : public CheckpointWriter {
 public:
  GgufCheckpointWriter(const WriterOptions& o, const GgufMetadata& kv, const std::vector<io::GgufTensorInfo>& tensors)
  {
    if (std::filesystem::exists(o.output) && !o.overwrite)
      throw UserError(o.output.string() + ": already exists (pass --overwrite to replace it)");
    if (std::filesystem::is_directory(o.output))
      throw UserError(o.output.string() + ": is a folder; a GGUF output is one file");
    writer_.emplace(o.output);
    for (const auto& [k, v] : kv) writer_->set(k, v);
    for (const auto& t : tensors) writer_->add_tensor(t.name, t.ne, t.type);
  }

  void write_dense(const std::string& name, const void* data, size_t nbytes) override {
    writer_->write_tensor(name, data, nbytes);
  }

  void write_quantized(const std::string& module, const QuantizedWeight&) override {
    throw std::logic_error("GGUF output takes ggml-encoded bytes, not a compressed-tensors weight: " + module);
  }

  WriteResult commit(const CheckpointMetadata&) override {
    WriteResult r;
    r.bytes = writer_->finish();
    r.shards = 1;
    return r;
  }

 private:
  std::optional<io::GgufWriter> writer_;
};

}  // namespace

std::unique_ptr<CheckpointWriter> gguf_checkpoint_writer(const WriterOptions& options, const GgufMetadata& metadata,
                                                         const std::vector<io::GgufTensorInfo>& tensors) {
  return std::make_unique<GgufCheckpointWriter>(options, metadata, tensors);
}

}  // namespace lowbit::exporter
