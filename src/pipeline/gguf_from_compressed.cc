#include "pipeline/gguf_from_compressed.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "export/checkpoint_info.h"
#include "export/compressed_tensors.h"
#include "numerics/half.h"

namespace lowbit::pipeline {

const quant::QuantScheme* CompressedSource::find(const std::string& module) const {
  const auto it = scheme_of.find(module);
  return it == scheme_of.end() ? nullptr : &it->second;
}

std::optional<CompressedSource> compressed_source(const io::ModelDir& in, const model::Architecture& arch) {
  if (!in.config().contains("quantization_config")) return std::nullopt;
  const std::string label = (in.path() / "config.json").string();
  CompressedSource src;
  src.recipe = exporter::recipe_from_quantization_config(in.config()["quantization_config"], label);
  const quant::Plan plan = quant::make_plan(arch, src.recipe);
  for (const auto& c : plan.linears) {
    if (c.group < 0) continue;
    const quant::QuantScheme& scheme = src.recipe.config_groups[size_t(c.group)].second;
    const QuantLayout layout = exporter::read_quantized_layout(in, c.module->path, scheme);
    if (layout.rows != c.module->out_features || layout.cols != c.module->in_features)
      throw UserError(in.path().string() + ": module " + c.module->path + ": stored shape does not match config.json");
    src.scheme_of.emplace(c.module->path, scheme);
  }
  return src;
}

namespace {
// FP16 bits of `v` when FP16 holds it exactly (normal or subnormal), else nothing.
std::optional<uint16_t> exact_fp16(float v) {
  if (!std::isfinite(v)) return std::nullopt;
  const uint16_t h = f32_to_fp16(v);
  if (fp16_to_f32(h) != v) return std::nullopt;
  return h;
}

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
}  // namespace

bool ggml_blocks_from_codes(const QuantizedWeight& q, GgmlType type, uint8_t* out, int64_t* rounded_offsets) {
  *rounded_offsets = 0;
  const bool int4 = q.element == Format::INT4, int8 = q.element == Format::INT8;
  if (q.block_rows != 1 || q.block_cols != 32 || q.cols % 32 != 0 || q.has_global_scale) return false;
  const bool to_q4_0 = type == GgmlType::Q4_0 && int4 && !q.has_zero_points;
  const bool to_q4_1 = type == GgmlType::Q4_1 && int4 && q.has_zero_points;
  const bool to_q8_0 = type == GgmlType::Q8_0 && int8 && !q.has_zero_points;
  if (!to_q4_0 && !to_q4_1 && !to_q8_0) return false;
  // Every block's FP16 fields first: nothing is written unless all are exact.
  const int64_t slots = q.slots();
  std::vector<uint16_t> d(static_cast<size_t>(slots)), m(to_q4_1 ? static_cast<size_t>(slots) : 0);
  for (int64_t s = 0; s < slots; ++s) {
    const float scale = q.scale_at(s);
    const auto h = exact_fp16(scale);
    if (!h) return false;
    d[size_t(s)] = *h;
    if (to_q4_1) {
      // compressed-tensors decodes s * (c - z), llama.cpp d * (c + 8) + m: m = -s * (z + 8), exact
      // in float32 (an FP16 scale times a 5-bit integer).
      // m needs up to 12 significant bits, FP16 has 11: where it does not fit, the nearest FP16
      // (the codes and scale stay; the block's offset moves by at most 2^-12 of itself).
      const float mv = -scale * float(q.zero_points[size_t(s)] + 8);
      const auto mh = exact_fp16(mv);
      m[size_t(s)] = mh ? *mh : f32_to_fp16(mv);
      if (!mh) ++*rounded_offsets;
    }
  }
  const int64_t blocks = q.cols / 32;
  const size_t block_bytes = to_q8_0 ? 34 : to_q4_1 ? 20 : 18;
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      uint8_t* blk = out + size_t(r * blocks + b) * block_bytes;
      const int64_t s = q.slot_of(r, b * 32);
      const int8_t* c = q.codes.data() + r * q.cols + b * 32;
      put16(blk, d[size_t(s)]);
      if (to_q8_0) {
        std::memcpy(blk + 2, c, 32);
        continue;
      }
      uint8_t* qs = blk + (to_q4_1 ? 4 : 2);
      if (to_q4_1) put16(blk + 2, m[size_t(s)]);
      // ggml's nibble order: byte j holds element j (low) and element j + 16 (high).
      for (int j = 0; j < 16; ++j) qs[j] = uint8_t((c[j] + 8) | (c[j + 16] + 8) << 4);
    }
  return true;
}

}  // namespace lowbit::pipeline
