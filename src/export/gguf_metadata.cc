#include "export/gguf_metadata.h"

#include <map>
#include <optional>

#include "core/error.h"
#include "io/file_util.h"
#include "model/gguf_names.h"
#include "tokenizer/tokenizer.h"

namespace lowbit::exporter {

namespace {

using nlohmann::json;
using io::GgufValue;

json read_json(const std::filesystem::path& p) {
  try {
    return json::parse(io::read_text_file(p, 256u << 20));
  } catch (const json::exception& e) {
    throw UserError(p.string() + ": not valid JSON: " + e.what());
  }
}

// The converter's probe text (convert_hf_to_gguf.py, get_vocab_base_pre): its ids identify the
// pre-tokenizer, since tokenizer.json's own description of it is not what llama.cpp keys on.
const char* const kProbeText =
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\xF0\x9F\x9A\x80 (normal) "
    "\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F (multiple emojis concatenated) \xE2\x9C\x85 "
    "\xF0\x9F\xA6\x99\xF0\x9F\xA6\x99 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
    "\xE1\x9E\x80\xE1\x9E\xB6\xE1\x9E\x93\xE1\x9F\x8B\xE1\x9E\x8F\xE1\x9F\x82\xE1\x9E\x96\xE1\x9E\xB7\xE1\x9E\x9F"
    "\xE1\x9F\x81\xE1\x9E\x9F\xE1\x9E\xA2\xE1\x9E\xB6\xE1\x9E\x85\xF0\x9F\x98\x81 "
    "?\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8" "apple\xE5\xB7\xA5\xE4\xBD\x9C" "1314151\xE5\xA4\xA9\xEF\xBD\x9E "
    "------======= \xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE \xD0\xBD\xD0\xB0 "
    "\xD0\x91\xD1\x8A\xD0\xBB\xD0\xB3\xD0\xB0\xD1\x80\xD1\x81\xD0\xBA\xD0\xB8 "
    "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, "
    "'D you like some tea? We'Ve a'lL";

// SHA-256 of the probe's ids (printed as Python prints a list) -> llama.cpp's pre-tokenizer
// name, for the tokenizer families the architectures lowbit writes use. The values are facts
// about those tokenizers, recorded by llama.cpp's convert_hf_to_gguf_update.py.
struct KnownPre {
  const char* sha256;
  const char* pre;
  const char* example;
};
constexpr KnownPre kKnownPre[] = {
    {"0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5", "llama-bpe", "Meta-Llama-3-8B"},
    {"855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249", "smollm", "SmolLM-135M"},
    {"e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea", "qwen2", "Qwen1.5-7B"},
    {"d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c", "qwen2", "Qwen3-Embedding-0.6B"},
    {"b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5", "deepseek-r1-qwen",
     "DeepSeek-R1-Distill-Qwen-1.5B"},
    {"63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e", "tekken", "Mistral-Nemo-Base-2407"},
    {"3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454", "gpt-2", "gpt2"},
};

// tokenizer.json's post-processors in order: the members of a Sequence, or the one there is.
std::vector<const json*> post_processors(const json& tok) {
  std::vector<const json*> procs;
  if (!tok.contains("post_processor") || !tok["post_processor"].is_object()) return procs;
  const json& pp = tok["post_processor"];
  if (pp.value("type", "") == "Sequence" && pp.contains("processors") && pp["processors"].is_array())
    for (const auto& p : pp["processors"]) procs.push_back(&p);
  else
    procs.push_back(&pp);
  return procs;
}

// Special tokens a TemplateProcessing post-processor puts around a single sequence, as
// `tokenizer.encode(text)` (add_special_tokens=True) adds them: (leading, trailing) ids.
std::pair<std::vector<int32_t>, std::vector<int32_t>> template_specials(const json& tok) {
  std::vector<int32_t> lead, trail;
  for (const json* p : post_processors(tok)) {
    if (p->value("type", "") != "TemplateProcessing" || !p->contains("single")) continue;
    const json& specials = p->value("special_tokens", json::object());
    bool seen_sequence = false;
    for (const auto& piece : (*p)["single"]) {
      if (piece.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      if (!piece.contains("SpecialToken")) continue;
      const std::string id = piece["SpecialToken"].value("id", "");
      if (!specials.contains(id) || !specials[id].contains("ids")) continue;
      for (const auto& x : specials[id]["ids"]) (seen_sequence ? trail : lead).push_back(x.get<int32_t>());
    }
  }
  return {lead, trail};
}

bool looks_special(const std::string& t) {
  auto starts = [&](std::string_view p) { return t.compare(0, p.size(), p) == 0; };
  auto ends = [&](std::string_view s) { return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0; };
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (starts("<|") && ends("|>")) return true;
  if (starts("<\xEF\xBD\x9C") && ends("\xEF\xBD\x9C>")) return true;  // fullwidth bars (deepseek-coder)
  return starts("<unused") && ends(">");
}

// tokenizer_config.json's <typ>_token: a string or {"content": ...}.
std::optional<std::string> config_token(const json& tc, const std::string& key) {
  if (!tc.contains(key)) return std::nullopt;
  const json& e = tc[key];
  if (e.is_string()) return e.get<std::string>();
  if (e.is_object() && e.contains("content") && e["content"].is_string()) return e["content"].get<std::string>();
  return std::nullopt;
}

void add_u32(GgufMetadata& kv, const std::string& key, const json& v, const std::string& label) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > int64_t(UINT32_MAX))
    throw UserError(label + ": " + key + " is not a non-negative 32-bit integer");
  kv.emplace_back(key, GgufValue::u32(v.get<uint32_t>()));
}

}  // namespace

std::string detect_pre_tokenizer(const std::filesystem::path& dir) {
  const auto tok = tokenizer::Tokenizer::from_file(dir / "tokenizer.json");
  const auto [lead, trail] = template_specials(read_json(dir / "tokenizer.json"));
  std::vector<int32_t> ids = lead;
  for (int32_t id : tok.encode(kProbeText)) ids.push_back(id);
  ids.insert(ids.end(), trail.begin(), trail.end());
  std::string text = "[";
  for (size_t i = 0; i < ids.size(); ++i) text += (i ? ", " : "") + std::to_string(ids[i]);
  text += "]";
  const std::string h = io::sha256_hex(text.data(), text.size());
  for (const auto& k : kKnownPre)
    if (h == k.sha256) return k.pre;
  return "";
}

GgufMetadata gguf_metadata(const std::filesystem::path& dir, const model::Architecture& arch, const json& config,
                           const GgufMetadataOptions& opt) {
  const std::string label = (dir / "config.json").string();
  const std::string a = model::gguf_arch(arch);
  GgufMetadata kv;
  kv.emplace_back("general.architecture", GgufValue::string(a));
  kv.emplace_back("general.type", GgufValue::string("model"));
  kv.emplace_back("general.name", GgufValue::string(opt.name.empty() ? dir.filename().string() : opt.name));
  kv.emplace_back("general.quantized_by", GgufValue::string("lowbit"));

  // Architecture keys, typed as llama.cpp reads them (u32 / f32).
  add_u32(kv, a + ".block_count", json(arch.num_layers), label);
  const json ctx = config.contains("max_position_embeddings") ? config["max_position_embeddings"] : json();
  if (ctx.is_null()) throw UserError(label + ": max_position_embeddings is missing (GGUF needs a context length)");
  add_u32(kv, a + ".context_length", ctx, label);
  add_u32(kv, a + ".embedding_length", json(arch.hidden), label);
  add_u32(kv, a + ".feed_forward_length", json(arch.intermediate), label);
  add_u32(kv, a + ".attention.head_count", json(arch.heads), label);
  add_u32(kv, a + ".attention.head_count_kv", json(arch.kv_heads), label);
  if (arch.rope_type == "linear") {
    kv.emplace_back(a + ".rope.scaling.type", GgufValue::string("linear"));
    kv.emplace_back(a + ".rope.scaling.factor", GgufValue::f32(float(arch.rope_factor)));
  }
  kv.emplace_back(a + ".rope.freq_base", GgufValue::f32(float(arch.rope_theta)));
  kv.emplace_back(a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(float(arch.rms_norm_eps)));
  if (config.contains("head_dim") && !config["head_dim"].is_null()) {
    add_u32(kv, a + ".attention.key_length", config["head_dim"], label);
    add_u32(kv, a + ".attention.value_length", config["head_dim"], label);
  }
  kv.emplace_back("general.file_type", GgufValue::u32(opt.file_type));
  if (a == "llama") {
    add_u32(kv, a + ".vocab_size", json(arch.vocab), label);
    add_u32(kv, a + ".rope.dimension_count", json(arch.head_dim), label);
  }
  kv.emplace_back("general.quantization_version", GgufValue::u32(2));  // GGML_QNT_VERSION

  // Tokenizer: byte-level BPE (llama.cpp's "gpt2" model) from tokenizer.json.
  const json tok = read_json(dir / "tokenizer.json");
  const json tc = std::filesystem::exists(dir / "tokenizer_config.json") ? read_json(dir / "tokenizer_config.json")
                                                                          : json::object();
  const std::string tok_label = (dir / "tokenizer.json").string();
  if (!tok.contains("model") || tok["model"].value("type", "") != "BPE" || !tok["model"].contains("vocab"))
    throw UserError(tok_label + ": lowbit writes GGUF tokenizers for byte-level BPE models only (this one is " +
                    (tok.contains("model") ? tok["model"].value("type", "?") : std::string("?")) + ")");
  if (tok["model"].value("byte_fallback", false))
    throw UserError(tok_label + ": a SentencePiece-style BPE (byte_fallback) needs llama.cpp's \"llama\" tokenizer, "
                    "which lowbit does not write yet");
  std::string pre = opt.pre_tokenizer.empty() ? detect_pre_tokenizer(dir) : opt.pre_tokenizer;
  if (pre.empty())
    throw UserError(tok_label + ": llama.cpp does not know this pre-tokenizer (the converter's probe text gives ids "
                    "it has no entry for); name it with --gguf-pre (e.g. llama-bpe, qwen2, smollm, gpt-2)");

  std::map<int64_t, std::string> by_id;
  for (const auto& [t, id] : tok["model"]["vocab"].items()) by_id[id.get<int64_t>()] = t;
  struct AddedInfo {
    bool special;
  };
  std::map<int64_t, AddedInfo> added;
  for (const auto& at : tok.value("added_tokens", json::array())) {
    const int64_t id = at.value("id", int64_t(-1));
    if (id < 0) continue;
    by_id[id] = at.value("content", "");
    added[id] = {at.value("special", false)};
  }
  const int64_t n_vocab = config.value("vocab_size", int64_t(by_id.size()));
  if (!by_id.empty() && by_id.rbegin()->first >= n_vocab)
    throw UserError(tok_label + ": token id " + std::to_string(by_id.rbegin()->first) + " is past config.json's vocab_size " +
                    std::to_string(n_vocab));
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  tokens.reserve(size_t(n_vocab));
  types.reserve(size_t(n_vocab));
  enum : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };
  for (int64_t i = 0; i < n_vocab; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {  // the embedding is padded past the tokenizer's vocabulary
      tokens.push_back("[PAD" + std::to_string(i) + "]");
      types.push_back(kUnused);
      continue;
    }
    std::string t = it->second;
    auto ad = added.find(i);
    if (ad == added.end()) {
      types.push_back(kNormal);
    } else if (ad->second.special || looks_special(t)) {
      types.push_back(kControl);
    } else {
      // User-defined tokens are stored pre-normalized: SentencePiece's U+2581 becomes a space.
      for (size_t p; (p = t.find("\xE2\x96\x81")) != std::string::npos;) t.replace(p, 3, " ");
      types.push_back(kUserDefined);
    }
    tokens.push_back(std::move(t));
  }
  kv.emplace_back("tokenizer.ggml.model", GgufValue::string("gpt2"));
  kv.emplace_back("tokenizer.ggml.pre", GgufValue::string(pre));
  kv.emplace_back("tokenizer.ggml.tokens", GgufValue::strings(std::move(tokens)));
  kv.emplace_back("tokenizer.ggml.token_type", GgufValue::i32s(std::move(types)));

  // Merges: "left right"; the newer pair form escapes a space inside a part as U+0120+256... as
  // the converter does (a space becomes chr(0x20 + 256) = U+0120, 'Ġ').
  std::vector<std::string> merges;
  for (const auto& m : tok["model"].value("merges", json::array())) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      std::string line;
      for (int part = 0; part < 2; ++part) {
        if (part) line += ' ';
        for (char c : m[part].get<std::string>()) line += c == ' ' ? std::string("\xC4\xA0") : std::string(1, c);
      }
      merges.push_back(std::move(line));
    } else {
      throw UserError(tok_label + ": a merge is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  if (merges.empty()) throw UserError(tok_label + ": the BPE model has no merges");
  kv.emplace_back("tokenizer.ggml.merges", GgufValue::strings(std::move(merges)));

  // Special token ids: tokenizer_config.json's tokens looked up among the added tokens first,
  // then config.json's <typ>_token_id (as the converter's SpecialVocab resolves them).
  const char* kTypes[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  const char* kKeys[] = {"bos_token_id", "eos_token_id", "unknown_token_id", "seperator_token_id",
                         "padding_token_id", "cls_token_id", "mask_token_id"};
  std::map<std::string, int64_t> ids;
  for (const char* typ : kTypes) {
    const auto content = config_token(tc, std::string(typ) + "_token");
    if (!content) continue;
    for (const auto& at : tok.value("added_tokens", json::array()))
      if (at.value("content", "") == *content) {
        if (at.value("id", int64_t(-1)) >= 0 && at["id"].get<int64_t>() < n_vocab) ids.emplace(typ, at["id"].get<int64_t>());
        break;
      }
  }
  for (const char* typ : kTypes) {
    const std::string key = std::string(typ) + "_token_id";
    if (config.contains(key) && config[key].is_number_integer() && config[key].get<int64_t>() >= 0 &&
        config[key].get<int64_t>() < n_vocab)
      ids.emplace(typ, config[key].get<int64_t>());
  }
  for (size_t i = 0; i < std::size(kTypes); ++i)
    if (auto it = ids.find(kTypes[i]); it != ids.end())
      kv.emplace_back(std::string("tokenizer.ggml.") + kKeys[i], GgufValue::u32(uint32_t(it->second)));

  // add_bos / add_eos: from the post-processor (ByteLevel: neither; a template: what it puts
  // around a sequence), else tokenizer_config.json's add_<typ>_token.
  std::map<std::string, bool> add;
  for (const json* p : post_processors(tok)) {
    const std::string type = p->value("type", "");
    if (type == "ByteLevel") {
      add.emplace("bos", false);
      add.emplace("eos", false);
    } else if (type == "TemplateProcessing" && p->contains("single") && (*p)["single"].size() > 1) {
      const json& single = (*p)["single"];
      const auto bos = config_token(tc, "bos_token"), eos = config_token(tc, "eos_token");
      if (single.front().contains("SpecialToken"))
        add["bos"] = bos && single.front()["SpecialToken"].value("id", "") == *bos;
      if (single.back().contains("SpecialToken"))
        add["eos"] = eos && single.back()["SpecialToken"].value("id", "") == *eos;
    }
  }
  for (const char* typ : kTypes) {
    const std::string key = std::string("add_") + typ + "_token";
    if (tc.contains(key) && tc[key].is_boolean()) add.emplace(typ, tc[key].get<bool>());
  }
  // The converter's rule for 49152-token Llama vocabularies (granite small, SmolLM): no BOS.
  if (a == "llama" && n_vocab == 49152) add.emplace("bos", false);
  for (const char* typ : {"bos", "eos", "sep"})
    if (auto it = add.find(typ); it != add.end())
      kv.emplace_back(std::string("tokenizer.ggml.add_") + typ + "_token", GgufValue::boolean(it->second));

  // The chat template: tokenizer_config.json's, else chat_template.jinja.
  std::string chat;
  if (tc.contains("chat_template") && tc["chat_template"].is_string()) {
    chat = tc["chat_template"].get<std::string>();
  } else if (tc.contains("chat_template") && tc["chat_template"].is_array()) {
    for (const auto& t : tc["chat_template"]) {
      const std::string name = t.value("name", "");
      const std::string body = t.value("template", "");
      if (name == "default")
        chat = body;
      else if (!name.empty())
        kv.emplace_back("tokenizer.chat_template." + name, GgufValue::string(body));
    }
  } else if (std::filesystem::exists(dir / "chat_template.jinja")) {
    chat = io::read_text_file(dir / "chat_template.jinja");
  }
  if (!chat.empty()) kv.emplace_back("tokenizer.chat_template", GgufValue::string(chat));
  return kv;
}

}  // namespace lowbit::exporter
