#include "export/compressed_tensors.h"

#include <cstring>
#include <set>

#include "core/error.h"
#include "quant/pack.h"

namespace lowbit::exporter {

using nlohmann::json;
using quant::QuantArgs;
using quant::Strategy;

namespace {
std::vector<int64_t> scale_shape(const QuantArgs& a, int64_t n, int64_t k) {
  if (a.strategy == Strategy::Tensor) return {1};
  if (a.strategy == Strategy::Channel) return {n, 1};
  return {n, k / *a.group_size};
}

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
}  // namespace

std::vector<io::TensorSpec> pack_quantized_specs(const std::string& m, const QuantArgs& a, int64_t n, int64_t k,
                                                 DType md) {
  std::vector<io::TensorSpec> s;
  s.push_back({m + ".weight_packed", DType::I32, {n, quant::packed_words(k, a.num_bits)}});
  s.push_back({m + ".weight_scale", md, scale_shape(a, n, k)});
  s.push_back({m + ".weight_shape", DType::I64, {2}});
  if (!a.symmetric) {
    auto ss = scale_shape(a, n, k);
    if (a.strategy == Strategy::Tensor)
      s.push_back({m + ".weight_zero_point", DType::I8, {1}});
    else
      s.push_back({m + ".weight_zero_point", DType::I32, {quant::packed_words(ss[0], a.num_bits), ss[1]}});
  }
  return s;
}

std::vector<OutTensor> pack_quantized_tensors(const std::string& m, const QuantArgs& a,
                                              const algorithms::IntQuantized& q) {
  auto specs = pack_quantized_specs(m, a, q.rows, q.cols, q.scale_dtype);
  std::vector<OutTensor> out;
  std::vector<int32_t> packed(size_t(q.rows * quant::packed_words(q.cols, a.num_bits)));
  quant::pack_rows(q.codes.data(), q.rows, q.cols, a.num_bits, packed.data());
  out.push_back({specs[0], as_bytes(packed)});
  out.push_back({specs[1], q.scales});
  out.push_back({specs[2], as_bytes(std::vector<int64_t>{q.rows, q.cols})});
  if (!a.symmetric) {
    if (a.strategy == Strategy::Tensor) {
      out.push_back({specs[3], {uint8_t(q.zero_points[0])}});
    } else {
      std::vector<int32_t> zp(size_t(quant::packed_words(q.scale_rows, a.num_bits) * q.scale_cols));
      quant::pack_dim0(q.zero_points.data(), q.scale_rows, q.scale_cols, a.num_bits, zp.data());
      out.push_back({specs[3], as_bytes(zp)});
    }
  }
  return out;
}

algorithms::IntQuantized unpack_quantized(const io::TensorSpec& ps, const uint8_t* packed, const io::TensorInfo& st,
                                          const uint8_t* scale_data, const io::TensorInfo* zt, const uint8_t* zp_data,
                                          const QuantArgs& a) {
  algorithms::IntQuantized q;
  q.rows = ps.shape.at(0);
  q.cols = ps.shape.at(1);
  q.scale_dtype = st.dtype;
  auto ss = scale_shape(a, q.rows, q.cols);
  if (st.shape != ss) throw UserError("weight_scale has an unexpected shape for " + ps.name);
  q.scale_rows = ss.size() == 1 ? 1 : ss[0];
  q.scale_cols = ss.size() == 1 ? 1 : ss[1];
  q.codes.resize(size_t(q.rows * q.cols));
  std::vector<int32_t> words(size_t(q.rows * quant::packed_words(q.cols, a.num_bits)));
  std::memcpy(words.data(), packed, words.size() * 4);
  quant::unpack_rows(words.data(), q.rows, q.cols, a.num_bits, q.codes.data());
  q.scales.assign(scale_data, scale_data + st.nbytes());
  if (!a.symmetric) {
    if (!zt || !zp_data) throw UserError("asymmetric weight without weight_zero_point: " + ps.name);
    q.zero_points.resize(size_t(q.scale_rows * q.scale_cols));
    if (a.strategy == Strategy::Tensor) {
      q.zero_points[0] = int8_t(zp_data[0]);
    } else {
      std::vector<int32_t> zw(size_t(zt->numel()));
      std::memcpy(zw.data(), zp_data, zw.size() * 4);
      quant::unpack_dim0(zw.data(), q.scale_rows, q.scale_cols, a.num_bits, q.zero_points.data());
    }
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
