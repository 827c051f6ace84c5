#include "algorithms/awq.h"

#include <algorithm>
#include <cmath>

#include "algorithms/rtn.h"
#include "core/error.h"
#include "numerics/half.h"
#include "numerics/quantized_weight.h"

namespace lowbit::algorithms {

std::vector<AwqCandidate> awq_grid(const AwqOptions& o) {
  std::vector<AwqCandidate> g;
  switch (o.duo_scaling) {
    case AwqOptions::Duo::Both: {
      const int n = o.n_grid / 2;
      for (int i = 0; i < n; ++i)
        for (bool duo : {false, true}) g.push_back({n > 1 ? double(i) / double(n - 1) : 0.0, duo});
      break;
    }
    case AwqOptions::Duo::Off:
      for (int i = 0; i < o.n_grid; ++i) g.push_back({o.n_grid > 1 ? double(i) / double(o.n_grid - 1) : 0.0, false});
      break;
    case AwqOptions::Duo::On:
      g.push_back({0.0, false});
      for (int i = 0; i < o.n_grid - 1; ++i) g.push_back({o.n_grid > 2 ? double(i) / double(o.n_grid - 2) : 0.0, true});
      break;
  }
  return g;
}

std::vector<double> awq_weight_mean(const std::vector<AwqBalance>& layers) {
  std::vector<double> sum;
  int64_t rows = 0;
  for (const AwqBalance& b : layers) {
    if (!b.args) continue;
    if (sum.empty()) sum.assign(size_t(b.cols), 0.0);
    const quant::QuantArgs& a = *b.args;
    // Chunk geometry: columns per chunk and rows per chunk (block strategy spans rows too).
    int64_t cw = b.cols, ch = 1;
    switch (a.strategy) {
      case quant::Strategy::Tensor: cw = b.cols, ch = b.rows; break;
      case quant::Strategy::Group:
      case quant::Strategy::TensorGroup: cw = a.group_size.value_or(int(b.cols)); break;
      case quant::Strategy::Block:
        ch = (*a.block_structure)[0], cw = (*a.block_structure)[1];
        break;
      default: break;  // channel: one row
    }
    const DType t = b.dtype;
    for (int64_t r0 = 0; r0 < b.rows; r0 += ch)
      for (int64_t c0 = 0; c0 < b.cols; c0 += cw) {
        const int64_t r1 = std::min(b.rows, r0 + ch), c1 = std::min(b.cols, c0 + cw);
        float amax = 0;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(load_as_f32(b.w, size_t(r * b.cols + c), t)));
        // In the weight's dtype, as torch: (amax + 1e-6) rounds, then |w| / it rounds.
        const float den = round_to_dtype(amax + 1e-6f, t);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c)
            sum[size_t(c)] += round_to_dtype(std::fabs(load_as_f32(b.w, size_t(r * b.cols + c), t)) / den, t);
      }
    rows += b.rows;
  }
  for (double& v : sum) v /= double(std::max<int64_t>(rows, 1));
  return sum;
}

std::vector<size_t> awq_search_samples(const std::vector<int64_t>& tokens_per_sample, int64_t budget) {
  const size_t n = tokens_per_sample.size();
  int64_t total = 0;
  for (int64_t t : tokens_per_sample) total += t;
  std::vector<size_t> out;
  if (budget <= 0 || total <= budget) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  int bits = 0;
  while ((uint64_t(1) << bits) < n) ++bits;
  // k -> bit-reversed k / 2^bits covers j / 2^bits for every j, so floor(. * n) reaches every sample.
  std::vector<bool> used(n, false);
  int64_t got = 0;
  for (uint64_t k = 0; k < (uint64_t(1) << bits) && got < budget; ++k) {
    uint64_t r = 0;
    for (int b = 0; b < bits; ++b)
      if (k >> b & 1) r |= uint64_t(1) << (bits - 1 - b);
    const size_t i = size_t((unsigned __int128)r * n >> bits);
    if (used[i]) continue;
    used[i] = true;
    got += tokens_per_sample[i];
    out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<double> awq_scales(const std::vector<double>& x_mean, const std::vector<double>& w_mean, AwqCandidate c) {
  std::vector<double> s(x_mean.size());
  for (size_t j = 0; j < s.size(); ++j) {
    double v = std::pow(x_mean[j], c.ratio);
    if (c.duo) v /= std::pow(w_mean[j], 1.0 - c.ratio) + 1e-4;
    s[j] = std::max(v, 1e-4);
  }
  const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
  const double norm = std::sqrt(*mx * *mn);
  for (double& v : s) {
    v /= norm;
    if (!std::isfinite(v)) v = 1.0;
  }
  return s;
}

std::vector<uint8_t> awq_scale_columns(const void* w, DType dtype, int64_t rows, int64_t cols,
                                       const std::vector<double>& s) {
  std::vector<uint8_t> out(size_t(rows * cols) * dtype_size(dtype));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = size_t(r * cols + c);
      store_from_f32(out.data(), i, dtype, float(double(load_as_f32(w, i, dtype)) * s[size_t(c)]));
    }
  return out;
}

std::vector<uint8_t> awq_divide_rows(const void* w, DType dtype, int64_t rows, int64_t cols,
                                     const std::vector<double>& s) {
  const int64_t first = rows - int64_t(s.size());
  if (first < 0) throw std::logic_error("awq: more scales than rows");
  std::vector<uint8_t> out(static_cast<const uint8_t*>(w),
                           static_cast<const uint8_t*>(w) + size_t(rows * cols) * dtype_size(dtype));
  for (int64_t r = first; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = size_t(r * cols + c);
      store_from_f32(out.data(), i, dtype, float(double(load_as_f32(w, i, dtype)) / s[size_t(r - first)]));
    }
  return out;
}

std::vector<uint8_t> awq_quantize_scaled(const std::vector<uint8_t>& ws, DType dtype, int64_t rows, int64_t cols,
                                         const quant::QuantArgs& args, const std::vector<double>& s,
                                         const std::string& name, std::optional<float> shared_amax) {
  const QuantizedWeight q = rtn_quantize(ws.data(), dtype, rows, cols, args, name, shared_amax);
  std::vector<uint8_t> deq(size_t(rows * cols) * dtype_size(q.dense_dtype));
  dequantize(q, deq.data());
  std::vector<uint8_t> out(size_t(rows * cols) * dtype_size(dtype));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = size_t(r * cols + c);
      store_from_f32(out.data(), i, dtype, float(double(load_as_f32(deq.data(), i, q.dense_dtype)) / s[size_t(c)]));
    }
  return out;
}

}  // namespace lowbit::algorithms
