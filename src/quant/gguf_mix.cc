#include "quant/gguf_mix.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/error.h"
#include "core/regex.h"
#include "model/gguf_names.h"
#include "quant/matching.h"

namespace lowbit::quant {

namespace {

using T = GgmlType;

// ---- tensor categories (llama-quant.cpp's tensor_get_category) ----------------------------

// attn_qkv and attn_kv_b are attn_v-like: llama-quant.cpp's attn_v branch takes them before
// its own attn_qkv branch could, so one category holds all three.
enum class Cat { Output, TokenEmbd, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

struct CatRow {
  bool exact;  // the whole name, else a substring
  const char* text;
  Cat cat;
};
const CatRow kCategories[] = {
    {true, "output.weight", Cat::Output},           {true, "token_embd.weight", Cat::TokenEmbd},
    {true, "per_layer_token_embd.weight", Cat::TokenEmbd},
    {false, "attn_qkv.weight", Cat::AttnV},         {false, "attn_kv_b.weight", Cat::AttnV},
    {false, "attn_v.weight", Cat::AttnV},           {false, "attn_k.weight", Cat::AttnK},
    {false, "attn_q.weight", Cat::AttnQ},           {false, "attn_output.weight", Cat::AttnOutput},
    {false, "ffn_up", Cat::FfnUp},                  {false, "ffn_gate", Cat::FfnGate},
    {false, "ffn_down", Cat::FfnDown},
};

Cat category(const std::string& name) {
  for (const auto& r : kCategories)
    if (r.exact ? name == r.text : name.find(r.text) != std::string::npos) return r.cat;
  return Cat::Other;
}

// ---- which tensors are quantized (tensor_allows_quantization) ------------------------------

const char* const kNeverQuantizedSubstrings[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
    "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
};
const char* const kNeverQuantizedNames[] = {"position_embd.weight", "token_types.weight"};

int n_dims(const std::vector<int64_t>& ne) {  // ggml_n_dims: trailing 1s do not count
  int n = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] != 1) n = int(i) + 1;
  return n;
}

bool allows_quantization(const GgufMixTensor& t, const GgufMixOptions& o) {
  const std::string& name = t.name;
  if (n_dims(t.ne) < 2) return false;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  if (o.leave_output_tensor && name == "output.weight") return false;
  for (const char* s : kNeverQuantizedSubstrings)
    if (name.find(s) != std::string::npos) return false;
  for (const char* s : kNeverQuantizedNames)
    if (name == s) return false;
  return true;
}

// ---- the mix table ------------------------------------------------------------------------

// Families of ftypes: the branch of llama_tensor_get_type_impl that handles their tensors.
enum class Family {
  Float,     // F32/F16/BF16: not a quantized default, no rule runs
  Standard,  // attn_k -> Q8_0 with 8 experts first; attn_v after its rules: 70B Q3_K/Q4_K -> Q5_K, 8 experts -> Q8_0
  IqLow,     // IQ1_S/IQ1_M/IQ2_*: their own branch (ffn_down counts raw ffn_down tensors)
  Mxfp4Moe,  // expert (3-D) tensors MXFP4, everything else Q8_0
};

// Which layers a rule covers: i is the layer (ffn_*) or the attn_v counter, n their count.
enum class Where { Any, MoreBits, FirstEighth, FirstSixteenth, Middle, First2, First4 };
enum class Req : uint8_t { Any, Yes, No };

struct Rule {
  Cat cat;
  T type;
  Where where = Where::Any;
  Req gqa4 = Req::Any;      // n_head / n_head_kv >= 4
  Req imatrix = Req::Any;   // an importance matrix is given
  Req experts8 = Req::Any;  // n_expert == 8
  Req experts4 = Req::Any;  // n_expert >= 4
};

struct FtypeRow {
  GgufFtypeInfo info;
  Family family;
  T output;                        // output.weight (and the tied token_embd) when its rows fit the default's block
  std::optional<T> token_embd;     // an untied token_embd's type; nullopt: the default
  std::vector<Rule> rules;         // per category, the first rule that holds sets the type
};

using F = GgufFtype;
using C = Cat;
using W = Where;
constexpr Req Y = Req::Yes, N = Req::No;

// The attn_output rule llama-quant.cpp gives these ftypes on an 8-expert model.
const Rule kAttnOut8 = {.cat = C::AttnOutput, .type = T::Q5_K, .experts8 = Y};

const std::vector<Rule> kIq2Low = {
    {.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, {.cat = C::AttnV, .type = T::Q4_K, .experts4 = Y},
    {.cat = C::AttnV, .type = T::Q2_K},            {.cat = C::AttnK, .type = T::Q4_K, .experts8 = Y},
    {.cat = C::FfnDown, .type = T::Q2_K, .where = W::FirstEighth}, kAttnOut8};
const std::vector<Rule> kIq1 = {
    {.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, {.cat = C::AttnV, .type = T::Q4_K, .experts4 = Y},
    {.cat = C::AttnV, .type = T::Q2_K},            {.cat = C::AttnK, .type = T::Q4_K, .experts8 = Y},
    {.cat = C::FfnDown, .type = T::Q2_K, .where = W::FirstEighth}, kAttnOut8,
    {.cat = C::AttnOutput, .type = T::IQ2_XXS}};
const std::vector<Rule> kIq2High = {
    {.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, {.cat = C::AttnV, .type = T::Q4_K, .experts4 = Y},
    {.cat = C::AttnV, .type = T::IQ3_S},           {.cat = C::AttnK, .type = T::Q4_K, .experts8 = Y},
    {.cat = C::FfnDown, .type = T::IQ3_S, .where = W::FirstEighth}, kAttnOut8,
    {.cat = C::AttnOutput, .type = T::IQ3_S}};
const std::vector<Rule> kIq4 = {{.cat = C::AttnV, .type = T::Q5_K, .gqa4 = Y},
                                {.cat = C::FfnDown, .type = T::Q5_K, .where = W::FirstEighth, .imatrix = N},
                                kAttnOut8};

// llama-quantize's QUANT_OPTIONS order.
const FtypeRow kFtypes[] = {
    {{F::MOSTLY_Q4_0, "Q4_0", T::Q4_0}, Family::Standard, T::Q6_K, {},
     {{.cat = C::FfnDown, .type = T::Q4_1, .where = W::FirstEighth, .imatrix = Y}}},
    {{F::MOSTLY_Q4_1, "Q4_1", T::Q4_1}, Family::Standard, T::Q6_K, {}, {}},
    {{F::MOSTLY_MXFP4_MOE, "MXFP4_MOE", T::MXFP4}, Family::Mxfp4Moe, T::Q8_0, {}, {}},
    {{F::MOSTLY_Q5_0, "Q5_0", T::Q5_0}, Family::Standard, T::Q6_K, {},
     {{.cat = C::FfnDown, .type = T::Q5_1, .where = W::FirstEighth, .imatrix = Y}}},
    {{F::MOSTLY_Q5_1, "Q5_1", T::Q5_1}, Family::Standard, T::Q6_K, {}, {}},
    {{F::MOSTLY_IQ2_XXS, "IQ2_XXS", T::IQ2_XXS}, Family::IqLow, T::Q5_K, T::Q2_K, kIq2Low},
    {{F::MOSTLY_IQ2_XS, "IQ2_XS", T::IQ2_XS}, Family::IqLow, T::Q5_K, T::Q2_K, kIq2Low},
    {{F::MOSTLY_IQ2_S, "IQ2_S", T::IQ2_XS}, Family::IqLow, T::Q5_K, T::IQ3_S, kIq2High},
    {{F::MOSTLY_IQ2_M, "IQ2_M", T::IQ2_S}, Family::IqLow, T::Q5_K, T::IQ3_S, kIq2High},
    {{F::MOSTLY_IQ1_S, "IQ1_S", T::IQ1_S}, Family::IqLow, T::Q5_K, T::Q2_K, kIq1},
    {{F::MOSTLY_IQ1_M, "IQ1_M", T::IQ1_M}, Family::IqLow, T::Q5_K, T::Q2_K, kIq1},
    {{F::MOSTLY_TQ1_0, "TQ1_0", T::TQ1_0}, Family::Standard, T::Q6_K, T::Q4_K, {}},
    {{F::MOSTLY_TQ2_0, "TQ2_0", T::TQ2_0}, Family::Standard, T::Q6_K, T::Q4_K, {}},
    {{F::MOSTLY_Q2_K, "Q2_K", T::Q2_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, {.cat = C::AttnV, .type = T::Q3_K},
      {.cat = C::FfnDown, .type = T::Q3_K}, kAttnOut8, {.cat = C::AttnOutput, .type = T::Q3_K}}},
    {{F::MOSTLY_Q2_K_S, "Q2_K_S", T::Q2_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y},
      {.cat = C::FfnDown, .type = T::Q4_K, .where = W::FirstEighth}}},
    {{F::MOSTLY_IQ3_XXS, "IQ3_XXS", T::IQ3_XXS}, Family::Standard, T::Q5_K, T::IQ3_S,
     {{.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, {.cat = C::AttnV, .type = T::IQ3_S, .imatrix = N},
      {.cat = C::AttnV, .type = T::IQ3_XXS}, {.cat = C::AttnK, .type = T::IQ2_S},
      {.cat = C::AttnQ, .type = T::IQ2_S},
      {.cat = C::FfnDown, .type = T::Q4_K, .where = W::FirstEighth, .imatrix = N},
      {.cat = C::FfnDown, .type = T::Q3_K, .imatrix = N}, kAttnOut8, {.cat = C::AttnOutput, .type = T::IQ3_S}}},
    {{F::MOSTLY_IQ3_S, "IQ3_S", T::IQ3_S}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, kAttnOut8}},
    {{F::MOSTLY_IQ3_M, "IQ3_M", T::IQ3_S}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q4_K}, {.cat = C::FfnDown, .type = T::Q4_K, .where = W::FirstEighth},
      {.cat = C::FfnDown, .type = T::Q4_K, .where = W::MoreBits, .experts8 = Y}, kAttnOut8,
      {.cat = C::AttnOutput, .type = T::Q4_K}}},
    {{F::MOSTLY_IQ3_XS, "IQ3_XS", T::IQ3_S}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q4_K, .gqa4 = Y}, {.cat = C::AttnK, .type = T::IQ3_XXS},
      {.cat = C::AttnQ, .type = T::IQ3_XXS}, kAttnOut8,
      {.cat = C::FfnGate, .type = T::IQ3_XXS, .where = W::Middle},
      {.cat = C::FfnUp, .type = T::IQ3_XXS, .where = W::Middle}}},
    {{F::MOSTLY_Q3_K_S, "Q3_K_S", T::Q3_K}, Family::Standard, T::Q6_K, {}, {kAttnOut8}},
    {{F::MOSTLY_Q3_K_M, "Q3_K_M", T::Q3_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q5_K, .where = W::First2}, {.cat = C::AttnV, .type = T::Q4_K},
      {.cat = C::FfnDown, .type = T::Q5_K, .where = W::FirstSixteenth}, {.cat = C::FfnDown, .type = T::Q4_K},
      kAttnOut8, {.cat = C::AttnOutput, .type = T::Q4_K}}},
    {{F::MOSTLY_Q3_K_L, "Q3_K_L", T::Q3_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q5_K}, {.cat = C::FfnDown, .type = T::Q5_K},
      {.cat = C::AttnOutput, .type = T::Q5_K, .experts8 = N}}},
    {{F::MOSTLY_IQ4_NL, "IQ4_NL", T::IQ4_NL}, Family::Standard, T::Q6_K, {}, kIq4},
    {{F::MOSTLY_IQ4_XS, "IQ4_XS", T::IQ4_XS}, Family::Standard, T::Q6_K, {}, kIq4},
    {{F::MOSTLY_Q4_K_S, "Q4_K_S", T::Q4_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q5_K, .where = W::First4},
      {.cat = C::FfnDown, .type = T::Q5_K, .where = W::FirstEighth}, kAttnOut8}},
    {{F::MOSTLY_Q4_K_M, "Q4_K_M", T::Q4_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q6_K, .where = W::MoreBits},
      {.cat = C::FfnDown, .type = T::Q6_K, .where = W::MoreBits}, kAttnOut8}},
    {{F::MOSTLY_Q5_K_S, "Q5_K_S", T::Q5_K}, Family::Standard, T::Q6_K, {}, {}},
    {{F::MOSTLY_Q5_K_M, "Q5_K_M", T::Q5_K}, Family::Standard, T::Q6_K, {},
     {{.cat = C::AttnV, .type = T::Q6_K, .where = W::MoreBits},
      {.cat = C::FfnDown, .type = T::Q6_K, .where = W::MoreBits}}},
    {{F::MOSTLY_Q6_K, "Q6_K", T::Q6_K}, Family::Standard, T::Q6_K, {}, {}},
    {{F::MOSTLY_Q8_0, "Q8_0", T::Q8_0}, Family::Standard, T::Q8_0, {}, {}},
    {{F::MOSTLY_F16, "F16", T::F16}, Family::Float, T::F16, {}, {}},
    {{F::MOSTLY_BF16, "BF16", T::BF16}, Family::Float, T::BF16, {}, {}},
    {{F::ALL_F32, "F32", T::F32}, Family::Float, T::F32, {}, {}},
};

struct Alias {
  const char* name;
  F ftype;
};
const Alias kAliases[] = {{"Q3_K", F::MOSTLY_Q3_K_M}, {"Q4_K", F::MOSTLY_Q4_K_M}, {"Q5_K", F::MOSTLY_Q5_K_M}};

const FtypeRow& row_of(F id) {
  for (const auto& r : kFtypes)
    if (r.info.id == id) return r;
  throw std::logic_error("ftype " + std::to_string(uint32_t(id)) + " has no row");
}

// The fallback when a row does not fill whole blocks (tensor_type_fallback).
struct FallbackRow {
  T from, to;
};
const FallbackRow kFallbacks[] = {
    {T::IQ1_S, T::IQ4_NL}, {T::IQ1_M, T::IQ4_NL}, {T::IQ2_XXS, T::IQ4_NL}, {T::IQ2_XS, T::IQ4_NL},
    {T::IQ2_S, T::IQ4_NL}, {T::IQ3_XXS, T::IQ4_NL}, {T::IQ3_S, T::IQ4_NL}, {T::IQ4_XS, T::IQ4_NL},
    {T::Q2_K, T::Q4_0},    {T::Q3_K, T::Q4_0},      {T::TQ1_0, T::Q4_0},   {T::TQ2_0, T::Q4_0},
    {T::Q4_K, T::Q5_0},    {T::Q5_K, T::Q5_1},      {T::Q6_K, T::Q8_0},
};

// When llama.cpp calls a model 70B (the attn_v bump): llama with 80 layers and grouped-query
// attention (not an 8-expert model), qwen2 with 80 layers (models/llama.cpp, qwen2.cpp).
struct ArchRules {
  const char* arch;
  int64_t layers_70b;  // 0: never
  bool needs_gqa;
};
const ArchRules kArchRules[] = {{"llama", 80, true}, {"qwen2", 80, false}, {"qwen3", 0, false}};

std::string type_name(T t) { return std::string(ggml_traits(t).name); }
int64_t block(T t) { return ggml_traits(t).block_size; }
bool is_quantized(T t) { return ggml_traits(t).quantized; }

// sscanf(name, "blk.%d.", &layer) as weight_name_comparer and layer_info read it; -1 if none.
int layer_of(const std::string& name) {
  if (name.compare(0, 4, "blk.") != 0) return -1;
  size_t i = 4;
  bool neg = false;
  if (i < name.size() && (name[i] == '+' || name[i] == '-')) neg = name[i++] == '-';
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  int64_t v = 0;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && v < (int64_t(1) << 31); ++i)
    v = v * 10 + (name[i] - '0');
  return int(neg ? -v : v);
}

bool holds(Req r, bool value) { return r == Req::Any || (r == Req::Yes) == value; }

class Mixer {
 public:
  Mixer(const GgufMixModel& m, const FtypeRow& row, const GgufMixOptions& o) : m_(m), row_(row), o_(o) {
    bool found = false;
    for (const auto& a : kArchRules)
      if (m.arch == a.arch) {
        found = true;
        is_70b_ = a.layers_70b != 0 && m.n_layer == a.layers_70b && (!a.needs_gqa || m.n_head != m.n_head_kv) &&
                  !(std::string(a.arch) == "llama" && m.n_expert == 8);
      }
    if (!found) throw_arch();
    if (m.n_layer <= 0 || m.n_head <= 0 || m.n_head_kv < 0 || m.n_expert < 0)
      throw UserError("GGUF mix: n_layer and n_head must be positive (n_layer " + std::to_string(m.n_layer) +
                      ", n_head " + std::to_string(m.n_head) + ")");
    n_gqa_ = m.n_head_kv > 0 ? m.n_head / m.n_head_kv : 0;
    tied_ = true;
    for (const auto& t : m.tensors) {
      if (t.ne.empty()) throw UserError("GGUF mix: tensor '" + t.name + "' has no shape");
      const Cat c = category(t.name);
      if (c == Cat::AttnV) ++n_attention_wv_;
      if (c == Cat::Output) tied_ = false;
    }
    for (const auto& ov : o.tensor_types) {
      if (ov.lowbit_syntax())
        lowbit_.push_back({std::make_unique<Matcher>(ov.pattern), nullptr, ov.type, &ov.pattern});
      else {
        std::string p = ov.pattern;
        for (char& ch : p) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        llama_.push_back({nullptr, std::make_unique<Regex>(p, Regex::Mode::Search, "invalid --tensor-type pattern"),
                          ov.type, &ov.pattern});
      }
    }
    for (const auto& e : o.ignore) ignore_.push_back({std::make_unique<Matcher>(e), nullptr, T::F32, &e});
  }

  GgufMix run() {
    GgufMix out{row_.info, {}, {}};
    std::vector<size_t> order(m_.tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {  // llama.cpp's weight_name_comparer
      const auto &x = m_.tensors[a].name, &y = m_.tensors[b].name;
      const int lx = layer_of(x), ly = layer_of(y);
      return lx != ly ? lx < ly : x < y;
    });
    std::vector<GgufTensorType> chosen(m_.tensors.size());
    for (size_t i : order) {
      const GgufMixTensor& t = m_.tensors[i];
      const bool quantizable = allows_quantization(t, o_);
      const T type = quantizable ? choose(t) : t.type;
      chosen[i] = {t.name, type, quantizable && requires_imatrix(t.name, type)};
    }
    out.tensors = std::move(chosen);
    out.notes = std::move(notes_);
    for (const auto* list : {&ignore_, &lowbit_, &llama_})
      for (const auto& p : *list)
        if (!p.used)
          out.notes.push_back((list == &ignore_ ? "ignore entry '" : "--tensor-type '") + *p.text +
                              "' applies to no tensor");
    return out;
  }

 private:
  // A lowbit entry (Matcher on the HF module paths) or a llama.cpp regex (on the GGUF name).
  struct Pattern {
    std::unique_ptr<Matcher> lowbit;
    std::unique_ptr<Regex> llama;
    T type;
    const std::string* text;
    bool used = false;
    bool hits(const GgufMixTensor& t) const {
      if (llama) return llama->matches(t.name);
      for (const auto& path : t.hf_modules)
        if (lowbit->match(model::Module{path, {}}) != MatchKind::None) return true;
      return false;
    }
  };

  [[noreturn]] void throw_arch() const {
    std::string list;
    for (const auto& a : model::gguf_archs()) list += std::string(list.empty() ? "" : ", ") + a;
    throw UserError("GGUF mix: architecture '" + m_.arch + "' is not supported (supported: " + list + ")");
  }

  static Pattern* first_match(std::vector<Pattern>& list, const GgufMixTensor& t) {
    for (auto& p : list)
      if (p.hits(t)) {
        p.used = true;
        return &p;
      }
    return nullptr;
  }

  bool rules_run() const { return is_quantized(row_.info.default_type) && !o_.pure; }

  // llama_tensor_get_type for a tensor that may be quantized, with lowbit's ignore and patterns first.
  T choose(const GgufMixTensor& t) {
    const Cat cat = category(t.name);
    if (first_match(ignore_, t)) {
      if (rules_run()) mix_rules(t, cat, row_.info.default_type);  // keep the layer counters in step
      return t.type;
    }
    if (const Pattern* p = first_match(lowbit_, t)) {
      if (rules_run()) mix_rules(t, cat, row_.info.default_type);
      return fallback(t, p->type);
    }
    if (o_.token_embedding_type && cat == Cat::TokenEmbd) {
      // per_layer_token_embd follows --token-embedding-type unless a --tensor-type names it
      const bool named = t.name == "per_layer_token_embd.weight" && first_match(llama_, t) != nullptr;
      if (!named) return *o_.token_embedding_type;
    }
    if (o_.output_type && cat == Cat::Output) return *o_.output_type;
    T type = row_.info.default_type;
    if (!is_quantized(type)) return type;
    if (const Pattern* p = first_match(llama_, t))
      type = p->type;
    else if (!o_.pure)
      type = mix_rules(t, cat, type);
    return fallback(t, type);
  }

  // llama_tensor_get_type_impl for our archs; advances the attn_v / ffn_* counters.
  T mix_rules(const GgufMixTensor& t, Cat cat, T type) {
    if (cat == Cat::Output || (tied_ && cat == Cat::TokenEmbd)) {
      if (o_.output_type) return *o_.output_type;
      if (row_.family != Family::Mxfp4Moe && t.ne[0] % block(type) != 0) return T::Q8_0;
      return row_.output;
    }
    if (row_.family == Family::Mxfp4Moe) return t.ne.size() > 2 && t.ne[2] > 1 ? T::MXFP4 : T::Q8_0;
    if (cat == Cat::TokenEmbd) return row_.token_embd.value_or(type);
    if (row_.family == Family::Standard && cat == Cat::AttnK && m_.n_expert == 8) return T::Q8_0;

    int i = 0, n = 0;
    if (cat == Cat::AttnV) {
      i = i_attention_wv_++;
      n = n_attention_wv_;
    } else if (cat == Cat::FfnDown || cat == Cat::FfnGate || cat == Cat::FfnUp) {
      int& counter = cat == Cat::FfnDown ? i_ffn_down_ : cat == Cat::FfnGate ? i_ffn_gate_ : i_ffn_up_;
      n = int(m_.n_layer);
      i = counter++;
      // layer_info: with experts the layer comes from the name (the IQ1/IQ2 branch reads the
      // raw counter)
      if (m_.n_expert > 1 && row_.family == Family::Standard) {
        i = layer_of(t.name);
        if (t.name.compare(0, 4, "blk.") != 0 || i < 0 || i >= n)
          throw UserError("GGUF mix: cannot tell the layer of tensor '" + t.name + "' (want blk.N. with N < " +
                          std::to_string(n) + ")");
      }
    }
    for (const Rule& r : row_.rules) {
      if (r.cat != cat || !holds(r.gqa4, n_gqa_ >= 4) || !holds(r.imatrix, o_.has_imatrix) ||
          !holds(r.experts8, m_.n_expert == 8) || !holds(r.experts4, m_.n_expert >= 4) || !covers(r.where, i, n))
        continue;
      type = r.type;
      break;
    }
    if (row_.family == Family::Standard && cat == Cat::AttnV) {
      if (is_70b_ && (type == T::Q3_K || type == T::Q4_K)) type = T::Q5_K;
      if (m_.n_expert == 8) type = T::Q8_0;
    }
    return type;
  }

  static bool covers(Where w, int i, int n) {
    switch (w) {
      case Where::Any: return true;
      case Where::MoreBits: return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
      case Where::FirstEighth: return i < n / 8;
      case Where::FirstSixteenth: return i < n / 16;
      case Where::Middle: return i >= n / 8 && i < 7 * n / 8;
      case Where::First2: return i < 2;
      case Where::First4: return i < 4;
    }
    return false;
  }

  // tensor_type_fallback: a type whose block does not divide the row length.
  T fallback(const GgufMixTensor& t, T type) {
    const int64_t ncols = t.ne[0];
    if (ncols % block(type) == 0) return type;
    T to = type;
    const auto it = std::find_if(std::begin(kFallbacks), std::end(kFallbacks), [&](const auto& f) { return f.from == type; });
    if (it != std::end(kFallbacks))
      to = it->to;
    else if (block(type) > 32)
      throw UserError("GGUF mix: tensor '" + t.name + "': row length " + std::to_string(ncols) +
                      " is not a multiple of " + std::to_string(block(type)) + " and " + type_name(type) +
                      " has no fallback type");
    if (ncols % block(to) != 0) to = T::F16;
    notes_.push_back(t.name + ": row length " + std::to_string(ncols) + " is not a multiple of " +
                     std::to_string(block(type)) + " (" + type_name(type) + "): falling back to " + type_name(to));
    return to;
  }

  bool requires_imatrix(const std::string& name, T type) const {
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") return false;
    switch (type) {
      case T::IQ3_XXS: case T::IQ2_XXS: case T::IQ2_XS: case T::IQ2_S: case T::IQ1_M: case T::IQ1_S: return true;
      case T::Q2_K: return row_.info.id == F::MOSTLY_Q2_K_S;
      default: return false;
    }
  }

  const GgufMixModel& m_;
  const FtypeRow& row_;
  const GgufMixOptions& o_;
  bool tied_ = true, is_70b_ = false;
  int64_t n_gqa_ = 0;
  int n_attention_wv_ = 0, i_attention_wv_ = 0, i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
  std::vector<Pattern> ignore_, lowbit_, llama_;
  std::vector<std::string> notes_;
};

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = char(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

}  // namespace

std::span<const GgufFtypeInfo> gguf_ftypes() {
  static const std::vector<GgufFtypeInfo> infos = [] {
    std::vector<GgufFtypeInfo> v;
    for (const auto& r : kFtypes) v.push_back(r.info);
    return v;
  }();
  return infos;
}

GgufFtypeInfo parse_gguf_ftype(std::string_view name) {
  const std::string want = upper(name);
  for (const auto& r : kFtypes)
    if (r.info.name == want) return r.info;
  for (const auto& a : kAliases)
    if (want == a.name) return row_of(a.ftype).info;
  std::string list;
  for (const auto& r : kFtypes) list += std::string(list.empty() ? "" : ", ") + std::string(r.info.name);
  for (const auto& a : kAliases) list += std::string(", ") + a.name;
  throw UserError("unknown GGUF type '" + std::string(name) + "' (llama.cpp's ftypes: " + list + ")");
}

bool GgufTypeOverride::lowbit_syntax() const {
  return pattern.rfind("re:", 0) == 0 || pattern.rfind("model.", 0) == 0 || pattern == "lm_head";
}

GgufTypeOverride parse_gguf_tensor_type(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw UserError("--tensor-type '" + spec + "': expected PATTERN=TYPE (e.g. 're:.*down_proj=Q6_K' or 'attn_v=q8_0')");
  const std::string type = spec.substr(eq + 1);
  const auto t = ggml_type_from_name(type);
  if (!t) {
    std::string list;
    for (const auto& row : ggml_type_table()) list += std::string(list.empty() ? "" : ", ") + std::string(row.name);
    throw UserError("--tensor-type '" + spec + "': unknown ggml type '" + type + "' (types: " + list + ")");
  }
  return {spec.substr(0, eq), *t};
}

bool GgufMix::requires_imatrix() const {
  return std::any_of(tensors.begin(), tensors.end(), [](const GgufTensorType& t) { return t.requires_imatrix; });
}

GgufMixModel gguf_mix_model(const model::Architecture& a, GgmlType matrix_type) {
  if (matrix_type != T::F32 && matrix_type != T::F16 && matrix_type != T::BF16)
    throw UserError("GGUF source type must be f32, f16 or bf16, not " + type_name(matrix_type));
  GgufMixModel m;
  m.arch = model::gguf_arch(a);
  m.n_layer = a.num_layers;
  m.n_head = a.heads;
  m.n_head_kv = a.kv_heads;
  for (auto& t : model::gguf_tensors(a)) {
    GgufMixTensor x;
    x.name = t.gguf;
    x.ne = t.ne;
    // convert_hf_to_gguf.py: 1-D tensors, norms and non-.weight tensors are F32
    const bool f32 = t.ne.size() <= 1 || t.gguf.ends_with("_norm.weight") || !t.gguf.ends_with(".weight");
    x.type = f32 ? T::F32 : matrix_type;
    if (!t.hf.empty()) {
      x.hf_modules.push_back(t.hf.substr(0, t.hf.rfind('.')));
      if (a.tied_embeddings && t.gguf == "token_embd.weight") x.hf_modules.push_back("lm_head");
    }
    m.tensors.push_back(std::move(x));
  }
  return m;
}

GgufMix choose_gguf_types(const GgufMixModel& model, const GgufFtypeInfo& ftype, const GgufMixOptions& options) {
  return Mixer(model, row_of(ftype.id), options).run();
}

}  // namespace lowbit::quant
