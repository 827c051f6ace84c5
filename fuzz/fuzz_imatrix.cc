// libFuzzer: the importance-matrix reader (llama.cpp's GGUF form and the legacy .dat form) on
// arbitrary bytes. Any input must either raise UserError or give entries whose sums split into
// their matrices, whose importance vectors are finite or refused with a UserError.
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "io/imatrix_file.h"

using namespace lowbit::io;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Imatrix m;
  try {
    m = parse_imatrix(data, size, "fuzz");
  } catch (const lowbit::UserError&) {
    return 0;
  }
  if (m.entries.empty()) std::abort();
  for (const auto& [name, e] : m.entries) {
    if (name.empty() || e.counts.empty() || e.sums.empty() || e.sums.size() % e.counts.size() != 0) std::abort();
    for (int64_t c : e.counts)
      if (c < 0) std::abort();
    if (m.format == ImatrixFormat::Legacy && e.counts.size() != 1) std::abort();
  }
  try {
    const auto v = importance_vectors(m);
    if (v.size() != m.entries.size()) std::abort();
    for (const auto& [name, x] : v) {
      if (x.size() != m.entries.at(name).sums.size()) std::abort();
      for (float f : x)
        if (!std::isfinite(f)) std::abort();
    }
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
