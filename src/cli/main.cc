// lowbit: quantize LLM checkpoints to low-bit formats and inspect the result.
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/interrupt.h"

namespace {

// libgomp reads its wait policy once, as it loads (before main). Its default keeps idle threads
// spinning at every barrier; on cores shared with other work (a build, a second job, CI) that made
// runs 3-17x slower than with PASSIVE, which costs little when the cores are free (docs/engine.md).
// Unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), start again with PASSIVE.
void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lowbit;
  prefer_passive_openmp(argv);
  CLI::App app{"lowbit " LOWBIT_VERSION
               ": quantize LLM checkpoints (BF16/FP16) to low-bit compressed-tensors checkpoints"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  lowbit quantize ./Qwen2.5-7B-Instruct -o ./Qwen2.5-7B-W4A16 --scheme W4A16 --ignore lm_head\n"
      "  lowbit inspect ./Qwen2.5-7B-W4A16\n"
      "  lowbit formats --quantize 0.12,-0.41,0.93 --scheme NVFP4A16 --group-size 16\n"
      "Run 'lowbit <command> --help' for a command's options.");
  cli::register_quantize(app);
  cli::register_inspect(app);
  cli::register_dequantize(app);
  cli::register_formats(app);
  cli::register_forward(app);
  cli::register_tokenize(app);
  cli::register_eval(app);
  cli::register_generate(app);
  cli::register_imatrix(app);
  cli::register_convert(app);
  install_interrupt_handlers();
  try {
    app.parse(argc, argv);
    return cli::run_selected(app);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 1;
  }
}
