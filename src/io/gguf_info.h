// What a GGUF file holds, for `lowbit inspect FILE.gguf`: version, architecture, counts, bytes
// per tensor type, and (as JSON) every key with its type and value.
#pragma once
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "io/gguf.h"

namespace lowbit::io {

// A value as JSON: numbers, bools, strings, or lists of them (f32 as the double it widens to).
// An array longer than `max_elements` becomes {"length": N} alone.
nlohmann::json gguf_value_json(const GgufValue& v, size_t max_elements = std::numeric_limits<size_t>::max());

// {"format": "gguf", "version", "architecture", "alignment", "file_bytes", "key_count",
//  "tensor_count", "types": [{"type", "tensors", "bytes"}], "metadata": [{"key", "type", "value"}],
//  "tensors": [{"name", "ne", "type", "offset", "bytes"}]}; arrays over 16 elements by length.
nlohmann::json gguf_info_json(const GgufFile& f);
std::string gguf_info_text(const GgufFile& f);

}  // namespace lowbit::io
