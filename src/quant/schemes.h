// The scheme table: one row per kind of quantized Linear lowbit writes, keyed by its
// compressed-tensors format. A row says which weight args it takes (element type and bits,
// the group size it fixes, the scale dtype it implies), how its scales are stored, whether a
// global scale divides them, and which tensors hold it in a checkpoint, each with its dtype,
// shape and packing. Every question of the kind "is this MX?", "which format?", "which
// tensors?" is answered by this table, and only here (like ggml's type-traits table; GGUF
// block types will be rows of a sibling table).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "numerics/formats.h"
#include "numerics/quantized_weight.h"
#include "quant/pack.h"
#include "quant/quant_args.h"

namespace lowbit::quant {

// How the zero points of an asymmetric int scheme are stored.
enum class ZeroPointStorage {
  None,            // the scheme is symmetric-only
  PackedAlongN,    // like the codes, but packed along the output dimension (int8 [1] for strategy tensor)
  Int8,            // one int8 per scale slot
};
// How the scales are stored (the element format of weight_scale).
enum class ScaleStorage { ModelDtype, E8M0, Fp8E4M3 };
enum class Activations { Absent, Present };

struct SchemeFormat {
  const char* format;  // compressed-tensors format name, e.g. "nvfp4-pack-quantized"
  const char* name;    // short name in reports: "int", "fp8", "mxfp4", ...
  // Which schemes take this format, in compressed-tensors' inference order (compressors/format.py).
  QType type;
  int min_bits, max_bits;
  Activations activations;  // what this format requires of the scheme's input activations
  bool activations_any;     // true: the activations do not decide (MX, NVFP4)
  int fixed_group;          // the group size that selects this format (0: any)
  Strategy fixed_strategy;  // the strategy that group size implies (with fixed_group)
  const char* ct_scale_dtype;  // QuantArgs.scale_dtype the format implies ("" = none: the model dtype)
  bool scale_dtype_selects;    // the scale dtype is part of the test (MXFP8 against FP8 in groups of 32)
  std::vector<Strategy> strategies;  // the weight strategies it stores
  bool symmetric_only;
  // Layout and storage.
  Format float_element;  // element of float rows (int rows use INT<bits>)
  ScaleStorage scale;
  bool global_scale;     // weight_global_scale (F32 [1]) divides the block scales
  bool dense_bf16;       // decompresses to BF16 whatever the model dtype (else the model dtype)
  CodeStorage codes;
  const char* codes_suffix;  // "weight_packed" or "weight"
  bool shape_tensor;         // weight_shape (I64 [2]) is written
  ZeroPointStorage zero_points;
};

// Every row, in compressed-tensors' inference order.
std::span<const SchemeFormat> scheme_formats();
// The row compressed-tensors would pick for a scheme (its `format` field, when set, must name
// it); nullptr if none stores it.
const SchemeFormat* find_scheme_format(const QuantScheme& s);
const SchemeFormat* scheme_format_named(const std::string& format);
// The float row a group size selects for float weights of `bits` (MX at 32, NVFP4 at 16), or
// nullptr when the group size fixes no format.
const SchemeFormat* float_format_for_group(int bits, int group_size);

// The layout of a [rows, cols] weight under weight args (model dtype `md`): the one place
// that turns strategy, group size and block shape into scale slots and storage. (It depends
// on the weights alone: the formats a scheme's activations choose between store alike.)
QuantLayout resolve_layout(const QuantArgs& weights, DType md, int64_t rows, int64_t cols);

// One tensor of a quantized Linear in a checkpoint.
enum class TensorRole { Codes, Scale, Shape, ZeroPoint, GlobalScale };
struct ModuleTensor {
  TensorRole role;
  std::string suffix;  // "weight_packed", "weight_scale", ...
  DType dtype;
  std::vector<int64_t> shape;
};
// The suffix of a role's tensor (the codes' depends on the format: SchemeFormat::codes_suffix).
const char* suffix_of(TensorRole role, const SchemeFormat& f);
// The tensors module `P` becomes (named P.<suffix>), in the order they are written.
std::vector<ModuleTensor> module_tensors(const QuantScheme& s, const QuantLayout& layout);

// Every per-module tensor suffix a compressed-tensors checkpoint may hold for a quantized
// Linear (weights and activations, those lowbit writes and those it only reads past).
std::span<const char* const> compressed_tensor_suffixes();
bool is_compressed_tensor_suffix(const std::string& suffix);
// Suffixes lowbit reads no meaning from and must refuse rather than ignore (they change how
// the weight decodes): weight_g_idx (actorder group, removed from compressed-tensors).
std::span<const char* const> unsupported_weight_suffixes();

// "int4 sym group 128", "nvfp4 (fp8 scale / 16)", plus the activations if any.
std::string describe(const QuantScheme& s);
// Bits per weight on disk: the codes plus each group's scale (and zero point); 0 for the
// per-channel/tensor/block scales that add a negligible amount.
double bits_per_weight(const QuantScheme& s, DType model_dtype = DType::BF16);

// Checks the scheme is one lowbit can produce today; throws UserError naming `where`.
void check_supported(const QuantScheme& s, const std::string& where);
// The compressed-tensors compression format of a scheme ("pack-quantized", ...), as
// compressed-tensors infers it unless the scheme names one.
std::string compression_format(const QuantScheme& s);
// Why a [rows, cols] weight cannot take these args (group or block width not dividing
// the input size), or "" if it can.
std::string shape_problem(const QuantArgs& args, int64_t rows, int64_t cols);

}  // namespace lowbit::quant
