// ggml-ref: ggml's own quantizer (ggml_quantize_chunk) and decoder (to_float), from the
// llama.cpp that scripts/llama-cpp.sh builds, with ggml-codec's command line, so
// test_ggml_quants.py compares bytes. Compiled by the test against that build's libraries.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <strings.h>
#include <string>
#include <vector>

#include "ggml.h"
#include "ggml-cpu.h"

namespace {

std::vector<char> read_file(const char* path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_file(const char* path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), std::streamsize(n));
}

ggml_type type_arg(const std::string& name) {
  for (int i = 0; i < GGML_TYPE_COUNT; ++i) {
    const char* n = ggml_type_name(ggml_type(i));
    if (n && ggml_type_size(ggml_type(i)) != 0 && strcasecmp(n, name.c_str()) == 0) return ggml_type(i);
  }
  std::fprintf(stderr, "unknown type %s\n", name.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  ggml_cpu_init();
  if (cmd == "quantize" && (argc == 7 || argc == 8)) {
    const ggml_type t = type_arg(argv[2]);
    const int64_t rows = std::atoll(argv[3]), cols = std::atoll(argv[4]);
    const auto x = read_file(argv[5]);
    std::vector<char> w;
    if (argc == 8) w = read_file(argv[7]);
    std::vector<char> y(ggml_row_size(t, cols) * rows);
    ggml_quantize_init(t);
    ggml_quantize_chunk(t, reinterpret_cast<const float*>(x.data()), y.data(), 0, rows, cols,
                        w.empty() ? nullptr : reinterpret_cast<const float*>(w.data()));
    write_file(argv[6], y.data(), y.size());
    return 0;
  }
  if (cmd == "dequantize" && argc == 6) {
    const ggml_type t = type_arg(argv[2]);
    const int64_t n = std::atoll(argv[3]);
    const auto x = read_file(argv[4]);
    std::vector<float> y(n);
    const auto* traits = ggml_get_type_traits(t);
    if (traits->to_float)
      traits->to_float(x.data(), y.data(), n);
    else  // F32 has no to_float in ggml's table: its bytes are the floats
      std::memcpy(y.data(), x.data(), size_t(n) * sizeof(float));
    write_file(argv[5], y.data(), y.size() * 4);
    return 0;
  }
  std::fprintf(stderr, "usage: ggml-ref quantize TYPE ROWS COLS IN OUT [IMATRIX] | dequantize TYPE N IN OUT\n");
  return 2;
}
