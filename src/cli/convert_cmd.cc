// `lowbit convert`: a GGUF model file back to a Hugging Face folder (dequantized weights,
// config and tokenizer rebuilt from the metadata).
#include <cstdio>

#include "cli/commands.h"
#include "cli/runner.h"
#include "core/error.h"
#include "pipeline/gguf_to_hf.h"

namespace lowbit::cli {

void register_convert(CLI::App& app) {
  static std::string input, output, dtype = "bfloat16", max_shard = "5GB", progress = "auto";
  static bool overwrite = false;
  static int threads = 0;
  CLI::App* sub = app.add_subcommand("convert", "A GGUF model file (llama, qwen2, qwen3) back to a Hugging Face folder");
  sub->add_option("input", input, "GGUF model file")->required();
  sub->add_option("-o,--output", output, "Output folder")->required();
  sub->add_option("--dtype", dtype, "Weights dtype: bfloat16 | float16 | float32")
      ->check(CLI::IsMember({"bfloat16", "float16", "float32"}))
      ->capture_default_str();
  sub->add_flag("--overwrite", overwrite, "Replace the output folder if it exists");
  sub->add_option("--max-shard-size", max_shard, "Largest output shard")->capture_default_str();
  sub->add_option("--progress", progress, "auto | bar | lines | off")->capture_default_str();
  sub->add_option("--threads", threads, "Threads (default: all cores)");
  sub->footer(
      "Every tensor is dequantized (ggml's decoders) to --dtype; config.json, tokenizer.json,\n"
      "tokenizer_config.json (chat template) and generation_config.json come from the metadata.\n"
      "Example:\n  lowbit convert SmolLM2-135M-Instruct-Q4_K_M.gguf -o ./smol-bf16");
  register_runner("convert", [] {
    set_threads(threads);
    pipeline::GgufToHfOptions o;
    o.input = input;
    o.output = output;
    o.dtype = dtype == "bfloat16" ? DType::BF16 : dtype == "float16" ? DType::F16 : DType::F32;
    o.overwrite = overwrite;
    o.max_shard_bytes = parse_size(max_shard);
    o.progress = parse_progress_mode(progress);
    const auto s = pipeline::gguf_to_hf(o);
    std::printf("converted %s (%s, %zu tensors%s) to %s: %s in %d shard%s\n", input.c_str(), s.gguf_arch.c_str(),
                s.tensors, s.tied ? ", tied embeddings" : "", output.c_str(), Progress::human_bytes(double(s.bytes)).c_str(),
                s.shards, s.shards == 1 ? "" : "s");
    return 0;
  });
}

}  // namespace lowbit::cli
