#include "pipeline/gguf_to_hf.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/interrupt.h"
#include "export/gguf_model.h"
#include "export/sharded_writer.h"
#include "io/atomic_dir.h"
#include "io/file_util.h"
#include "io/gguf.h"
#include "model/architecture.h"
#include "numerics/half.h"

namespace lowbit::pipeline {

namespace fs = std::filesystem;

namespace {
// A token or template that is not UTF-8 cannot go into JSON unchanged.
std::string json_text(const nlohmann::json& j, const std::string& what, const fs::path& input) {
  try {
    return j.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    throw UserError(input.string() + ": the " + what + " it holds is not valid UTF-8 (" + e.what() + ")");
  }
}
}  // namespace

GgufToHfSummary gguf_to_hf(const GgufToHfOptions& o) {
  if (o.dtype != DType::BF16 && o.dtype != DType::F16 && o.dtype != DType::F32)
    throw std::logic_error("gguf_to_hf: dtype must be BF16, F16 or F32");
  const char* torch_dtype = o.dtype == DType::BF16 ? "bfloat16" : o.dtype == DType::F16 ? "float16" : "float32";
  io::GgufFile f(o.input);
  // Everything that can be refused is refused before the output folder exists.
  const exporter::GgufHfModel hf = exporter::gguf_hf_model(f, torch_dtype);
  const model::Architecture arch =
      model::architecture_from_config(hf.config, o.input.string() + " (config.json from its metadata)");
  const std::vector<exporter::GgufParam> params = exporter::gguf_params(f, hf.gguf_arch, arch);

  GgufToHfSummary sum;
  sum.gguf_arch = hf.gguf_arch;
  sum.tied = arch.tied_embeddings;
  uint64_t bytes = 0;
  for (const auto& p : params) bytes += io::TensorSpec{p.hf, o.dtype, p.shape}.nbytes();
  const fs::path parent = fs::absolute(o.output).parent_path();
  if (const uint64_t need = bytes + (64u << 20), avail = io::free_bytes(parent); need > avail)
    throw UserError(parent.string() + ": not enough disk space: output needs " + Progress::human_bytes(double(need)) +
                    ", " + Progress::human_bytes(double(avail)) + " free");
  io::AtomicDir dir(o.output, o.overwrite);
  exporter::ShardedWriter shards(dir.tmp(), o.max_shard_bytes);
  for (const auto& p : params) shards.add_unit({{p.hf, o.dtype, p.shape}});
  shards.start();
  Progress progress("convert", params.size(), bytes, o.progress, "tensors");
  std::vector<uint8_t> buf;
  for (const auto& p : params) {
    check_interrupted();
    const std::vector<float> v = exporter::gguf_param_f32(f, p);
    f.release(*p.tensor);
    buf.resize(v.size() * dtype_size(o.dtype));
    for (size_t i = 0; i < v.size(); ++i) {
      // float16 would turn a large weight into inf without a word.
      if (o.dtype == DType::F16 && std::isfinite(v[i]) && std::fabs(v[i]) > 65504.0f)
        throw UserError(o.input.string() + ": " + p.hf + " holds " + std::to_string(v[i]) +
                        ", past float16's range; use --dtype bfloat16 or float32");
      store_from_f32(buf.data(), i, o.dtype, v[i]);
    }
    shards.write(p.hf, buf.data(), buf.size());
    progress.advance(1, buf.size());
  }
  shards.finish();
  progress.finish();
  io::write_text_file(dir.tmp() / "config.json", json_text(hf.config, "configuration", o.input));
  io::write_text_file(dir.tmp() / "generation_config.json", json_text(hf.generation_config, "configuration", o.input));
  io::write_text_file(dir.tmp() / "tokenizer.json", json_text(hf.tokenizer, "tokenizer", o.input));
  io::write_text_file(dir.tmp() / "tokenizer_config.json", json_text(hf.tokenizer_config, "tokenizer configuration", o.input));
  dir.commit();
  sum.tensors = params.size();
  sum.bytes = shards.total_bytes();
  sum.shards = shards.num_shards();
  sum.seconds = progress.elapsed_seconds();
  return sum;
}

}  // namespace lowbit::pipeline
