// libFuzzer: the safetensors header parser on arbitrary bytes. Any input must either
// parse into tensors that lie inside the buffer or raise UserError.
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto h = lowbit::io::parse_safetensors_header(data, size, "fuzz");
    for (const auto& t : h.tensors)
      if (h.data_start + t.end > size || t.begin > t.end) std::abort();
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
