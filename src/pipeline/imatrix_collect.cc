#include "pipeline/imatrix_collect.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "engine/decoder_layer.h"
#include "engine/transformer.h"
#include "export/checkpoint_weights.h"
#include "export/gguf_metadata.h"
#include "io/file_util.h"
#include "model/gguf_names.h"
#include "pipeline/calibration_data.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::pipeline {

namespace {

// Sums x^2 per input channel of each wanted Linear, tokens in order, in float32 as llama-imatrix
// does (its sums are floats too).
class SquareSums : public engine::LinearObserver {
 public:
  void want(const model::Module& m, const std::string& gguf_name) { slots_[m.path] = {gguf_name, nullptr}; }
  void bind(io::Imatrix& out) {
    for (auto& [path, s] : slots_) s.entry = &out.entries[s.name];
  }
  void on_input(const model::Module& m, const float* x, int64_t tokens) override {
    auto it = slots_.find(m.path);
    if (it == slots_.end()) return;
    io::ImatrixEntry& e = *it->second.entry;
    const int64_t k = m.in_features;
    if (e.sums.empty()) e.sums.assign(size_t(k), 0.0f), e.counts = {0};
    float* acc = e.sums.data();
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t c = 0; c < k; ++c) acc[c] += x[t * k + c] * x[t * k + c];
    e.counts[0] += tokens;
  }

 private:
  struct Slot {
    std::string name;
    io::ImatrixEntry* entry;
  };
  std::map<std::string, Slot> slots_;
};

void check_finite(const io::Imatrix& m, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    const auto& s = m.entries.at(n).sums;
    if (std::any_of(s.begin(), s.end(), [](float v) { return !std::isfinite(v); }))
      throw UserError("the sum of squared inputs of " + n +
                      " overflowed to a non-finite value (llama-imatrix stops there too): the activations are too "
                      "large for float32; try fewer or shorter chunks");
  }
}

}  // namespace

std::vector<std::vector<int32_t>> imatrix_text_chunks(const std::vector<int32_t>& stream, int32_t bos, int64_t ctx,
                                                      int64_t limit) {
  if (ctx < 16) throw UserError("--seq-len must be at least 16 (llama-imatrix ignores shorter batches)");
  int64_t n = int64_t(stream.size()) / ctx;
  if (n == 0)
    throw UserError("the calibration text has " + std::to_string(stream.size()) + " tokens, fewer than one chunk of " +
                    std::to_string(ctx));
  if (limit > 0) n = std::min(n, limit);
  std::vector<std::vector<int32_t>> out;
  for (int64_t i = 0; i < n; ++i) {
    out.emplace_back(stream.begin() + i * ctx, stream.begin() + (i + 1) * ctx);
    if (bos >= 0) out.back()[0] = bos;  // llama-imatrix overwrites the chunk's first token
  }
  return out;
}

int32_t llama_cpp_bos(const io::ModelDir& in, const model::Architecture& arch, const tokenizer::Tokenizer& tok,
                      const std::string& gguf_pre) {
  exporter::GgufMetadata kv;
  try {
    exporter::GgufMetadataOptions mo;
    mo.pre_tokenizer = gguf_pre;
    kv = exporter::gguf_metadata(in.path(), arch, in.config(), mo);
  } catch (const UserError&) {
    return tokenizer::bos_to_add(in.path(), tok, tokenizer::BosMode::Auto);
  }
  bool add = false;  // llama.cpp's default for the BPE vocabularies lowbit writes
  int32_t id = -1;
  for (const auto& [key, v] : kv) {
    if (key == "tokenizer.ggml.add_bos_token") add = v.as_bool();
    if (key == "tokenizer.ggml.bos_token_id") id = int32_t(v.as_u32());
  }
  return add ? id : -1;
}

ImatrixData imatrix_data(const io::ModelDir& in, const model::Architecture& arch, const ImatrixDataOptions& o) {
  const std::filesystem::path model_dir = in.path();
  if (o.samples < 0) throw UserError("--samples must be >= 0 (0: every chunk)");
  ImatrixData d;
  if (const int64_t n = self_calibration_count(o.calib); n > 0) {
    CalibrationSet set = generate_calibration(model_dir, n, o.seq_len, o.seed, o.progress);
    d.chunks = std::move(set.samples);
    d.description = set.description;
  } else {
    const auto tok = tokenizer::Tokenizer::from_file(model_dir / "tokenizer.json");
    const int32_t bos = llama_cpp_bos(in, arch, tok, o.gguf_pre);
    if (std::filesystem::path(o.calib).extension() == ".jsonl") {
      CalibrationOptions co{o.calib, o.samples > 0 ? o.samples : (int64_t(1) << 40), o.seq_len, o.seed, model_dir};
      CalibrationSet set = load_calibration(co, tok, bos);
      d.chunks = std::move(set.samples);
      d.description = set.description;
    } else {
      const std::string text = io::read_text_file(o.calib, size_t(4) << 30);
      if (text.empty()) throw UserError(o.calib + ": empty calibration file");
      std::vector<int32_t> stream;
      if (bos >= 0) stream.push_back(bos);  // llama.cpp tokenizes with its add-BOS rule
      const std::vector<int32_t> ids = tok.encode(text);
      stream.insert(stream.end(), ids.begin(), ids.end());
      d.chunks = imatrix_text_chunks(stream, bos, o.seq_len, o.samples);
      d.description = "plain text, " + std::to_string(d.chunks.size()) + " chunks of " + std::to_string(o.seq_len) +
                      " tokens (of " + std::to_string(int64_t(stream.size()) / o.seq_len) + ")" +
                      (bos >= 0 ? ", each starting with BOS" : "");
    }
  }
  for (const auto& c : d.chunks) d.tokens += int64_t(c.size());
  return d;
}

io::Imatrix collect_imatrix(const io::ModelDir& in, const model::Architecture& arch,
                            const std::vector<std::vector<int32_t>>& chunks, const ImatrixCollectOptions& o) {
  if (chunks.empty()) throw UserError("no calibration chunks to collect an importance matrix from");
  const std::string garch = model::gguf_arch(arch);
  bool has_output = false;  // an untied head: llama.cpp's output.weight
  for (const auto& t : model::gguf_tensors(arch)) has_output |= t.gguf == "output.weight";
  if (o.process_output && !has_output)
    log::info("--process-output: the head is tied to the embeddings (llama.cpp multiplies token_embd.weight, which "
              "llama-imatrix does not collect); no output.weight entry");

  io::Imatrix m;
  m.datasets = o.datasets;
  m.chunk_size = uint32_t(o.chunk_size);
  SquareSums sums;
  std::vector<std::vector<std::string>> names_of_layer(size_t(arch.num_layers));
  for (const auto& mod : arch.modules) {
    if (!mod.is_linear()) continue;
    if (mod.layer < 0 && !(o.process_output && has_output && mod.path == "lm_head")) continue;
    const std::string name = model::gguf_tensor_name(garch, mod.path + ".weight");
    sums.want(mod, name);
    if (mod.layer >= 0) names_of_layer[size_t(mod.layer)].push_back(name);
  }
  sums.bind(m);

  exporter::CheckpointWeights source(in, arch);
  engine::Transformer net(arch, source, engine::Residency::OneLayer);
  std::vector<std::vector<float>> hidden;  // float32, as llama.cpp's residual stream
  for (const auto& c : chunks) hidden.push_back(net.embed(c));
  const std::string probe = "model.layers.0.self_attn.q_proj.weight";
  const io::TensorRef* probe_ref = in.find(probe);
  const bool bf16_products = probe_ref && probe_ref->info->dtype == DType::BF16;

  Progress bar("imatrix", uint64_t(arch.num_layers), uint64_t(arch.num_layers) * chunks.size(), o.progress, "layers",
               "chunk passes");
  for (int i = 0; i < arch.num_layers; ++i) {
    {
      engine::DecoderLayer layer(arch, i, source);
      if (bf16_products) layer.use_bf16_products();
      for (auto& h : hidden) {
        check_interrupted();
        const int64_t T = int64_t(h.size()) / arch.hidden;
        layer.forward(h.data(), net.rope(0, T), nullptr, &sums);
        bar.advance(0, 1);
      }
    }
    for (const auto& mod : arch.modules)
      if (mod.layer == i) source.release(mod);
    check_finite(m, names_of_layer[size_t(i)]);
    bar.advance(1, 0);
  }
  if (o.process_output && has_output) {
    const model::Module& head = arch.module("lm_head");
    for (const auto& h : hidden) {
      const int64_t T = int64_t(h.size()) / arch.hidden;
      const std::vector<float> n = net.final_norm(h.data(), T);
      sums.on_input(head, n.data(), T);
    }
    check_finite(m, {"output.weight"});
  }
  bar.finish();
  // As llama-imatrix counts them: whole chunks of chunk_size among the most tokens any entry saw.
  int64_t most = 0;
  for (const auto& [name, e] : m.entries) most = std::max(most, e.counts[0]);
  m.chunk_count = o.chunk_size > 0 ? uint32_t(most / o.chunk_size) : uint32_t(chunks.size());
  return m;
}

}  // namespace lowbit::pipeline
