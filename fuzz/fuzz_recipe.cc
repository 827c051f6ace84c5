// libFuzzer: llm-compressor recipe YAML parsing and the compressed-tensors
// quantization_config reader. Bad input must be a UserError, nothing else.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "export/checkpoint_info.h"
#include "quant/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto r = lowbit::quant::parse_recipe_yaml(text, "fuzz");
    (void)lowbit::quant::recipe_to_yaml(r);
  } catch (const lowbit::UserError&) {
  }
  try {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) (void)lowbit::exporter::recipe_from_quantization_config(j, "fuzz");
  } catch (const lowbit::UserError&) {
  }
  return 0;
}
