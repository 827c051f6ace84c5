#include "pipeline/gguf_export.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "core/error.h"
#include "core/log.h"
#include "export/compressed_tensors.h"
#include "export/gguf_checkpoint_writer.h"
#include "export/gguf_metadata.h"
#include "model/gguf_names.h"
#include "numerics/convert.h"
#include "numerics/ggml_quants.h"
#include "numerics/scan.h"
#include "pipeline/gguf_from_compressed.h"
#include "pipeline/quantize_checkpoint.h"

namespace lowbit::pipeline {

namespace {

// The module a weight name belongs to when a compressed-tensors source quantized it.
const quant::QuantScheme* compressed_scheme(const std::optional<CompressedSource>& ct, const std::string& tensor) {
  if (!ct || !tensor.ends_with(".weight")) return nullptr;
  return ct->find(tensor.substr(0, tensor.size() - 7));
}

// The model's dtype, from its first dense matrix.
DType matrix_dtype(const io::ModelDir& in, const model::Architecture& arch, const std::optional<CompressedSource>& ct) {
  for (const auto& p : arch.params)
    if (p.shape.size() == 2 && !compressed_scheme(ct, p.name)) return in.at(p.name).info->dtype;
  return DType::F32;
}

// Every tensor the architecture needs, dense or (from a compressed-tensors source) quantized.
void validate_source(const io::ModelDir& in, const model::Architecture& arch, const std::optional<CompressedSource>& ct) {
  if (!ct) return validate_checkpoint(in, arch);
  model::Architecture dense = arch;  // the quantized modules were checked by compressed_source
  std::erase_if(dense.params, [&](const model::Param& p) { return compressed_scheme(ct, p.name) != nullptr; });
  validate_checkpoint(in, dense);
}

GgmlType ggml_of(DType t) {
  switch (t) {
    case DType::F16: return GgmlType::F16;
    case DType::BF16: return GgmlType::BF16;
    default: return GgmlType::F32;
  }
}

bool is_rope_permuted(const std::string& arch, const std::string& hf_name) {
  if (arch != "llama") return false;
  return hf_name.ends_with("self_attn.q_proj.weight") || hf_name.ends_with("self_attn.k_proj.weight") ||
         hf_name.ends_with("self_attn.q_proj.bias") || hf_name.ends_with("self_attn.k_proj.bias");
}

// Writes one tensor's bytes and counts it as quantized or copied (a float type).
void write_counted(exporter::CheckpointWriter& w, GgufExportSummary& sum, const std::string& name, GgmlType type,
                   const std::vector<uint8_t>& bytes) {
  w.write_dense(name, bytes.data(), bytes.size());
  if (ggml_traits(type).quantized)
    ++sum.sizes.quantized_modules;
  else
    ++sum.sizes.copied_tensors;
}

}  // namespace

void permute_rope_rows_bytes(uint8_t* w, int64_t rows, uint64_t row_bytes, int64_t heads) {
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
    throw UserError("cannot permute " + std::to_string(rows) + " rows into " + std::to_string(heads) +
                    " RoPE heads of even size");
  const int64_t d = rows / heads, half = d / 2;
  std::vector<uint8_t> head(size_t(d) * row_bytes);
  for (int64_t h = 0; h < heads; ++h) {
    uint8_t* base = w + uint64_t(h * d) * row_bytes;
    std::memcpy(head.data(), base, head.size());
    for (int64_t j = 0; j < half; ++j)
      for (int64_t s = 0; s < 2; ++s)
        std::memcpy(base + uint64_t(2 * j + s) * row_bytes, head.data() + uint64_t(s * half + j) * row_bytes, row_bytes);
  }
}

void permute_rope_rows(float* w, int64_t rows, int64_t cols, int64_t heads) {
  permute_rope_rows_bytes(reinterpret_cast<uint8_t*>(w), rows, uint64_t(cols) * sizeof(float), heads);
}

// The converter computes these in float32 tensors (torch), from the config's rope_scaling.
std::vector<float> llama3_rope_factors(const model::Architecture& a) {
  const int64_t dim = a.head_dim;
  const float factor = float(a.rope_factor), low = float(a.rope_low_freq_factor), high = float(a.rope_high_freq_factor);
  const float old_ctx = float(a.rope_original_max_positions);
  const float low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(float(a.rope_theta), float(i) / float(dim));
    const float wavelen = float(2 * std::numbers::pi) / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(factor);
    } else {
      const float smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(1.0f / ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

quant::GgufMix plan_gguf(const io::ModelDir& in, const model::Architecture& arch, const GgufExportOptions& opts) {
  const std::optional<CompressedSource> ct = compressed_source(in, arch);
  validate_source(in, arch, ct);
  const quant::GgufMixModel m = quant::gguf_mix_model(arch, ggml_of(matrix_dtype(in, arch, ct)));
  quant::GgufMixOptions mo = opts.mix;
  mo.has_imatrix = mo.has_imatrix || !opts.imatrix.empty();  // set alone: a --dry-run before --calib computes it
  quant::GgufMix mix = quant::choose_gguf_types(m, quant::parse_gguf_ftype(opts.ftype), mo);
  for (const auto& t : mix.tensors)  // before any work: every type the mix picked must have an encoder
    if (!find_ggml_codec(t.type))
      throw UserError(std::string(mix.ftype.name) + " puts " + t.name + " in " + std::string(ggml_traits(t.type).name) +
                      ", a type lowbit does not encode yet (it encodes the k-quants, the legacy types, IQ4_NL, "
                      "IQ4_XS, MXFP4 and F32/F16/BF16)");
  for (const auto& [name, v] : opts.imatrix)
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw UserError("the importance matrix of " + name + " holds a non-finite value at index " +
                        std::to_string(i) + " (llama-quantize refuses it too)");
  // As llama-quantize: a tensor being quantized with a wrong-sized entry is an error (a
  // token_embd.weight entry is let pass, and that tensor quantized without it).
  std::map<std::string, int64_t> row_length;
  for (const auto& t : m.tensors) row_length[t.name] = t.ne.empty() ? 0 : t.ne[0];
  for (const auto& t : mix.tensors) {
    const auto e = opts.imatrix.find(t.name);
    if (e == opts.imatrix.end() || !ggml_traits(t.type).quantized || t.name == "token_embd.weight") continue;
    if (int64_t(e->second.size()) != row_length[t.name])
      throw UserError("imatrix size " + std::to_string(e->second.size()) + " is different from tensor size " +
                      std::to_string(row_length[t.name]) + " for " + t.name + " (an importance matrix of another model?)");
  }
  if (mix.requires_imatrix() && !mo.has_imatrix)
    throw UserError(std::string(mix.ftype.name) +
                    " needs an importance matrix (its low-bit types are poor without one): add --imatrix FILE or --calib FILE");
  return mix;
}

std::map<std::string, GgmlType> gguf_gptq_targets(const io::ModelDir& in, const model::Architecture& arch,
                                                  const GgufExportOptions& opts) {
  const quant::GgufMix mix = plan_gguf(in, arch, opts);
  const std::string garch = model::gguf_arch(arch);
  std::map<std::string, GgmlType> out;
  for (const auto& t : mix.tensors) {
    const GgmlCodec* c = find_ggml_codec(t.type);
    if (!c || !c->block_levels) continue;
    const std::string hf = model::hf_tensor_name(garch, t.name);
    if (!hf.ends_with(".weight")) continue;
    const std::string path = hf.substr(0, hf.size() - 7);
    for (const auto& m : arch.modules)
      if (m.path == path && m.is_linear()) out[path] = t.type;
  }
  return out;
}

GgufExportSummary export_gguf(const io::ModelDir& in, const model::Architecture& arch, const GgufExportOptions& opts) {
  const quant::GgufMix mix = plan_gguf(in, arch, opts);
  const std::optional<CompressedSource> ct = compressed_source(in, arch);
  const std::string garch = model::gguf_arch(arch);
  std::map<std::string, GgmlType> type_of;
  for (const auto& t : mix.tensors) type_of[t.name] = t.type;

  exporter::GgufMetadataOptions mo;
  mo.file_type = uint32_t(mix.ftype.id);
  mo.pre_tokenizer = opts.pre_tokenizer;
  exporter::GgufMetadata kv = exporter::gguf_metadata(in.path(), arch, in.config(), mo);
  if (!opts.imatrix.empty()) {
    // llama-quantize passes these as KV overrides: strings through a 128-byte buffer, counts as u32.
    auto cut = [](const std::string& s) { return s.substr(0, 127); };
    kv.emplace_back("quantize.imatrix.file", io::GgufValue::string(cut(opts.imatrix_file)));
    if (!opts.imatrix_datasets.empty())
      kv.emplace_back("quantize.imatrix.dataset", io::GgufValue::string(cut(opts.imatrix_datasets[0])));
    kv.emplace_back("quantize.imatrix.entries_count", io::GgufValue::u32(uint32_t(opts.imatrix.size())));
    if (opts.imatrix_chunks > 0)
      kv.emplace_back("quantize.imatrix.chunks_count", io::GgufValue::u32(opts.imatrix_chunks));
  }

  GgufExportSummary sum;
  sum.notes = mix.notes;
  std::vector<io::GgufTensorInfo> infos;
  std::vector<StreamStep> steps;
  for (const model::GgufTensorName& t : model::gguf_tensors(arch)) {
    const auto it = type_of.find(t.gguf);
    if (it == type_of.end()) throw std::logic_error("the GGUF mix has no type for " + t.gguf);
    const GgmlType type = it->second;
    io::GgufTensorInfo info;
    info.name = t.gguf;
    info.ne = t.ne;
    info.type = type;
    infos.push_back(info);
    ++sum.tensors_per_type[std::string(ggml_traits(type).name)];
    const int64_t cols = t.ne[0];
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    const uint64_t out_bytes = *ggml_row_bytes(type, cols) * uint64_t(rows);

    StreamStep s;
    s.out = {t.gguf, DType::F32, t.ne, nullptr};
    if (t.hf.empty()) {  // rope_freqs.weight: computed, not read
      s.produce = [&sum, name = t.gguf, &arch](exporter::CheckpointWriter& w) {
        const std::vector<float> f = llama3_rope_factors(arch);
        w.write_dense(name, f.data(), f.size() * sizeof(float));
        ++sum.sizes.copied_tensors;
      };
      steps.push_back(std::move(s));
      continue;
    }
    const int64_t heads = t.hf.find("k_proj") != std::string::npos ? arch.kv_heads : arch.heads;
    const bool permute = is_rope_permuted(garch, t.hf);
    if (const quant::QuantScheme* scheme = compressed_scheme(ct, t.hf)) {
      s.input_bytes = uint64_t(rows * cols) * 2;  // (the codes' size differs; this is for progress)
      const std::string module = t.hf.substr(0, t.hf.size() - 7);
      s.produce = [&sum, &in, scheme, module, type, rows, cols, out_bytes, permute, heads,
                   name = t.gguf](exporter::CheckpointWriter& w) {
        const QuantizedWeight q = exporter::read_quantized(in, module, *scheme);
        std::vector<uint8_t> y(out_bytes);
        int64_t rounded_offsets = 0;
        if (ggml_blocks_from_codes(q, type, y.data(), &rounded_offsets)) {
          if (permute) permute_rope_rows_bytes(y.data(), rows, out_bytes / uint64_t(rows), heads);
          ++sum.kept_codes;
          sum.rounded_offsets += rounded_offsets;
        } else {  // decoded exactly, then quantized by the type's own search
          std::vector<float> x(size_t(rows * cols));
          dequantize_rows_f32(q, 0, rows, x.data());
          if (const int64_t bad = find_non_finite(x.data(), rows * cols, DType::F32); bad >= 0)
            throw UserError(module + ": NaN or Inf in the decoded weight at flat index " + std::to_string(bad));
          if (permute) permute_rope_rows(x.data(), rows, cols, heads);
          ggml_quantize_rows(type, x.data(), y.data(), rows, cols, nullptr);
          if (ggml_traits(type).quantized) ++sum.re_rounded;
        }
        write_counted(w, sum, name, type, y);
      };
      steps.push_back(std::move(s));
      continue;
    }
    const io::TensorRef* src = &in.at(t.hf);
    s.input_bytes = src->info->nbytes();
    const std::string module = t.hf.ends_with(".weight") ? t.hf.substr(0, t.hf.size() - 7) : std::string();
    if (auto c = opts.calibrated_types.find(module); opts.calibrated && c != opts.calibrated_types.end()) {
      if (c->second != type) throw std::logic_error("the calibrator was told another type for " + module);
      s.produce = [&sum, &opts, &arch, src, module, type, rows, out_bytes, permute, heads,
                   name = t.gguf](exporter::CheckpointWriter& w) {
        QuantizedModule q = opts.calibrated->quantize(arch.module(module), quant::QuantArgs{}, *src, {});
        if (q.ggml_type != type || q.ggml_blocks.size() != out_bytes)
          throw std::logic_error("the calibrator's blocks for " + module + " are not " + std::string(ggml_traits(type).name));
        if (permute) permute_rope_rows_bytes(q.ggml_blocks.data(), rows, out_bytes / uint64_t(rows), heads);
        const ErrorStats e = quantization_error(q.weight);
        sum.sizes.errors.push_back({module, std::string(ggml_traits(type).name), e.relative_error, e.snr_db, q.note});
        ++sum.calibrated;
        src->release();
        write_counted(w, sum, name, type, q.ggml_blocks);
      };
      steps.push_back(std::move(s));
      continue;
    }
    // Only a tensor being quantized reads its entry (sizes were checked by plan_gguf, but for
    // token_embd.weight's, which llama-quantize lets pass unused).
    const auto imatrix = ggml_traits(type).quantized ? opts.imatrix.find(t.gguf) : opts.imatrix.end();
    const float* importance = imatrix == opts.imatrix.end() || int64_t(imatrix->second.size()) != cols
                                  ? nullptr
                                  : imatrix->second.data();
    s.produce = [&sum, src, type, rows, cols, out_bytes, importance, permute, heads,
                 name = t.gguf](exporter::CheckpointWriter& w) {
      const int64_t n = rows * cols;
      if (const int64_t bad = find_non_finite(src->data(), n, src->info->dtype); bad >= 0)
        throw UserError(src->file->path().filename().string() + ": tensor " + src->info->name +
                        ": NaN or Inf at flat index " + std::to_string(bad));
      std::vector<uint8_t> y(out_bytes);
      const uint64_t row_bytes = out_bytes / uint64_t(rows);
      // Widened in slabs of rows (a 7B model's embedding is 2 GB in float32); the Q/K
      // permutation moves rows within a head, so those tensors are widened whole.
      const int64_t slab = permute ? rows : std::max<int64_t>(1, (int64_t(16) << 20) / cols);
      std::vector<float> x(size_t(std::min(rows, slab) * cols));
      for (int64_t r0 = 0; r0 < rows; r0 += slab) {
        const int64_t nr = std::min(slab, rows - r0);
        to_f32(src->data(), src->info->dtype, size_t(r0 * cols), size_t(nr * cols), x.data());
        if (permute) permute_rope_rows(x.data(), cols == n ? n : nr, cols == n ? 1 : cols, heads);
        ggml_quantize_rows(type, x.data(), y.data() + uint64_t(r0) * row_bytes, nr, cols, importance);
      }
      src->release();
      write_counted(w, sum, name, type, y);
    };
    steps.push_back(std::move(s));
  }

  exporter::WriterOptions wo;
  wo.output = opts.output;
  wo.overwrite = opts.overwrite;
  auto writer = exporter::gguf_checkpoint_writer(wo, kv, infos);
  sum.sizes.seconds = run_stream(steps, *writer, "quantize", opts.progress);
  const exporter::WriteResult r = writer->commit({});
  for (const auto& s : steps) sum.sizes.input_bytes += s.input_bytes;
  sum.sizes.output_bytes = r.bytes;
  sum.sizes.shards = 1;
  return sum;
}

}  // namespace lowbit::pipeline
