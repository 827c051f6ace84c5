// `lowbit inspect`: what a checkpoint holds, how it is quantized, and its size.
#include <cstdio>

#include "cli/commands.h"
#include "cli/runner.h"
#include "export/checkpoint_info.h"
#include "io/model_dir.h"

namespace lowbit::cli {

void register_inspect(CLI::App& app) {
  static std::string model;
  static bool as_json = false;
  CLI::App* sub = app.add_subcommand("inspect", "Describe a checkpoint (original or quantized)");
  sub->add_option("model", model, "Model folder")->required();
  sub->add_flag("--json", as_json, "Machine-readable JSON on stdout");
  sub->footer("Example:\n  lowbit inspect ./Qwen2.5-7B-Instruct-W4A16-G128 --json");
  register_runner("inspect", [] {
    io::ModelDir dir(model);
    auto info = exporter::inspect_checkpoint(dir);
    if (as_json) std::printf("%s\n", exporter::to_json(info).dump(2).c_str());
    else std::printf("%s", exporter::to_text(info).c_str());
    return 0;
  });
}

}  // namespace lowbit::cli
