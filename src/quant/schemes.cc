#include "quant/schemes.h"

#include <algorithm>

#include "core/error.h"
#include "quant/pack.h"

namespace lowbit::quant {

namespace {

using S = Strategy;

// The rows, in compressed-tensors' inference order (compressors/format.py): the first row
// that takes a scheme is its format.
const SchemeFormat kFormats[] = {
    {.format = "mxfp4-pack-quantized", .name = "mxfp4", .type = QType::Float, .min_bits = 4, .max_bits = 4,
     .activations = Activations::Absent, .activations_any = true, .fixed_group = 32, .fixed_strategy = S::Group,
     .ct_scale_dtype = "torch.uint8", .scale_dtype_selects = false, .strategies = {S::Group}, .symmetric_only = true,
     .float_element = Format::FP4_E2M1, .scale = ScaleStorage::E8M0, .global_scale = false, .dense_bf16 = true,
     .codes = CodeStorage::Fp4Pairs, .codes_suffix = "weight_packed", .shape_tensor = false,
     .zero_points = ZeroPointStorage::None},
    {.format = "mxfp8-quantized", .name = "mxfp8", .type = QType::Float, .min_bits = 8, .max_bits = 8,
     .activations = Activations::Absent, .activations_any = true, .fixed_group = 32, .fixed_strategy = S::Group,
     .ct_scale_dtype = "torch.uint8", .scale_dtype_selects = true, .strategies = {S::Group}, .symmetric_only = true,
     .float_element = Format::FP8_E4M3, .scale = ScaleStorage::E8M0, .global_scale = false, .dense_bf16 = true,
     .codes = CodeStorage::Fp8, .codes_suffix = "weight", .shape_tensor = false,
     .zero_points = ZeroPointStorage::None},
    {.format = "nvfp4-pack-quantized", .name = "nvfp4", .type = QType::Float, .min_bits = 4, .max_bits = 4,
     .activations = Activations::Absent, .activations_any = true, .fixed_group = 16,
     .fixed_strategy = S::TensorGroup, .ct_scale_dtype = "torch.float8_e4m3fn", .scale_dtype_selects = false,
     .strategies = {S::TensorGroup}, .symmetric_only = true, .float_element = Format::FP4_E2M1,
     .scale = ScaleStorage::Fp8E4M3, .global_scale = true, .dense_bf16 = true, .codes = CodeStorage::Fp4Pairs,
     .codes_suffix = "weight_packed", .shape_tensor = false, .zero_points = ZeroPointStorage::None},
    {.format = "int-quantized", .name = "int", .type = QType::Int, .min_bits = 2, .max_bits = 8,
     .activations = Activations::Present, .activations_any = false, .fixed_group = 0, .fixed_strategy = S::Group,
     .ct_scale_dtype = "", .scale_dtype_selects = false, .strategies = {S::Tensor, S::Channel, S::Group},
     .symmetric_only = false, .float_element = Format::INT8, .scale = ScaleStorage::ModelDtype,
     .global_scale = false, .dense_bf16 = false, .codes = CodeStorage::Int8, .codes_suffix = "weight",
     .shape_tensor = false, .zero_points = ZeroPointStorage::Int8},
    {.format = "pack-quantized", .name = "int", .type = QType::Int, .min_bits = 2, .max_bits = 8,
     .activations = Activations::Absent, .activations_any = false, .fixed_group = 0, .fixed_strategy = S::Group,
     .ct_scale_dtype = "", .scale_dtype_selects = false, .strategies = {S::Tensor, S::Channel, S::Group},
     .symmetric_only = false, .float_element = Format::INT8, .scale = ScaleStorage::ModelDtype,
     .global_scale = false, .dense_bf16 = false, .codes = CodeStorage::Int32Packed, .codes_suffix = "weight_packed",
     .shape_tensor = true, .zero_points = ZeroPointStorage::PackedAlongN},
    {.format = "float-quantized", .name = "fp8", .type = QType::Float, .min_bits = 8, .max_bits = 8,
     .activations = Activations::Present, .activations_any = false, .fixed_group = 0, .fixed_strategy = S::Tensor,
     .ct_scale_dtype = "", .scale_dtype_selects = false, .strategies = {S::Tensor, S::Channel, S::Block},
     .symmetric_only = true, .float_element = Format::FP8_E4M3, .scale = ScaleStorage::ModelDtype,
     .global_scale = false, .dense_bf16 = false, .codes = CodeStorage::Fp8, .codes_suffix = "weight",
     .shape_tensor = false, .zero_points = ZeroPointStorage::None},
    {.format = "naive-quantized", .name = "fp8", .type = QType::Float, .min_bits = 8, .max_bits = 8,
     .activations = Activations::Absent, .activations_any = false, .fixed_group = 0, .fixed_strategy = S::Tensor,
     .ct_scale_dtype = "", .scale_dtype_selects = false, .strategies = {S::Tensor, S::Channel, S::Block},
     .symmetric_only = true, .float_element = Format::FP8_E4M3, .scale = ScaleStorage::ModelDtype,
     .global_scale = false, .dense_bf16 = false, .codes = CodeStorage::Fp8, .codes_suffix = "weight",
     .shape_tensor = false, .zero_points = ZeroPointStorage::None},
};

// compressed-tensors' test for a row: element type and bits, the fixed group size (and for
// MXFP8 the uint8 scale dtype, which is how it tells MXFP8 from FP8 in groups of 32), and
// whether input activations are quantized.
bool takes(const SchemeFormat& f, const QuantScheme& s) {
  const QuantArgs& w = *s.weights;
  if (w.type != f.type || w.num_bits < f.min_bits || w.num_bits > f.max_bits) return false;
  if (f.fixed_group && w.group_size != f.fixed_group) return false;
  if (f.scale_dtype_selects && w.scale_dtype != f.ct_scale_dtype) return false;
  if (!f.activations_any && (f.activations == Activations::Present) != s.input_activations.has_value()) return false;
  return true;
}

constexpr const char* kSuffixes[] = {"weight",         "weight_packed",       "weight_scale",
                                     "weight_zero_point", "weight_shape",     "weight_global_scale",
                                     "weight_g_idx",   "input_scale",         "input_zero_point",
                                     "input_global_scale"};
constexpr const char* kUnsupportedWeightSuffixes[] = {"weight_g_idx"};

}  // namespace

std::span<const SchemeFormat> scheme_formats() { return kFormats; }

const SchemeFormat* find_scheme_format(const QuantScheme& s) {
  if (!s.weights) return nullptr;
  for (const auto& f : kFormats)
    if (takes(f, s)) return &f;
  return nullptr;
}

const SchemeFormat* scheme_format_named(const std::string& format) {
  for (const auto& f : kFormats)
    if (format == f.format) return &f;
  return nullptr;
}

const SchemeFormat* float_format_for_group(int bits, int group_size) {
  for (const auto& f : kFormats)
    if (f.type == QType::Float && f.max_bits == bits && f.fixed_group && f.fixed_group == group_size) return &f;
  return nullptr;
}

QuantLayout resolve_layout(const QuantArgs& a, DType md, int64_t rows, int64_t cols) {
  QuantScheme weight_only;
  weight_only.weights = a;
  const SchemeFormat* f = find_scheme_format(weight_only);
  if (!f) throw std::logic_error("resolve_layout: no format stores these weights (check_supported first)");
  QuantLayout q;
  q.rows = rows;
  q.cols = cols;
  q.element = a.type == QType::Int ? Format(int(Format::INT2) + a.num_bits - 2) : f->float_element;
  switch (a.strategy) {
    case Strategy::Tensor: q.block_rows = rows, q.block_cols = cols; break;
    case Strategy::Channel: q.block_rows = 1, q.block_cols = cols; break;
    case Strategy::Block: q.block_rows = (*a.block_structure)[0], q.block_cols = (*a.block_structure)[1]; break;
    default: q.block_rows = 1, q.block_cols = *a.group_size; break;
  }
  q.block_rows = std::max<int64_t>(q.block_rows, 1);
  q.block_cols = std::max<int64_t>(q.block_cols, 1);
  q.scale_rows = (rows + q.block_rows - 1) / q.block_rows;
  q.scale_cols = (cols + q.block_cols - 1) / q.block_cols;
  q.scale_dtype = f->scale == ScaleStorage::E8M0 ? DType::U8 : f->scale == ScaleStorage::Fp8E4M3 ? DType::F8_E4M3 : md;
  q.has_zero_points = !a.symmetric;
  q.has_global_scale = f->global_scale;
  q.dense_dtype = f->dense_bf16 ? DType::BF16 : md;
  return q;
}

const char* suffix_of(TensorRole role, const SchemeFormat& f) {
  switch (role) {
    case TensorRole::Codes: return f.codes_suffix;
    case TensorRole::Scale: return "weight_scale";
    case TensorRole::Shape: return "weight_shape";
    case TensorRole::ZeroPoint: return "weight_zero_point";
    case TensorRole::GlobalScale: return "weight_global_scale";
  }
  return "";
}

std::vector<ModuleTensor> module_tensors(const QuantScheme& s, const QuantLayout& q) {
  const SchemeFormat& f = *find_scheme_format(s);
  const QuantArgs& a = *s.weights;
  const int64_t n = q.rows, k = q.cols;
  std::vector<ModuleTensor> out;
  switch (f.codes) {
    case CodeStorage::Int32Packed: out.push_back({TensorRole::Codes, suffix_of(TensorRole::Codes, f), DType::I32, {n, packed_words(k, a.num_bits)}}); break;
    case CodeStorage::Int8: out.push_back({TensorRole::Codes, f.codes_suffix, DType::I8, {n, k}}); break;
    case CodeStorage::Fp8: out.push_back({TensorRole::Codes, f.codes_suffix, DType::F8_E4M3, {n, k}}); break;
    case CodeStorage::Fp4Pairs: out.push_back({TensorRole::Codes, f.codes_suffix, DType::U8, {n, k / 2}}); break;
  }
  const std::vector<int64_t> scale_shape =
      a.strategy == Strategy::Tensor ? std::vector<int64_t>{1} : std::vector<int64_t>{q.scale_rows, q.scale_cols};
  out.push_back({TensorRole::Scale, suffix_of(TensorRole::Scale, f), q.scale_dtype, scale_shape});
  if (f.shape_tensor) out.push_back({TensorRole::Shape, suffix_of(TensorRole::Shape, f), DType::I64, {2}});
  if (q.has_zero_points) {
    if (f.zero_points == ZeroPointStorage::PackedAlongN && a.strategy != Strategy::Tensor)
      out.push_back({TensorRole::ZeroPoint, suffix_of(TensorRole::ZeroPoint, f), DType::I32,
                     {packed_words(q.scale_rows, a.num_bits), q.scale_cols}});
    else
      out.push_back({TensorRole::ZeroPoint, suffix_of(TensorRole::ZeroPoint, f), DType::I8, scale_shape});
  }
  if (f.global_scale) out.push_back({TensorRole::GlobalScale, suffix_of(TensorRole::GlobalScale, f), DType::F32, {1}});
  return out;
}

std::span<const char* const> compressed_tensor_suffixes() { return kSuffixes; }

bool is_compressed_tensor_suffix(const std::string& suffix) {
  return std::find_if(std::begin(kSuffixes), std::end(kSuffixes), [&](const char* s) { return suffix == s; }) !=
         std::end(kSuffixes);
}

std::span<const char* const> unsupported_weight_suffixes() { return kUnsupportedWeightSuffixes; }

std::string describe(const QuantScheme& scheme) {
  const QuantArgs& a = *scheme.weights;
  const SchemeFormat* f = find_scheme_format(scheme);
  std::string s;
  if (f && f->fixed_group) {
    s = std::string(f->name) + " (" + (f->scale == ScaleStorage::E8M0 ? "e8m0" : "fp8") + " scale / " +
        std::to_string(f->fixed_group) + ")";
  } else {
    s = (a.type == QType::Int ? "int" : "fp") + std::to_string(a.num_bits) + (a.symmetric ? " sym" : " asym");
    if (a.strategy == Strategy::Group) s += " group " + std::to_string(*a.group_size);
    else if (a.strategy == Strategy::Block)
      s += " block " + std::to_string((*a.block_structure)[0]) + "x" + std::to_string((*a.block_structure)[1]);
    else s += " " + to_string(a.strategy);
  }
  if (scheme.input_activations)
    s += ", act " + to_string(scheme.input_activations->type) + std::to_string(scheme.input_activations->num_bits) +
         " " + to_string(scheme.input_activations->strategy);
  return s;
}

double bits_per_weight(const QuantScheme& s, DType md) {
  const SchemeFormat& f = *find_scheme_format(s);
  const QuantArgs& a = *s.weights;
  double codes = f.codes == CodeStorage::Int32Packed ? a.num_bits : f.codes == CodeStorage::Fp4Pairs ? 4 : 8;
  if (a.strategy != Strategy::Group && a.strategy != Strategy::TensorGroup) return codes;
  const double scale = f.scale == ScaleStorage::ModelDtype ? 8.0 * double(dtype_size(md)) : 8.0;
  const double zp = a.symmetric ? 0.0 : f.zero_points == ZeroPointStorage::PackedAlongN ? a.num_bits : 8.0;
  return codes + (scale + zp) / double(*a.group_size);
}

namespace {
std::string strategies_text(const SchemeFormat& f) {
  std::string t;
  for (Strategy st : f.strategies) t += (t.empty() ? "" : ", ") + to_string(st);
  return t;
}

// The rows with a fixed group for float weights of `bits`: "mxfp4 (group 32) or nvfp4 (tensor_group 16)".
std::string fixed_group_rows(int bits) {
  std::string t;
  for (const auto& f : kFormats)
    if (f.type == QType::Float && f.max_bits == bits && f.fixed_group)
      t += std::string(t.empty() ? "" : " or ") + f.name + " (" + to_string(f.fixed_strategy) + " " +
           std::to_string(f.fixed_group) + (f.scale_dtype_selects ? std::string(" with scale_dtype ") + f.ct_scale_dtype : "") + ")";
  return t;
}

bool is_minmax(const std::optional<std::string>& o) {
  return !o || *o == "memoryless_minmax" || *o == "minmax" || *o == "static_minmax";
}
bool is_mse(const std::optional<std::string>& o) { return o && (*o == "mse" || *o == "memoryless_mse" || *o == "imatrix_mse"); }
}  // namespace

void check_supported(const QuantScheme& s, const std::string& where) {
  if (!s.weights) throw UserError(where + ": weight quantization is required (activation-only schemes are not supported)");
  if (s.output_activations) throw UserError(where + ": output activation quantization is not supported");
  const QuantArgs& w = *s.weights;
  if (w.is_dynamic()) throw UserError(where + ": weights cannot be dynamic");
  if (w.actorder_group()) throw UserError(actorder_group_removed(where));
  if (!is_minmax(w.observer) && !is_mse(w.observer))
    throw UserError(where + ": observer '" + *w.observer + "' is not supported (minmax, mse, imatrix_mse)");
  if (is_mse(w.observer) && (w.type != QType::Int || (w.strategy != Strategy::Channel && w.strategy != Strategy::Group)))
    throw UserError(where + ": observer " + *w.observer + " is implemented for int weights with strategy channel or "
                    "group so far");
  if (s.input_activations) {
    const QuantArgs& in = *s.input_activations;
    if (in.dynamic.is_string())
      throw UserError(where + ": input activations with dynamic \"local\" (NVFP4) need a static input global scale "
                      "from calibration, which lowbit does not implement yet; use NVFP4A16 (weight-only)");
    if (!in.is_dynamic())
      throw UserError(where + ": static input activation scales (e.g. the FP8 preset) need calibration data, which "
                      "lowbit does not implement yet; use FP8_DYNAMIC (per-token scales at run time)");
    if (in.type != w.type)
      throw UserError(where + ": " + to_string(w.type) + " weights with " + to_string(in.type) +
                      " activations (e.g. W4AFP8) are not supported yet");
  }
  if (w.type == QType::Int && (w.num_bits < 2 || w.num_bits > 8))
    throw UserError(where + ": int weights need 2..8 bits (got " + std::to_string(w.num_bits) + ")");
  if (w.type == QType::Float && !w.symmetric)
    throw UserError(where + ": asymmetric float quantization is not supported (compressed-tensors refuses it for FP4, "
                    "and FP8 zero points are not served by vLLM)");
  if (w.type == QType::Float && w.num_bits != 8 && w.num_bits != 4)
    throw UserError(where + ": float weights need 8 or 4 bits (fp8_e4m3, fp4_e2m1)");
  const SchemeFormat* f = find_scheme_format(s);
  if (!f) {
    // Only floats get here: fp4 outside its block formats, or fp8 in groups that are not MXFP8.
    const std::string fixed = fixed_group_rows(w.num_bits);
    if (w.num_bits == 4) throw UserError(where + ": fp4 weights are " + fixed);
    throw UserError(where + ": fp8 weights support strategies " + strategies_text(*scheme_format_named("naive-quantized")) +
                    ", or " + fixed);
  }
  if (std::find(f->strategies.begin(), f->strategies.end(), w.strategy) == f->strategies.end())
    throw UserError(where + ": weight strategy " + to_string(w.strategy) + " is not supported for " + f->name +
                    " weights (" + strategies_text(*f) + ")");
  if (!*f->ct_scale_dtype && w.scale_dtype)
    throw UserError(where + ": scale_dtype " + *w.scale_dtype + " is not supported for " + f->name +
                    " weights (their scales use the model dtype)");
  if (*f->ct_scale_dtype && w.scale_dtype && *w.scale_dtype != f->ct_scale_dtype)
    throw UserError(where + ": " + f->name + " scales are " + f->ct_scale_dtype);
  if (s.format && *s.format != f->format)
    throw UserError(where + ": format '" + *s.format + "' differs from the format compressed-tensors uses for this "
                    "scheme ('" + f->format + "'); overriding it is not supported");
}

std::string compression_format(const QuantScheme& s) {
  if (s.format) return *s.format;
  const SchemeFormat* f = find_scheme_format(s);
  return f ? f->format : "naive-quantized";  // compressed-tensors' fallback
}

std::string shape_problem(const QuantArgs& a, int64_t rows, int64_t cols) {
  (void)rows;  // vLLM's block kernels tolerate a partial last block of rows, not of columns
  if (a.strategy == Strategy::Group || a.strategy == Strategy::TensorGroup) {
    if (cols % *a.group_size != 0)
      return "input size " + std::to_string(cols) + " is not divisible by group size " + std::to_string(*a.group_size);
  } else if (a.strategy == Strategy::Block) {
    if (cols % (*a.block_structure)[1] != 0)
      return "input size " + std::to_string(cols) + " is not divisible by block width " +
             std::to_string((*a.block_structure)[1]);
  }
  return "";
}

}  // namespace lowbit::quant
