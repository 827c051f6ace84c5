#include "export/compressed_tensors.h"

#include <cstring>
#include <set>

#include "core/error.h"
#include "quant/pack.h"
#include "quant/schemes.h"

namespace lowbit::exporter {

using nlohmann::json;
using quant::ModuleTensor;
using quant::TensorRole;

namespace {

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Zero points as stored: packed along the output dimension (pack-quantized groups and
// channels), or one int8 each.
bool zero_points_packed(const ModuleTensor& t) { return t.dtype == DType::I32; }

}  // namespace

std::vector<io::TensorSpec> quantized_specs(const std::string& m, const quant::QuantScheme& scheme, int64_t n,
                                            int64_t k, DType md) {
  std::vector<io::TensorSpec> out;
  for (const auto& t : quant::module_tensors(scheme, quant::resolve_layout(*scheme.weights, md, n, k)))
    out.push_back({m + "." + t.suffix, t.dtype, t.shape});
  return out;
}

std::vector<OutTensor> quantized_tensors(const std::string& m, const quant::QuantScheme& scheme,
                                         const QuantizedWeight& q) {
  const quant::SchemeFormat& f = *quant::find_scheme_format(scheme);
  const int bits = scheme.weights->num_bits;
  std::vector<OutTensor> out;
  for (const auto& t : quant::module_tensors(scheme, q)) {
    io::TensorSpec spec{m + "." + t.suffix, t.dtype, t.shape};
    switch (t.role) {
      case TensorRole::Codes: out.push_back({spec, quant::pack_codes(f.codes, q.codes.data(), q.rows, q.cols, bits)}); break;
      case TensorRole::Scale: out.push_back({spec, q.scales}); break;
      case TensorRole::Shape: out.push_back({spec, as_bytes(std::vector<int64_t>{q.rows, q.cols})}); break;
      case TensorRole::ZeroPoint:
        if (zero_points_packed(t)) {
          std::vector<int32_t> zp(size_t(t.shape[0] * t.shape[1]));
          quant::pack_dim0(q.zero_points.data(), q.scale_rows, q.scale_cols, bits, zp.data());
          out.push_back({spec, as_bytes(zp)});
        } else {
          out.push_back({spec, as_bytes(q.zero_points)});
        }
        break;
      case TensorRole::GlobalScale: out.push_back({spec, as_bytes(std::vector<float>{q.global_scale})}); break;
    }
  }
  for (const auto& t : out)
    if (t.spec.nbytes() != t.bytes.size()) throw std::logic_error("exporter: size mismatch for " + t.spec.name);
  return out;
}

QuantLayout read_quantized_layout(const io::ModelDir& dir, const std::string& m, const quant::QuantScheme& scheme) {
  const quant::SchemeFormat* f = quant::find_scheme_format(scheme);
  if (!f) throw UserError(dir.path().string() + ": module " + m + ": no compressed-tensors format lowbit reads stores its scheme");
  for (const char* suffix : quant::unsupported_weight_suffixes())
    if (dir.find(m + "." + suffix))
      throw UserError(quant::actorder_group_removed(dir.path().string() + ": tensor " + m + "." + suffix) +
                      " (lowbit does not decode such legacy checkpoints)");
  // The weight's shape: weight_shape where the format writes one, else the codes tensor's.
  int64_t n = 0, k = 0;
  if (f->shape_tensor) {
    const std::string name = m + "." + quant::suffix_of(TensorRole::Shape, *f);
    const auto& shape = dir.at(name);
    if (shape.info->dtype != DType::I64 || shape.info->numel() != 2) throw UserError(name + ": expected I64 [2]");
    int64_t nk[2];
    std::memcpy(nk, shape.data(), sizeof nk);
    n = nk[0], k = nk[1];
  } else {
    const auto& c = dir.at(m + "." + f->codes_suffix);
    if (c.info->shape.size() != 2) throw UserError(m + "." + f->codes_suffix + ": expected 2 dimensions");
    n = c.info->shape[0], k = c.info->shape[1] * (f->codes == quant::CodeStorage::Fp4Pairs ? 2 : 1);
  }
  if (n <= 0 || k <= 0 || n > (int64_t(1) << 40) || k > (int64_t(1) << 40)) throw UserError(m + ": invalid weight shape");
  const std::string problem = quant::shape_problem(*scheme.weights, n, k);
  if (!problem.empty()) throw UserError(m + ": " + problem);
  const auto& scale = dir.at(m + "." + quant::suffix_of(TensorRole::Scale, *f));
  const DType md = dtype_is_float(scale.info->dtype) ? scale.info->dtype : DType::BF16;
  const QuantLayout layout = quant::resolve_layout(*scheme.weights, md, n, k);
  // Every stored tensor must be what we would have written.
  for (const auto& t : quant::module_tensors(scheme, layout)) {
    const std::string name = m + "." + t.suffix;
    const io::TensorRef& r = dir.at(name);
    if (r.info->dtype != t.dtype || r.info->shape != t.shape)
      throw UserError(dir.path().string() + ": tensor " + name + ": dtype/shape do not match the " + f->format +
                      " layout of its scheme");
  }
  return layout;
}

QuantizedWeight read_quantized(const io::ModelDir& dir, const std::string& m, const quant::QuantScheme& scheme) {
  QuantizedWeight q(read_quantized_layout(dir, m, scheme));
  const quant::SchemeFormat& f = *quant::find_scheme_format(scheme);
  const int bits = scheme.weights->num_bits;
  for (const auto& t : quant::module_tensors(scheme, q)) {
    const io::TensorRef& r = dir.at(m + "." + t.suffix);
    switch (t.role) {
      case TensorRole::Codes: quant::unpack_codes(f.codes, r.data(), q.rows, q.cols, bits, q.codes.data()); break;
      case TensorRole::Scale: std::memcpy(q.scales.data(), r.data(), q.scales.size()); break;
      case TensorRole::Shape: break;
      case TensorRole::ZeroPoint:
        if (zero_points_packed(t)) {
          std::vector<int32_t> zw(size_t(r.info->numel()));
          std::memcpy(zw.data(), r.data(), zw.size() * 4);
          quant::unpack_dim0(zw.data(), q.scale_rows, q.scale_cols, bits, q.zero_points.data());
        } else {
          std::memcpy(q.zero_points.data(), r.data(), q.zero_points.size());
        }
        break;
      case TensorRole::GlobalScale: std::memcpy(&q.global_scale, r.data(), 4); break;
    }
    r.release();
  }
  return q;
}

json quantization_config(const quant::Recipe& recipe, const quant::Plan& plan) {
  std::set<int> used;
  for (const auto& c : plan.linears)
    if (c.group >= 0) used.insert(c.group);
  json groups = json::object();
  std::set<std::string> formats;
  for (int g : used) {
    const auto& [name, scheme] = recipe.config_groups[size_t(g)];
    json s = quant::to_json(scheme);
    std::string fmt = quant::compression_format(scheme);
    s["format"] = fmt;
    formats.insert(fmt);
    groups[name] = s;
  }
  json qc;
  qc["config_groups"] = groups;
  qc["format"] = formats.size() == 1 ? *formats.begin() : std::string("mixed-precision");
  qc["global_compression_ratio"] = nullptr;
  qc["ignore"] = plan.expanded_ignore;
  qc["kv_cache_scheme"] = nullptr;
  qc["quant_method"] = "compressed-tensors";
  qc["quantization_status"] = "compressed";
  qc["sparsity_config"] = json::object();
  qc["transform_config"] = json::object();
  qc["version"] = kCompressedTensorsFormatVersion;
  return qc;
}

}  // namespace lowbit::exporter
