// libFuzzer: config.json -> architecture. Bad input must be a UserError.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "model/architecture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return 0;
  try {
    auto a = lowbit::model::architecture_from_config(j, "fuzz");
    if (a.num_layers > 100000) return 0;
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
