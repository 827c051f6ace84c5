#include "tokenizer/byte_level.h"

#include "core/utf8.h"

namespace lowbit::tokenizer {

const ByteMap& byte_map() {
  static const ByteMap m = [] {
    ByteMap b;
    int k = 0;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
      append_utf8(b.to_unicode[c], printable ? uint32_t(c) : uint32_t(256 + k++));
      b.to_byte[b.to_unicode[c]] = uint8_t(c);
    }
    return b;
  }();
  return m;
}

}  // namespace lowbit::tokenizer
