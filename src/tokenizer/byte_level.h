// GPT-2's bytes_to_unicode: the byte-level alphabet of ByteLevel pre-tokenizers and decoders
// (printable bytes map to themselves, the rest to U+0100 + k).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

namespace lowbit::tokenizer {

struct ByteMap {
  std::string to_unicode[256];
  std::unordered_map<std::string, uint8_t> to_byte;
};
const ByteMap& byte_map();

}  // namespace lowbit::tokenizer
