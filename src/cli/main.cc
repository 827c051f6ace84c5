// lowbit: quantize LLM checkpoints to low-bit formats and inspect the result.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/interrupt.h"

int main(int argc, char** argv) {
  using namespace lowbit;
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
