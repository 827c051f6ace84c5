// Subcommands register their options on the app; run_selected runs the parsed one.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace lowbit::cli {

void register_quantize(CLI::App& app);
void register_inspect(CLI::App& app);
void register_dequantize(CLI::App& app);
void register_formats(CLI::App& app);
void register_forward(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_eval(CLI::App& app);
void register_generate(CLI::App& app);
void register_imatrix(CLI::App& app);
void register_convert(CLI::App& app);
int run_selected(CLI::App& app);

// "5GB", "500MB", "1.5G", "1000000" -> bytes. Throws UserError.
uint64_t parse_size(const std::string& s);
void set_threads(int threads);

}  // namespace lowbit::cli
