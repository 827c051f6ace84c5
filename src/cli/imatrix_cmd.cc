// `lowbit imatrix`: llama-imatrix's importance matrix from a Hugging Face folder and a
// calibration text, in llama.cpp's GGUF or legacy .dat form.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/imatrix_flags.h"
#include "cli/runner.h"
#include "core/error.h"
#include "core/log.h"
#include "io/imatrix_file.h"
#include "io/model_dir.h"
#include "model/architecture.h"
#include "model/gguf_names.h"
#include "pipeline/imatrix_collect.h"

namespace lowbit::cli {

io::Imatrix compute_imatrix(const io::ModelDir& in, const model::Architecture& arch, const ImatrixFlags& f,
                            ProgressMode progress) {
  model::gguf_arch(arch);  // before any work: an architecture llama.cpp does not load is refused
  pipeline::ImatrixDataOptions d;
  d.calib = f.calib;
  d.samples = f.samples;
  d.seq_len = f.seq_len;
  d.seed = f.seed;
  d.gguf_pre = f.gguf_pre;
  d.progress = progress;
  const pipeline::ImatrixData data = pipeline::imatrix_data(in, arch, d);
  log::info("imatrix calibration: " + data.description);
  pipeline::ImatrixCollectOptions c;
  c.process_output = f.process_output;
  c.chunk_size = f.seq_len;
  c.datasets = {f.calib};
  c.progress = progress;
  return pipeline::collect_imatrix(in, arch, data.chunks, c);
}

namespace {

struct Flags {
  std::string model, output, format = "gguf", progress = "auto";
  ImatrixFlags im;
  int threads = 0;
  bool overwrite = false;
};

int run(const Flags& f) {
  set_threads(f.threads);
  const io::ImatrixFormat format = f.format == "dat" ? io::ImatrixFormat::Legacy : io::ImatrixFormat::Gguf;
  const std::filesystem::path folder = std::filesystem::absolute(f.output).parent_path();
  if (!std::filesystem::is_directory(folder))  // before any work
    throw UserError(folder.string() + ": output's folder does not exist");
  if (std::filesystem::exists(f.output) && !f.overwrite)
    throw UserError(f.output + ": already exists (pass --overwrite to replace it)");
  if (format == io::ImatrixFormat::Gguf && !f.output.ends_with(".gguf"))
    log::warn(f.output + ": written in the GGUF form (llama.cpp's default); --output-format dat writes the legacy form");
  io::ModelDir in(f.model);
  const model::Architecture arch = model::architecture_from_config(in.config(), (in.path() / "config.json").string());
  const io::Imatrix m = compute_imatrix(in, arch, f.im, parse_progress_mode(f.progress));
  io::write_imatrix(m, f.output, format);
  int64_t tokens = 0;
  for (const auto& [name, e] : m.entries) tokens = std::max(tokens, e.counts[0]);
  std::printf("imatrix: %zu entries, %lld tokens (%u chunks of %u) -> %s (%s)\n", m.entries.size(),
              static_cast<long long>(tokens), m.chunk_count, m.chunk_size, f.output.c_str(),
              io::imatrix_format_name(format));
  return 0;
}

}  // namespace

void add_imatrix_calibration_flags(CLI::App* sub, ImatrixFlags& f) {
  sub->add_option("--samples", f.samples, "Chunks to use (0: every chunk of the text; llama-imatrix --chunks)")
      ->capture_default_str();
  sub->add_option("--seq-len", f.seq_len, "Tokens per chunk (llama-imatrix -c)")->capture_default_str();
  sub->add_option("--seed", f.seed, "Seed for drawing .jsonl documents and self:N samples (plain text is cut in order)")
      ->capture_default_str();
  sub->add_flag("--process-output", f.process_output,
                "Also collect output.weight (lm_head; llama-imatrix --process-output; nothing for a tied head)");
}

void register_imatrix(CLI::App& app) {
  static Flags f;
  CLI::App* sub = app.add_subcommand(
      "imatrix", "Compute llama.cpp's importance matrix (llama-imatrix) of a Hugging Face model on calibration text");
  sub->add_option("model", f.model, "Model folder (config.json + *.safetensors)")->required();
  sub->add_option("--calib", f.im.calib,
                  "Calibration data: plain text (cut into --seq-len chunks as llama-imatrix cuts them), .jsonl "
                  "(\"text\" or chat \"messages\"), or self:N")
      ->required();
  add_imatrix_calibration_flags(sub, f.im);
  sub->add_option("-o,--output", f.output, "Output file (written to a temporary sibling, then renamed)")->required();
  sub->add_option("--output-format", f.format, "gguf (llama.cpp's default) | dat (the legacy form)")
      ->check(CLI::IsMember({"gguf", "dat"}))
      ->capture_default_str();
  sub->add_flag("--overwrite", f.overwrite, "Replace the output file if it exists");
  sub->add_option("--threads", f.threads, "Threads (default: all cores)");
  sub->add_option("--progress", f.progress, "auto | bar | lines | off")->capture_default_str();
  sub->footer(
      "Examples:\n"
      "  lowbit imatrix ./Llama-3.2-1B --calib wiki.train.raw --samples 100 --seq-len 512 -o llama-1b.imatrix.gguf\n"
      "  lowbit imatrix ./model --calib calib.txt -o model.imatrix.dat --output-format dat\n"
      "  lowbit quantize ./model -o model-iq4xs.gguf --gguf-type IQ4_XS --imatrix llama-1b.imatrix.gguf\n"
      "The file is llama.cpp's: llama-quantize --imatrix reads it, and lowbit quantize --imatrix reads llama-imatrix's.");
  register_runner("imatrix", [] { return run(f); });
}

}  // namespace lowbit::cli
