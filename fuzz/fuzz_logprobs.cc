// libFuzzer: the --base-logits reader on arbitrary bytes (written to a file first, as the
// reader maps files). Either the header validates and every row decodes inside the file,
// or it raises UserError.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/logprob_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/lowbit-fuzz-logprobs-" + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    lowbit::eval::LogProbReader r(path);
    const auto& h = r.header();
    std::vector<double> row;
    uint32_t argmax = 0;
    for (uint32_t c = 0; c < h.chunks && c < 4; ++c) {
      (void)r.chunk_tokens(c)[h.ctx - 1];
      for (uint32_t i = 0; i < h.rows_per_chunk() && i < 4; ++i) r.row(c, i, row, argmax);
    }
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
