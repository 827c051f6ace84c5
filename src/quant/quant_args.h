// QuantArgs / QuantScheme mirror compressed-tensors' QuantizationArgs and
// QuantizationScheme field for field, so a config written by llm-compressor and
// one written by lowbit are the same JSON.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lowbit::quant {

enum class QType { Int, Float };
enum class Strategy { Tensor, Channel, Group, Block, Token, TensorGroup, AttnHead };

std::string to_string(QType t);
std::string to_string(Strategy s);

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

// Presets named as in compressed-tensors (case-insensitive). Returns nullopt for
// unknown names; `supported_preset_names` lists what this build implements.
std::optional<QuantScheme> preset_scheme(const std::string& name, const std::vector<std::string>& targets);
std::vector<std::string> supported_preset_names();
// Presets compressed-tensors has that lowbit does not implement yet (clear error, not "unknown").
bool is_known_unsupported_preset(const std::string& name);

// Checks the scheme is one lowbit can produce today; throws UserError otherwise.
void check_supported(const QuantScheme& s, const std::string& where);

// The compressed-tensors compression format for a scheme (pack-quantized, ...), inferred
// as compressed-tensors does unless the scheme names one.
std::string compression_format(const QuantScheme& s);
// Why a [rows, cols] weight cannot take these args (group or block width not dividing
// the input size), or "" if it can.
std::string shape_problem(const QuantArgs& args, int64_t rows, int64_t cols);

// "W4A16, W4A16_ASYM, ..." for messages.
std::string supported_schemes_text();

}  // namespace lowbit::quant
