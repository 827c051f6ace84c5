// QuantArgs / QuantScheme mirror compressed-tensors' QuantizationArgs and
// QuantizationScheme field for field, so a config written by llm-compressor and
// one written by lowbit are the same JSON.
#pragma once
#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lowbit::quant {

enum class QType { Int, Float };
enum class Strategy { Tensor, Channel, Group, Block, Token, TensorGroup, AttnHead };

std::string to_string(QType t);
std::string to_string(Strategy s);
Strategy parse_strategy(const std::string& name, const std::string& where);  // UserError if unknown

// Why actorder group is refused: compressed-tensors (0.19, 2026-08) and llm-compressor (0.14)
// removed it, and today's compressed-tensors rejects a config that has it, so vLLM and
// transformers could not load such a checkpoint. `where` names the recipe or tensor.
std::string actorder_group_removed(const std::string& where);

struct QuantArgs {
  int num_bits = 8;
  QType type = QType::Int;
  bool symmetric = true;
  std::optional<int> group_size;
  Strategy strategy = Strategy::Tensor;
  std::optional<std::vector<int>> block_structure;
  nlohmann::json dynamic = false;  // false, true or "local"
  std::optional<std::string> actorder;  // null, "static"/"weight", "group"/"dynamic"
  std::optional<std::string> observer;
  nlohmann::json observer_kwargs = nlohmann::json::object();
  std::optional<std::string> scale_dtype;
  std::optional<std::string> zp_dtype;
  // lowbit's own choice, not a compressed-tensors field (never serialised): symmetric
  // int codes in [-(2^(b-1)-1), 2^(b-1)-1] with scale amax/(2^(b-1)-1), e.g. [-7,7] and
  // amax/7 for int4, instead of compressed-tensors' [-8,7] with amax/7.5.
  bool restricted_range = false;

  bool is_dynamic() const;  // dynamic true or "local": scales computed at run time
  bool actorder_group() const;  // "group"/"dynamic": groups in activation order (weight_g_idx)
  int qmin() const;  // signed integer range for int types
  int qmax() const;
  bool operator==(const QuantArgs&) const = default;
};

struct QuantScheme {
  std::vector<std::string> targets;
  std::optional<QuantArgs> weights;
  std::optional<QuantArgs> input_activations;
  std::optional<QuantArgs> output_activations;
  std::optional<std::string> format;
  bool operator==(const QuantScheme&) const = default;
};

// Parse a QuantizationArgs dict (from JSON or converted YAML). Applies compressed-tensors'
// defaults and validators (strategy inference, observer default, zp_dtype inference)
// and rejects unknown keys. `where` prefixes error messages.
QuantArgs parse_quant_args(const nlohmann::json& j, const std::string& where);
QuantScheme parse_quant_scheme(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const QuantArgs& a);
nlohmann::json to_json(const QuantScheme& s);
// "128x128" -> {128, 128} (positive); UserError naming `what` otherwise.
std::array<int, 2> parse_block_shape(const std::string& text, const std::string& what);

}  // namespace lowbit::quant
