// libFuzzer: the GGUF header parser on arbitrary bytes. Any input must either raise UserError or
// parse into tensors that lie inside the buffer at the offsets llama.cpp requires, and whose
// header, written again by our encoder, parses back to the same keys, values and tensors.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/gguf.h"

using namespace lowbit::io;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  GgufHeader h;
  try {
    h = parse_gguf_header(data, size, "fuzz");
  } catch (const lowbit::UserError&) {
    return 0;
  }
  if (h.alignment == 0 || (h.alignment & (h.alignment - 1)) != 0) std::abort();
  if (h.data_start > size) std::abort();
  uint64_t expected = 0;
  for (const auto& t : h.tensors) {
    if (t.offset != expected || h.data_start + t.offset + t.nbytes > size) std::abort();
    if (t.name.empty() || t.name.size() > kGgufMaxNameBytes || t.ne.empty() || t.ne.size() > kGgufMaxDims) std::abort();
    auto n = gguf_tensor_nbytes(t.type, t.ne);
    if (!n || *n != t.nbytes) std::abort();
    expected += (t.nbytes + h.alignment - 1) / h.alignment * h.alignment;
  }
  for (const auto& [key, v] : h.metadata) {
    if (v.is_array()) (void)v.array_size();
    if (v.type() == GgufValueType::STRING) (void)v.as_string();
  }
  // Re-encode the header and append the data section: the same file, as our writer lays it out.
  std::string again = encode_gguf_header(h.metadata, h.tensors, h.alignment);
  if (!h.tensors.empty()) again.append(reinterpret_cast<const char*>(data + h.data_start), size - h.data_start);
  GgufHeader h2;
  try {
    h2 = parse_gguf_header(reinterpret_cast<const uint8_t*>(again.data()), again.size(), "fuzz-again");
  } catch (const lowbit::UserError&) {
    std::abort();
  }
  if (h2.metadata != h.metadata || h2.tensors.size() != h.tensors.size()) std::abort();
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const auto &a = h.tensors[i], &b = h2.tensors[i];
    if (a.name != b.name || a.type != b.type || a.offset != b.offset || a.nbytes != b.nbytes) std::abort();
  }
  return 0;
}
