#include "export/compressed_tensors.h"

#include <cstring>
#include <set>

#include "core/error.h"
#include "quant/pack.h"

namespace lowbit::exporter {

using algorithms::QuantizedWeight;
using nlohmann::json;
using quant::QuantArgs;
using quant::Strategy;

namespace {

std::vector<int64_t> scale_shape(const QuantizedWeight& shape_of, const QuantArgs& a) {
  if (a.strategy == Strategy::Tensor) return {1};
  return {shape_of.scale_rows, shape_of.scale_cols};
}

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Two E2M1 codes per byte along K: even element in the low nibble.
std::vector<uint8_t> pack_fp4(const std::vector<int8_t>& codes) {
  std::vector<uint8_t> out(codes.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = uint8_t((uint8_t(codes[2 * i]) & 0xF) | ((uint8_t(codes[2 * i + 1]) & 0xF) << 4));
  return out;
}

}  // namespace

std::vector<io::TensorSpec> quantized_specs(const std::string& m, const quant::QuantScheme& scheme, int64_t n,
                                            int64_t k, DType md) {
  const QuantArgs& a = *scheme.weights;
  const std::string fmt = quant::compression_format(scheme);
  const QuantizedWeight lay = algorithms::empty_layout(a, md, n, k);
  const std::vector<int64_t> ss = scale_shape(lay, a);
  std::vector<io::TensorSpec> s;
  if (fmt == "pack-quantized") {
    s.push_back({m + ".weight_packed", DType::I32, {n, quant::packed_words(k, a.num_bits)}});
    s.push_back({m + ".weight_scale", md, ss});
    s.push_back({m + ".weight_shape", DType::I64, {2}});
    if (!a.symmetric) {
      if (a.strategy == Strategy::Tensor) s.push_back({m + ".weight_zero_point", DType::I8, {1}});
      else s.push_back({m + ".weight_zero_point", DType::I32, {quant::packed_words(ss[0], a.num_bits), ss[1]}});
    }
  } else if (fmt == "int-quantized") {
    s.push_back({m + ".weight", DType::I8, {n, k}});
    s.push_back({m + ".weight_scale", md, ss});
    if (!a.symmetric) s.push_back({m + ".weight_zero_point", DType::I8, ss});
  } else if (fmt == "float-quantized" || fmt == "naive-quantized" || fmt == "mxfp8-quantized") {
    s.push_back({m + ".weight", DType::F8_E4M3, {n, k}});
    s.push_back({m + ".weight_scale", lay.scale_dtype, ss});
  } else if (fmt == "mxfp4-pack-quantized" || fmt == "nvfp4-pack-quantized") {
    s.push_back({m + ".weight_packed", DType::U8, {n, k / 2}});
    s.push_back({m + ".weight_scale", lay.scale_dtype, ss});
    if (fmt == "nvfp4-pack-quantized") s.push_back({m + ".weight_global_scale", DType::F32, {1}});
  } else {
    throw UserError("compression format " + fmt + " is not supported");
  }
  return s;
}

std::vector<OutTensor> quantized_tensors(const std::string& m, const quant::QuantScheme& scheme,
                                         const QuantizedWeight& q) {
  const QuantArgs& a = *scheme.weights;
  const std::string fmt = quant::compression_format(scheme);
  auto specs = quantized_specs(m, scheme, q.rows, q.cols, q.dense_dtype);
  std::vector<OutTensor> out;
  auto codes_as_bytes = [&] { return std::vector<uint8_t>(q.codes.begin(), q.codes.end()); };
  if (fmt == "pack-quantized") {
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
  } else if (fmt == "int-quantized") {
    out.push_back({specs[0], codes_as_bytes()});
    out.push_back({specs[1], q.scales});
    if (!a.symmetric) out.push_back({specs[2], as_bytes(q.zero_points)});
  } else if (fmt == "mxfp4-pack-quantized" || fmt == "nvfp4-pack-quantized") {
    out.push_back({specs[0], pack_fp4(q.codes)});
    out.push_back({specs[1], q.scales});
    if (fmt == "nvfp4-pack-quantized") out.push_back({specs[2], as_bytes(std::vector<float>{q.global_scale})});
  } else {
    out.push_back({specs[0], codes_as_bytes()});
    out.push_back({specs[1], q.scales});
  }
  for (const auto& t : out)
    if (t.spec.nbytes() != t.bytes.size()) throw std::logic_error("exporter: size mismatch for " + t.spec.name);
  return out;
}

QuantizedWeight read_quantized(const io::ModelDir& dir, const std::string& m, const quant::QuantScheme& scheme) {
  const QuantArgs& a = *scheme.weights;
  const std::string fmt = quant::compression_format(scheme);
  // Shape: weight_shape for packed int, else the stored weight / packed weight.
  int64_t n = 0, k = 0;
  if (fmt == "pack-quantized") {
    const auto& shape = dir.at(m + ".weight_shape");
    if (shape.info->dtype != DType::I64 || shape.info->numel() != 2)
      throw UserError(m + ".weight_shape: expected I64 [2]");
    const int64_t* nk = reinterpret_cast<const int64_t*>(shape.data());
    n = nk[0], k = nk[1];
  } else if (fmt == "mxfp4-pack-quantized" || fmt == "nvfp4-pack-quantized") {
    const auto& p = dir.at(m + ".weight_packed");
    if (p.info->shape.size() != 2) throw UserError(m + ".weight_packed: expected 2 dimensions");
    n = p.info->shape[0], k = p.info->shape[1] * 2;
  } else {
    const auto& w = dir.at(m + ".weight");
    if (w.info->shape.size() != 2) throw UserError(m + ".weight: expected 2 dimensions");
    n = w.info->shape[0], k = w.info->shape[1];
  }
  if (n <= 0 || k <= 0) throw UserError(m + ": invalid weight shape");
  std::string problem = quant::shape_problem(a, n, k);
  if (!problem.empty()) throw UserError(m + ": " + problem);
  const auto& scale = dir.at(m + ".weight_scale");
  const DType md = dtype_is_float(scale.info->dtype) ? scale.info->dtype : DType::BF16;
  // Every stored tensor must match what we would have written.
  for (const auto& spec : quantized_specs(m, scheme, n, k, md)) {
    const auto& t = dir.at(spec.name);
    if (t.info->dtype != spec.dtype || t.info->shape != spec.shape)
      throw UserError(dir.path().string() + ": tensor " + spec.name + ": dtype/shape do not match the " + fmt +
                      " layout of its scheme");
  }
  QuantizedWeight q = algorithms::empty_layout(a, md, n, k);
  q.scales.assign(scale.data(), scale.data() + scale.info->nbytes());
  q.codes.resize(size_t(n * k));
  if (fmt == "pack-quantized") {
    const auto& p = dir.at(m + ".weight_packed");
    std::vector<int32_t> words(size_t(p.info->numel()));
    std::memcpy(words.data(), p.data(), words.size() * 4);
    quant::unpack_rows(words.data(), n, k, a.num_bits, q.codes.data());
  } else if (fmt == "mxfp4-pack-quantized" || fmt == "nvfp4-pack-quantized") {
    const uint8_t* p = dir.at(m + ".weight_packed").data();
    for (int64_t i = 0; i < n * k / 2; ++i) {
      q.codes[size_t(2 * i)] = int8_t(p[i] & 0xF);
      q.codes[size_t(2 * i + 1)] = int8_t(p[i] >> 4);
    }
    if (fmt == "nvfp4-pack-quantized") std::memcpy(&q.global_scale, dir.at(m + ".weight_global_scale").data(), 4);
  } else {
    const uint8_t* w = dir.at(m + ".weight").data();
    std::memcpy(q.codes.data(), w, q.codes.size());
  }
  if (!a.symmetric) {
    const auto& zt = dir.at(m + ".weight_zero_point");
    q.zero_points.resize(size_t(q.scale_rows * q.scale_cols));
    if (fmt == "pack-quantized" && a.strategy != Strategy::Tensor) {
      std::vector<int32_t> zw(size_t(zt.info->numel()));
      std::memcpy(zw.data(), zt.data(), zw.size() * 4);
      quant::unpack_dim0(zw.data(), q.scale_rows, q.scale_cols, a.num_bits, q.zero_points.data());
    } else {
      std::memcpy(q.zero_points.data(), zt.data(), q.zero_points.size());
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
