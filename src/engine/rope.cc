#include "engine/rope.h"

#include <cmath>

namespace lowbit::engine {

Rope::Rope(const model::Architecture& a) : head_dim_(a.head_dim) {
  // RoPE inverse frequencies (HF _compute_default/linear/llama3 parameters), in float32 as HF.
  const int64_t d = a.head_dim;
  for (int64_t i = 0; i < d / 2; ++i) {
    double f = 1.0 / std::pow(a.rope_theta, double(2 * i) / double(d));
    float inv = float(f);
    if (a.rope_type == "linear") {
      inv = float(inv / a.rope_factor);
    } else if (a.rope_type == "llama3") {
      const double low_wavelen = double(a.rope_original_max_positions) / a.rope_low_freq_factor;
      const double high_wavelen = double(a.rope_original_max_positions) / a.rope_high_freq_factor;
      const double wavelen = 2 * M_PI / double(inv);
      if (wavelen > low_wavelen) {
        inv = float(inv / a.rope_factor);
      } else if (wavelen >= high_wavelen) {
        double smooth = (double(a.rope_original_max_positions) / wavelen - a.rope_low_freq_factor) /
                        (a.rope_high_freq_factor - a.rope_low_freq_factor);
        inv = float((1 - smooth) * inv / a.rope_factor + smooth * inv);
      }
    }
    inv_freq_.push_back(inv);
  }
}

RopeTable Rope::table(int64_t p0, int64_t T) const {
  const int64_t half = head_dim_ / 2;
  RopeTable tab{p0, T, std::vector<float>(size_t(T * half)), std::vector<float>(size_t(T * half))};
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const float angle = float(p0 + t) * inv_freq_[size_t(i)];
      tab.cos[size_t(t * half + i)] = std::cos(angle);
      tab.sin[size_t(t * half + i)] = std::sin(angle);
    }
  return tab;
}

void Rope::apply(float* v, int64_t heads, const RopeTable& tab) const {
  const int64_t d = head_dim_, half = d / 2, T = tab.tokens;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const float* c = tab.cos.data() + t * half;
    const float* s = tab.sin.data() + t * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* p = v + (t * heads + h) * d;
      for (int64_t i = 0; i < half; ++i) {
        const float a = p[i], b = p[i + half];
        p[i] = a * c[i] - b * s[i];  // rotate_half: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)
        p[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

}  // namespace lowbit::engine
