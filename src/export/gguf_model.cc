#include "export/gguf_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <optional>

#include "core/error.h"
#include "engine/ggml_linear.h"
#include "engine/linear.h"
#include "model/gguf_names.h"
#include "numerics/ggml_quants.h"

namespace lowbit::exporter {

namespace {

using nlohmann::json;
using io::GgufValueType;

std::string label_of(const io::GgufFile& f) { return f.path().string(); }

// Integers and floats are read in whatever width the writer chose: we only read them.
std::optional<int64_t> find_int(const io::GgufFile& f, const std::string& key) {
  const io::GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  switch (v->type()) {
    case GgufValueType::U8: return v->as_u8();
    case GgufValueType::I8: return v->as_i8();
    case GgufValueType::U16: return v->as_u16();
    case GgufValueType::I16: return v->as_i16();
    case GgufValueType::U32: return v->as_u32();
    case GgufValueType::I32: return v->as_i32();
    case GgufValueType::U64: return int64_t(std::min<uint64_t>(v->as_u64(), uint64_t(INT64_MAX)));
    case GgufValueType::I64: return v->as_i64();
    default:
      throw UserError(label_of(f) + ": key '" + key + "' is " + io::gguf_describe_type(v->type(), v->element_type()) +
                      " (expected an integer)");
  }
}

int64_t get_int(const io::GgufFile& f, const std::string& key) {
  const auto v = find_int(f, key);
  if (!v) throw UserError(label_of(f) + ": key '" + key + "' is missing");
  if (*v <= 0) throw UserError(label_of(f) + ": key '" + key + "' is " + std::to_string(*v) + " (expected > 0)");
  return *v;
}

std::optional<float> find_float(const io::GgufFile& f, const std::string& key) {
  const io::GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (v->type() == GgufValueType::F32) return v->as_f32();
  if (v->type() == GgufValueType::F64) return float(v->as_f64());
  throw UserError(label_of(f) + ": key '" + key + "' is " + io::gguf_describe_type(v->type(), v->element_type()) +
                  " (expected f32)");
}

std::optional<std::string> find_string(const io::GgufFile& f, const std::string& key) {
  const io::GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  return v->as_string();  // UserError naming the key on a type mismatch
}

// The shortest decimal that reads back as the same float: the converter stored 1e-5 as an f32,
// and config.json should say 1e-05, not 9.999999747378752e-06.
json short_float(float x) {
  char buf[64];
  for (int prec = 1; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, double(x));
    if (std::strtof(buf, nullptr) == x) break;
  }
  return json(std::strtod(buf, nullptr));  // a double: 10000.0 stays a float in JSON
}

// llama3 rope scaling's per-frequency divisors, as convert_hf_to_gguf computes rope_freqs
// (float32, from rope_scaling): 1 for short wavelengths, `factor` for long, smooth between.
std::vector<float> llama3_factors(int64_t dim, double theta, float factor, float low, float high, float old_ctx) {
  const float low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(float(theta), float(i) / float(dim));
    const float wavelen = float(2 * std::numbers::pi) / freq;
    if (wavelen < high_wavelen)
      out.push_back(1.0f);
    else if (wavelen > low_wavelen)
      out.push_back(factor);
    else
      out.push_back(1.0f / ((1 - (old_ctx / wavelen - low) / (high - low)) / factor + (old_ctx / wavelen - low) / (high - low)));
  }
  return out;
}

bool close_factors(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::fabs(a[i] - b[i]) > 1e-5f * std::max(1.0f, std::fabs(b[i]))) return false;
  return true;
}

// rope_scaling for config.json from rope_freqs.weight. The tensor fixes the factor (its
// largest value) but not all three of low/high_freq_factor and original_max_position_embeddings;
// Llama 3.x's values (1, 4, 8192) are tried first, then low = 1 with the other two fitted to
// the smooth band. Whatever is chosen must give back every stored value.
json llama3_rope_scaling(const io::GgufFile& f, const io::GgufTensorInfo& t, int64_t head_dim, double theta) {
  if (t.ne.size() != 1 || t.ne[0] != head_dim / 2)
    throw UserError(label_of(f) + ": rope_freqs.weight has " + std::to_string(t.ne.empty() ? 0 : t.ne[0]) +
                    " values (expected head_dim/2 = " + std::to_string(head_dim / 2) + ")");
  std::vector<float> v(size_t(t.ne[0]));
  ggml_dequantize(t.type, f.data(t), v.data(), t.ne[0]);
  const float factor = *std::max_element(v.begin(), v.end());
  auto scaling = [&](float low, float high, float old) {
    return json{{"rope_type", "llama3"}, {"factor", short_float(factor)}, {"low_freq_factor", short_float(low)},
                {"high_freq_factor", short_float(high)}, {"original_max_position_embeddings", int64_t(std::lround(old))}};
  };
  if (close_factors(llama3_factors(head_dim, theta, factor, 1, 4, 8192), v)) return scaling(1, 4, 8192);
  // smooth = (old/wavelen - low) / (high - low) is linear in 1/wavelen: fit it on the band.
  std::vector<std::pair<double, double>> pts;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] <= 1.0f || v[i] >= factor) continue;
    const double freq = 1.0 / std::pow(theta, double(2 * i) / double(head_dim));
    const double smooth = (1.0 / v[i] - 1.0 / factor) / (1.0 - 1.0 / factor);
    pts.emplace_back(freq / (2 * std::numbers::pi), smooth);
  }
  if (pts.size() >= 2 && factor > 1) {
    const auto [x0, y0] = pts.front();
    const auto [x1, y1] = pts.back();
    const double slope = (y1 - y0) / (x1 - x0), icpt = y0 - slope * x0;  // slope = old/(h-l), icpt = -l/(h-l)
    if (icpt < 0) {
      const double span = -1.0 / icpt, high = 1.0 + span, old = slope * span;
      const float old_r = float(std::round(old));
      if (close_factors(llama3_factors(head_dim, theta, factor, 1, float(high), old_r), v))
        return scaling(1, float(high), old_r);
    }
  }
  throw UserError(label_of(f) + ": rope_freqs.weight is not a llama3 rope scaling lowbit can express in config.json");
}

// Hugging Face's spelling of a pre-tokenizer llama.cpp knows by name (tokenizer.ggml.pre).
constexpr const char* kGpt2Split = nullptr;  // ByteLevel's own regex
constexpr const char* kLlama3Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kTekkenSplit =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

struct KnownPre {
  const char* pre;
  const char* split;    // a Split regex before ByteLevel; null: ByteLevel's own (gpt2) regex
  bool digits;          // individual digits first (StarCoder / SmolLM)
  bool ignore_merges;   // Llama 3's tokenizer.json sets it
};
// The tokenizers of the models lowbit writes (gguf_metadata's list); each is what the
// original tokenizer.json holds and what llama.cpp's llama-vocab.cpp splits with.
constexpr KnownPre kKnownPre[] = {
    {"gpt-2", kGpt2Split, false, false},          {"smollm", kGpt2Split, true, false},
    {"llama-bpe", kLlama3Split, false, true},     {"qwen2", kQwen2Split, false, false},
    {"deepseek-r1-qwen", kQwen2Split, false, false}, {"tekken", kTekkenSplit, false, false},
};

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

enum : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// tokenizer.json, tokenizer_config.json and the special ids from the tokenizer.ggml.* keys.
void build_tokenizer(const io::GgufFile& f, GgufHfModel& m, int64_t context_length) {
  const std::string label = label_of(f);
  const auto model = find_string(f, "tokenizer.ggml.model");
  if (!model) throw UserError(label + ": key 'tokenizer.ggml.model' is missing (the file has no tokenizer)");
  if (*model == "llama")
    throw UserError(label + ": tokenizer.ggml.model is 'llama' (a SentencePiece vocabulary); lowbit reads "
                    "byte-level BPE ('gpt2') tokenizers only for now");
  if (*model != "gpt2")
    throw UserError(label + ": tokenizer.ggml.model '" + *model + "' is not supported (lowbit reads 'gpt2')");
  const std::string pre = find_string(f, "tokenizer.ggml.pre").value_or("");
  const KnownPre* kp = nullptr;
  for (const auto& k : kKnownPre)
    if (pre == k.pre) kp = &k;
  if (!kp) {
    std::string list;
    for (const auto& k : kKnownPre) list += std::string(list.empty() ? "" : ", ") + k.pre;
    throw UserError(label + ": tokenizer.ggml.pre '" + pre + "' is not a pre-tokenizer lowbit knows (" + list + ")");
  }
  const std::vector<std::string>& tokens = f.get("tokenizer.ggml.tokens").as_strings();
  std::vector<int32_t> types(tokens.size(), kNormal);
  if (const io::GgufValue* t = f.find("tokenizer.ggml.token_type")) {
    types = t->as_i32s();
    if (types.size() != tokens.size())
      throw UserError(label + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " +
                      std::to_string(tokens.size()) + " tokens");
  }
  const std::vector<std::string>& merges = f.get("tokenizer.ggml.merges").as_strings();

  auto special_id = [&](const char* key) -> std::optional<int64_t> {
    const auto id = find_int(f, std::string("tokenizer.ggml.") + key);
    if (!id) return std::nullopt;
    if (*id < 0 || *id >= int64_t(tokens.size()))
      throw UserError(label + ": tokenizer.ggml." + key + " " + std::to_string(*id) + " is not a token id (" +
                      std::to_string(tokens.size()) + " tokens)");
    return id;
  };
  const auto bos = special_id("bos_token_id"), eos = special_id("eos_token_id"), unk = special_id("unknown_token_id"),
             pad = special_id("padding_token_id");
  auto flag = [&](const char* key) {
    const io::GgufValue* v = f.find(std::string("tokenizer.ggml.") + key);
    return v ? std::optional<bool>(v->as_bool()) : std::nullopt;
  };
  const bool add_bos = flag("add_bos_token").value_or(false) && bos, add_eos = flag("add_eos_token").value_or(false) && eos;

  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t ty = types[i];
    // The writer pads the embedding past the tokenizer with [PADi] tokens of type UNUSED.
    if (ty == kUnused && tokens[i] == "[PAD" + std::to_string(i) + "]") continue;
    if (!vocab.contains(tokens[i])) vocab[tokens[i]] = int64_t(i);
    if (ty == kControl || ty == kUserDefined || ty == kUnknown)
      added.push_back({{"id", int64_t(i)}, {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", ty == kUserDefined}, {"special", ty != kUserDefined}});
  }
  json pre_tok;
  if (kp->split) {
    pre_tok = {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Split"}, {"pattern", {{"Regex", kp->split}}}, {"behavior", "Isolated"}, {"invert", false}},
                 byte_level(false)}}};
  } else if (kp->digits) {
    pre_tok = {{"type", "Sequence"},
               {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}};
  } else {
    pre_tok = byte_level(true);
  }
  json post;
  if (add_bos || add_eos) {
    json single = json::array(), pair = json::array(), specials = json::object();
    auto special = [&](int64_t id, int type_id) { return json{{"SpecialToken", {{"id", tokens[size_t(id)]}, {"type_id", type_id}}}}; };
    for (int64_t id : std::initializer_list<int64_t>{add_bos ? *bos : -1, add_eos ? *eos : -1})
      if (id >= 0) specials[tokens[size_t(id)]] = {{"id", tokens[size_t(id)]}, {"ids", {id}}, {"tokens", {tokens[size_t(id)]}}};
    for (int s = 0; s < 2; ++s) {
      json& seq = s == 0 ? single : pair;
      for (int part = 0; part < (s == 0 ? 1 : 2); ++part) {
        if (add_bos) seq.push_back(special(*bos, part));
        seq.push_back({{"Sequence", {{"id", part == 0 ? "A" : "B"}, {"type_id", part}}}});
        if (add_eos) seq.push_back(special(*eos, part));
      }
    }
    post = {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
  } else {
    post = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  }
  m.tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", pre_tok},
      {"post_processor", post},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", unk ? json(tokens[size_t(*unk)]) : json(nullptr)},
        {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
        {"byte_fallback", false}, {"ignore_merges", kp->ignore_merges}, {"vocab", vocab}, {"merges", merges}}},
  };

  json& tc = m.tokenizer_config;
  tc = {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"clean_up_tokenization_spaces", false},
        {"model_max_length", context_length}, {"add_bos_token", add_bos}, {"add_eos_token", add_eos}};
  if (bos) tc["bos_token"] = tokens[size_t(*bos)];
  if (eos) tc["eos_token"] = tokens[size_t(*eos)];
  if (unk) tc["unk_token"] = tokens[size_t(*unk)];
  if (pad) tc["pad_token"] = tokens[size_t(*pad)];
  // The chat template, and named ones (tokenizer.chat_template.NAME) in the list form.
  json named = json::array();
  for (const auto& [key, value] : f.header().metadata)
    if (key.starts_with("tokenizer.chat_template."))
      named.push_back({{"name", key.substr(std::strlen("tokenizer.chat_template."))}, {"template", value.as_string()}});
  const auto chat = find_string(f, "tokenizer.chat_template");
  if (!named.empty()) {
    if (chat) named.insert(named.begin(), json{{"name", "default"}, {"template", *chat}});
    tc["chat_template"] = named;
  } else if (chat) {
    tc["chat_template"] = *chat;
  }
  json& gc = m.generation_config;
  gc = json::object();
  if (bos) gc["bos_token_id"] = *bos, m.config["bos_token_id"] = *bos;
  if (eos) gc["eos_token_id"] = *eos, m.config["eos_token_id"] = *eos;
  if (pad) gc["pad_token_id"] = *pad;
}

}  // namespace

GgufHfModel gguf_hf_model(const io::GgufFile& f, const std::string& torch_dtype) {
  const std::string label = label_of(f);
  if (const auto type = find_string(f, "general.type"); type && *type != "model")
    throw UserError(label + ": general.type is '" + *type + "', not a model");
  const auto arch = find_string(f, "general.architecture");
  if (!arch) throw UserError(label + ": key 'general.architecture' is missing");
  if (!model::is_gguf_arch(*arch))
    throw UserError(label + ": general.architecture '" + *arch +
                    "' is not supported (lowbit reads llama, qwen2 and qwen3 GGUF files)");
  const std::string& a = *arch;
  GgufHfModel m;
  m.gguf_arch = a;
  json& c = m.config;
  c["architectures"] = {a == "llama" ? "LlamaForCausalLM" : a == "qwen2" ? "Qwen2ForCausalLM" : "Qwen3ForCausalLM"};
  c["model_type"] = a;
  const int64_t hidden = get_int(f, a + ".embedding_length"), heads = get_int(f, a + ".attention.head_count");
  c["hidden_size"] = hidden;
  c["intermediate_size"] = get_int(f, a + ".feed_forward_length");
  // Each layer holds tensors: a count past the file's tensors is damage, not a model to build.
  const int64_t layers = get_int(f, a + ".block_count");
  if (uint64_t(layers) > f.tensors().size())
    throw UserError(label + ": " + a + ".block_count " + std::to_string(layers) + " is more than the file's " +
                    std::to_string(f.tensors().size()) + " tensors");
  c["num_hidden_layers"] = layers;
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = find_int(f, a + ".attention.head_count_kv").value_or(heads);
  const int64_t head_dim = find_int(f, a + ".attention.key_length").value_or(hidden / heads);
  if (const auto vl = find_int(f, a + ".attention.value_length"); vl && *vl != head_dim)
    throw UserError(label + ": " + a + ".attention.value_length " + std::to_string(*vl) + " differs from key_length " +
                    std::to_string(head_dim) + " (not a model lowbit runs)");
  if (const auto rd = find_int(f, a + ".rope.dimension_count"); rd && *rd != head_dim)
    throw UserError(label + ": " + a + ".rope.dimension_count " + std::to_string(*rd) +
                    " is not the head size " + std::to_string(head_dim) + " (partial RoPE is not supported)");
  c["head_dim"] = head_dim;
  const int64_t ctx = get_int(f, a + ".context_length");
  c["max_position_embeddings"] = ctx;
  const auto eps = find_float(f, a + ".attention.layer_norm_rms_epsilon");
  if (!eps) throw UserError(label + ": key '" + a + ".attention.layer_norm_rms_epsilon' is missing");
  c["rms_norm_eps"] = short_float(*eps);
  const float theta = find_float(f, a + ".rope.freq_base").value_or(10000.0f);
  c["rope_theta"] = short_float(theta);
  c["hidden_act"] = "silu";
  c["torch_dtype"] = torch_dtype;
  c["use_cache"] = true;
  const io::GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2)
    throw UserError(label + ": tensor 'token_embd.weight' is missing or not a matrix");
  c["vocab_size"] = embd->ne[1];
  c["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
  if (a != "qwen2") c["attention_bias"] = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  if (a == "llama") c["mlp_bias"] = f.find_tensor("blk.0.ffn_gate.bias") != nullptr;

  const auto scaling_type = find_string(f, a + ".rope.scaling.type");
  if (scaling_type && *scaling_type == "linear") {
    const auto factor = find_float(f, a + ".rope.scaling.factor");
    if (!factor) throw UserError(label + ": rope scaling 'linear' without " + a + ".rope.scaling.factor");
    c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", short_float(*factor)}};
  } else if (scaling_type && *scaling_type != "none") {
    throw UserError(label + ": " + a + ".rope.scaling.type '" + *scaling_type + "' is not supported (none, linear, "
                    "or llama3 through rope_freqs.weight)");
  }
  if (const io::GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight")) {
    if (a != "llama") throw UserError(label + ": rope_freqs.weight in a " + a + " model is not supported");
    if (c.contains("rope_scaling")) throw UserError(label + ": both linear rope scaling and rope_freqs.weight");
    c["rope_scaling"] = llama3_rope_scaling(f, *rf, head_dim, double(theta));
  }
  build_tokenizer(f, m, ctx);
  return m;
}

std::vector<GgufParam> gguf_params(const io::GgufFile& f, const std::string& a, const model::Architecture& arch) {
  const std::string label = label_of(f);
  // Every tensor must be one the architecture reads (the name table says which), or rope_freqs.
  for (const auto& t : f.tensors()) {
    if (t.name == "rope_freqs.weight") continue;
    const std::string hf = model::hf_tensor_name(a, t.name);  // UserError for a stray name
    bool known = false;
    for (const auto& p : arch.params) known = known || p.name == hf;
    if (!known) throw UserError(label + ": tensor '" + t.name + "' (" + hf + ") is not part of this model's config");
  }
  std::vector<GgufParam> out;
  for (const auto& p : arch.params) {
    const std::string gname = model::gguf_tensor_name(a, p.name);
    const io::GgufTensorInfo* t = f.find_tensor(gname);
    if (!t) {
      if (p.name == "lm_head.weight" && arch.tied_embeddings) continue;
      throw UserError(label + ": tensor '" + gname + "' (" + p.name + ") is missing");
    }
    // ggml drops trailing 1s from ne; the HF shape is ne reversed.
    std::vector<int64_t> ne = t->ne;
    while (ne.size() < p.shape.size()) ne.push_back(1);
    if (!std::equal(ne.rbegin(), ne.rend(), p.shape.begin(), p.shape.end())) {
      std::string got;
      for (auto it = ne.rbegin(); it != ne.rend(); ++it) got += (got.empty() ? "" : ", ") + std::to_string(*it);
      throw UserError(label + ": tensor '" + gname + "' has shape [" + got + "], not what the metadata implies for " +
                      p.name);
    }
    GgufParam g{p.name, t, p.shape, 0};
    if (a == "llama") {
      if (p.name.find("self_attn.q_proj.") != std::string::npos) g.rope_heads = arch.heads;
      if (p.name.find("self_attn.k_proj.") != std::string::npos) g.rope_heads = arch.kv_heads;
    }
    out.push_back(std::move(g));
  }
  return out;
}

void unpermute_rope_rows(float* w, int64_t rows, int64_t cols, int64_t heads) {
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
    throw UserError("cannot un-permute " + std::to_string(rows) + " rows from " + std::to_string(heads) +
                    " RoPE heads of even size");
  const int64_t d = rows / heads, half = d / 2;
  std::vector<float> head(size_t(d * cols));
  for (int64_t h = 0; h < heads; ++h) {
    float* base = w + h * d * cols;
    std::memcpy(head.data(), base, head.size() * sizeof(float));
    // The converter put HF row s*half + j at 2j + s.
    for (int64_t j = 0; j < half; ++j)
      for (int64_t s = 0; s < 2; ++s)
        std::memcpy(base + (s * half + j) * cols, head.data() + (2 * j + s) * cols, size_t(cols) * sizeof(float));
  }
}

std::vector<float> gguf_param_f32(const io::GgufFile& f, const GgufParam& p) {
  int64_t n = 1;
  for (int64_t d : p.shape) n *= d;
  std::vector<float> out(static_cast<size_t>(n));
  ggml_dequantize(p.tensor->type, f.data(*p.tensor), out.data(), n);
  if (p.rope_heads > 0) {
    const int64_t rows = p.shape[0], cols = p.shape.size() > 1 ? p.shape[1] : 1;
    unpermute_rope_rows(out.data(), rows, cols, p.rope_heads);
  }
  return out;
}

RopeRowsLinear::RopeRowsLinear(std::unique_ptr<engine::Linear> stored, int64_t heads)
    : Linear(stored->in(), stored->out()), stored_(std::move(stored)) {
  const int64_t rows = out();
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
    throw UserError("cannot un-permute " + std::to_string(rows) + " rows from " + std::to_string(heads) +
                    " RoPE heads of even size");
  head_rows_ = rows / heads;
}

int64_t RopeRowsLinear::stored_row(int64_t r) const {
  // The converter put HF row s*half + j of a head at 2j + s (unpermute_rope_rows' inverse).
  const int64_t half = head_rows_ / 2, i = r % head_rows_;
  return r - i + 2 * (i % half) + i / half;
}

void RopeRowsLinear::rows_f32(int64_t r0, int64_t r1, float* dst) const {
  const int64_t k = in();
#pragma omp parallel for schedule(static) if (r1 - r0 > 1)
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t s = stored_row(r);
    stored_->rows_f32(s, s + 1, dst + (r - r0) * k);
  }
}

GgufWeights::GgufWeights(const io::GgufFile& f, const std::string& a, const model::Architecture& arch)
    : f_(f) {
  for (auto& p : gguf_params(f, a, arch)) {
    const std::string name = p.hf;
    params_.emplace(name, std::move(p));
  }
}

namespace {
// F32, F16 and BF16 tensors are the engine's dtypes as they lie in the map.
std::optional<DType> plain_dtype(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return DType::F32;
    case GgmlType::F16: return DType::F16;
    case GgmlType::BF16: return DType::BF16;
    default: return std::nullopt;
  }
}
// ... and served as they lie when in HF row order.
std::optional<DType> map_dtype(const GgufParam& p) {
  return p.rope_heads == 0 ? plain_dtype(p.tensor->type) : std::nullopt;
}
}  // namespace

const GgufParam& GgufWeights::param(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) throw UserError(label_of(f_) + ": no tensor for " + name);
  return it->second;
}

engine::TensorView GgufWeights::view(const std::string& name) const {
  const GgufParam& p = param(name);
  if (const auto dt = map_dtype(p)) return {f_.data(*p.tensor), *dt, p.shape};
  std::lock_guard<std::mutex> lock(mu_);
  auto d = decoded_.find(name);
  if (d == decoded_.end()) d = decoded_.emplace(name, gguf_param_f32(f_, p)).first;
  return {d->second.data(), DType::F32, p.shape};
}

engine::TensorView GgufWeights::dense_weight(const model::Module& m) const { return view(m.path + ".weight"); }

std::unique_ptr<engine::Linear> GgufWeights::linear(const model::Module& m) const {
  const bool tied = m.path == "lm_head" && !params_.count("lm_head.weight");
  const GgufParam& p = param(tied ? std::string("model.embed_tokens.weight") : m.path + ".weight");
  std::unique_ptr<engine::Linear> out;
  if (const auto dt = plain_dtype(p.tensor->type))
    out = std::make_unique<engine::DenseLinear>(f_.data(*p.tensor), *dt, m.in_features, m.out_features);
  else
    out = std::make_unique<engine::GgmlLinear>(f_.data(*p.tensor), p.tensor->type, m.in_features, m.out_features);
  if (p.rope_heads > 0) out = std::make_unique<RopeRowsLinear>(std::move(out), p.rope_heads);
  if (m.has_bias) {
    // A bias is one row (out values): decoded whole if it must be, a few KB.
    const engine::TensorView b = view(m.path + ".bias");
    out->set_bias(b.data, b.dtype);
  }
  return out;
}

void GgufWeights::release(const model::Module& m) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const char* suffix : {".weight", ".bias"}) {
    const std::string name = m.path + suffix;
    decoded_.erase(name);
    if (auto it = params_.find(name); it != params_.end()) f_.release(*it->second.tensor);
  }
}

size_t GgufWeights::decoded_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [name, v] : decoded_) n += v.size() * sizeof(float);
  return n;
}

}  // namespace lowbit::exporter
