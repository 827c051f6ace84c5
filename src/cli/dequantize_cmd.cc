// `lowbit dequantize`: a compressed-tensors checkpoint back to dense weights.
#include <cstdio>

#include "cli/commands.h"
#include "cli/runner.h"
#include "io/model_dir.h"
#include "pipeline/dequantize_checkpoint.h"

namespace lowbit::cli {

void register_dequantize(CLI::App& app) {
  static std::string model, output, max_shard = "5GB";
  static bool overwrite = false;
  static int threads = 0;
  CLI::App* sub = app.add_subcommand("dequantize", "Decompress a compressed-tensors checkpoint to dense weights");
  sub->add_option("model", model, "Quantized model folder")->required();
  sub->add_option("-o,--output", output, "Output folder")->required();
  sub->add_flag("--overwrite", overwrite, "Replace the output folder if it exists");
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->add_option("--max-shard-size", max_shard, "Largest output shard")->capture_default_str();
  sub->footer("Example:\n  lowbit dequantize ./model-W4A16 -o ./model-W4A16-dense");
  register_runner("dequantize", [] {
    set_threads(threads);
    io::ModelDir in(model);
    pipeline::QuantizeOptions opts;
    opts.writer.output = output;
    opts.writer.overwrite = overwrite;
    opts.writer.max_shard_bytes = parse_size(max_shard);
    const auto s = pipeline::dequantize_checkpoint(in, opts);
    std::printf("%s", pipeline::summary_line(s, output, "decompressed").c_str());
    return 0;
  });
}

}  // namespace lowbit::cli
