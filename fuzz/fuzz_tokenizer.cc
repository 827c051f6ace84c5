// libFuzzer: tokenizer.json parsing and encoding on arbitrary bytes. The input is split at
// the first NUL: before it a tokenizer.json, after it a text to encode and decode. Either
// it loads (and every id it produces is inside the vocabulary) or it raises UserError.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string json = all.substr(0, nul), text = nul == std::string::npos ? "" : all.substr(nul + 1);
  try {
    auto tok = lowbit::tokenizer::Tokenizer::from_json_text(json, "fuzz");
    auto ids = tok.encode(text);
    for (int32_t id : ids)
      if (id < 0 || size_t(id) >= tok.vocab_size()) std::abort();
    (void)tok.decode(ids);
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
