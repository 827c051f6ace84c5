// `lowbit inspect`: what a checkpoint holds, how it is quantized, and its size; for a .gguf
// file, its version, architecture, keys and tensors by type.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/runner.h"
#include "export/checkpoint_info.h"
#include "io/gguf.h"
#include "io/gguf_info.h"
#include "io/model_dir.h"

namespace lowbit::cli {

void register_inspect(CLI::App& app) {
  static std::string model;
  static bool as_json = false;
  CLI::App* sub = app.add_subcommand("inspect", "Describe a checkpoint (original or quantized) or a GGUF file");
  sub->add_option("model", model, "Model folder or .gguf file")->required();
  sub->add_flag("--json", as_json, "Machine-readable JSON on stdout");
  sub->footer("Example:\n  lowbit inspect ./Qwen2.5-7B-Instruct-W4A16-G128 --json\n  lowbit inspect model-Q4_K_M.gguf");
  register_runner("inspect", [] {
    if (std::filesystem::is_regular_file(model)) {  // a folder is a checkpoint, a file a GGUF
      io::GgufFile f(model);
      if (as_json)
        std::printf("%s\n", io::gguf_info_json(f).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      else
        std::printf("%s", io::gguf_info_text(f).c_str());
      return 0;
    }
    io::ModelDir dir(model);
    auto info = exporter::inspect_checkpoint(dir);
    if (as_json) std::printf("%s\n", exporter::to_json(info).dump(2).c_str());
    else std::printf("%s", exporter::to_text(info).c_str());
    return 0;
  });
}

}  // namespace lowbit::cli
