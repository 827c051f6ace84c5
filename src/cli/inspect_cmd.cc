// `lowbit inspect`: what a checkpoint holds, how it is quantized, and its size; for a .gguf
// file, its version, architecture, keys and tensors by type.
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/runner.h"
#include "export/checkpoint_info.h"
#include "io/gguf.h"
#include "io/gguf_info.h"
#include "io/imatrix_file.h"
#include "io/model_dir.h"

namespace lowbit::cli {

namespace {

// llama.cpp's rule: what is not a GGUF is a legacy imatrix; a GGUF says so in general.type.
bool is_imatrix_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  if (!in || std::memcmp(magic, "GGUF", 4) != 0) return true;
  io::GgufFile f(path);
  const io::GgufValue* t = f.find("general.type");
  return t && t->type() == io::GgufValueType::STRING && t->as_string() == "imatrix";
}

int print_imatrix(const io::Imatrix& m, bool as_json) {
  int64_t fewest = -1, most = 0;
  for (const auto& [name, e] : m.entries)
    for (int64_t c : e.counts) fewest = fewest < 0 ? c : std::min(fewest, c), most = std::max(most, c);
  if (as_json) {
    nlohmann::json j = {{"kind", "imatrix"},
                        {"format", io::imatrix_format_name(m.format)},
                        {"datasets", m.datasets},
                        {"chunk_count", m.chunk_count},
                        {"chunk_size", m.chunk_size},
                        {"entries", nlohmann::json::array()}};
    for (const auto& [name, e] : m.entries)
      j["entries"].push_back({{"name", name}, {"ne0", e.ne0()}, {"matrices", e.counts.size()}, {"counts", e.counts}});
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  const bool legacy = m.format == io::ImatrixFormat::Legacy;
  std::printf("importance matrix, %s form\n", io::imatrix_format_name(m.format));
  std::printf("  entries:  %zu (%s ... %s)\n", m.entries.size(), m.entries.begin()->first.c_str(),
              m.entries.rbegin()->first.c_str());
  std::printf("  chunks:   %u", m.chunk_count);
  if (m.chunk_size > 0) std::printf(" of %u tokens", m.chunk_size);
  std::printf("\n  %s%lld", legacy ? "ncall:    " : "tokens:   ", static_cast<long long>(most));
  if (fewest != most) std::printf(" (fewest %lld)", static_cast<long long>(fewest));
  std::printf(" per entry\n");
  for (const auto& d : m.datasets) std::printf("  dataset:  %s\n", d.c_str());
  std::printf("  output.weight: %s\n", m.entries.count("output.weight") ? "present" : "absent");
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app) {
  static std::string model;
  static bool as_json = false;
  CLI::App* sub = app.add_subcommand("inspect", "Describe a checkpoint (original or quantized), a GGUF file or an importance matrix");
  sub->add_option("model", model, "Model folder, .gguf file or imatrix file (GGUF or .dat)")->required();
  sub->add_flag("--json", as_json, "Machine-readable JSON on stdout");
  sub->footer("Example:\n  lowbit inspect ./Qwen2.5-7B-Instruct-W4A16-G128 --json\n  lowbit inspect model-Q4_K_M.gguf\n  lowbit inspect model.imatrix.gguf");
  register_runner("inspect", [] {
    if (std::filesystem::is_regular_file(model)) {  // a folder is a checkpoint, a file a GGUF or an imatrix
      if (is_imatrix_file(model)) return print_imatrix(io::read_imatrix(model), as_json);
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
