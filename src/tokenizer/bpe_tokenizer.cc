#include "tokenizer/bpe_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <climits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/file_util.h"

namespace lowbit::tokenizer {

using nlohmann::json;

namespace {

// GPT-2's pre-tokenizer pattern (ByteLevel with use_regex).
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
}

// Splits UTF-8 text into code-point strings (invalid bytes become one-byte strings).
std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// GPT-2 bytes_to_unicode: printable bytes map to themselves, the rest to 256 + k.
struct ByteMap {
  std::string to_unicode[256];
  std::unordered_map<std::string, uint8_t> to_byte;
  ByteMap() {
    int k = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + k++);
      append_utf8(to_unicode[b], cp);
      to_byte[to_unicode[b]] = uint8_t(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

class Re {
 public:
  explicit Re(const std::string& pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &err,
                          &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw UserError("tokenizer regex '" + pattern + "': " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
  }
  ~Re() { pcre2_code_free(code_); }
  Re(const Re&) = delete;
  Re& operator=(const Re&) = delete;
  // [begin, end) of every non-empty match, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& s) const {
    std::vector<std::pair<size_t, size_t>> out;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t pos = 0;
    while (pos <= s.size()) {
      int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, PCRE2_NO_UTF_CHECK, md,
                           nullptr);
      if (rc < 0) break;
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      if (ov[1] == ov[0]) {  // empty match: step one code point
        pos = ov[0] + 1;
        while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
        continue;
      }
      out.emplace_back(ov[0], ov[1]);
      pos = ov[1];
    }
    pcre2_match_data_free(md);
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
};

// One pre-tokenizer step, applied to every current piece.
struct PreStep {
  enum Kind { ByteLevel, SplitIsolated, SplitRemoved, Digits } kind;
  std::shared_ptr<Re> re;
  bool add_prefix_space = false, use_regex = true, individual_digits = false;
};

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> id_to_token;
  std::map<std::pair<std::string, std::string>, int> ranks;
  struct Added {
    std::string content;
    int32_t id;
  };
  std::vector<Added> added;  // longest first, so the first match is the longest
  std::vector<PreStep> steps;
  bool byte_level = false, ignore_merges = false;
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  std::vector<std::string> pre_tokenize(const std::string& segment) const;
  void bpe(const std::string& piece, std::vector<int32_t>& out) const;
};

namespace {

void parse_pre_tokenizer(const json& p, std::vector<PreStep>& steps, bool& byte_level, const std::string& label) {
  if (p.is_null()) return;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const auto& s : p.at("pretokenizers")) parse_pre_tokenizer(s, steps, byte_level, label);
  } else if (type == "ByteLevel") {
    PreStep s{PreStep::ByteLevel, nullptr};
    s.add_prefix_space = p.value("add_prefix_space", false);
    s.use_regex = p.value("use_regex", true);
    if (s.use_regex) s.re = std::make_shared<Re>(kGpt2Pattern);
    steps.push_back(s);
    byte_level = true;
  } else if (type == "Split") {
    const json& pat = p.at("pattern");
    std::string re;
    if (pat.contains("Regex")) {
      re = pat["Regex"].get<std::string>();
    } else {
      for (char c : pat.at("String").get<std::string>()) {  // literal
        if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
        re += c;
      }
    }
    const std::string behavior = p.value("behavior", "Isolated");
    if (p.value("invert", false)) throw UserError(label + ": Split with invert is not supported");
    if (behavior != "Isolated" && behavior != "Removed")
      throw UserError(label + ": Split behavior '" + behavior + "' is not supported (Isolated, Removed)");
    steps.push_back({behavior == "Isolated" ? PreStep::SplitIsolated : PreStep::SplitRemoved, std::make_shared<Re>(re)});
  } else if (type == "Digits") {
    PreStep s{PreStep::Digits, std::make_shared<Re>(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+")};
    steps.push_back(s);
  } else {
    throw UserError(label + ": pre_tokenizer '" + type + "' is not supported yet");
  }
}

// Pieces of s: the matches, and (if keep_gaps) the text between them, in order.
std::vector<std::string> split_by(const Re& re, const std::string& s, bool keep_gaps) {
  std::vector<std::string> out;
  size_t last = 0;
  for (auto [b, e] : re.find_all(s)) {
    if (keep_gaps && b > last) out.push_back(s.substr(last, b - last));
    out.push_back(s.substr(b, e - b));
    last = e;
  }
  if (keep_gaps && last < s.size()) out.push_back(s.substr(last));
  return out;
}

}  // namespace

std::vector<std::string> Tokenizer::Impl::pre_tokenize(const std::string& segment) const {
  std::vector<std::string> pieces{segment};
  for (const auto& st : steps) {
    std::vector<std::string> next;
    for (auto& p : pieces) {
      switch (st.kind) {
        case PreStep::ByteLevel: {
          std::string q = p;
          if (st.add_prefix_space && (q.empty() || q[0] != ' ')) q = " " + q;
          if (st.use_regex) {
            for (auto& x : split_by(*st.re, q, true)) next.push_back(std::move(x));
          } else {
            next.push_back(q);
          }
          break;
        }
        case PreStep::SplitIsolated:
        case PreStep::Digits:
          for (auto& x : split_by(*st.re, p, true)) next.push_back(std::move(x));
          break;
        case PreStep::SplitRemoved: {
          size_t last = 0;
          for (auto [b, e] : st.re->find_all(p)) {
            if (b > last) next.push_back(p.substr(last, b - last));
            last = e;
          }
          if (last < p.size()) next.push_back(p.substr(last));
          break;
        }
      }
    }
    pieces = std::move(next);
  }
  if (byte_level) {
    const ByteMap& bm = byte_map();
    for (auto& p : pieces) {
      std::string mapped;
      for (unsigned char c : p) mapped += bm.to_unicode[c];
      p = std::move(mapped);
    }
  }
  return pieces;
}

void Tokenizer::Impl::bpe(const std::string& piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  {
    std::lock_guard lk(cache_mu);
    auto it = cache.find(piece);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  auto whole = vocab.find(piece);
  if (ignore_merges && whole != vocab.end()) {
    ids.push_back(whole->second);
  } else {
    std::vector<std::string> sym = utf8_chars(piece);
    while (sym.size() > 1) {
      int best = INT_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        auto r = ranks.find({sym[i], sym[i + 1]});
        if (r != ranks.end() && r->second < best) best = r->second, at = i;
      }
      if (best == INT_MAX) break;
      // Merge every occurrence of the best pair, left to right (GPT-2's loop).
      const std::string a = sym[at], b = sym[at + 1];
      std::vector<std::string> merged;
      for (size_t i = 0; i < sym.size();) {
        if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
          merged.push_back(a + b);
          i += 2;
        } else {
          merged.push_back(sym[i++]);
        }
      }
      sym = std::move(merged);
    }
    for (const auto& s : sym) {
      auto it = vocab.find(s);
      if (it == vocab.end()) throw UserError("tokenizer: symbol '" + s + "' is not in the vocabulary");
      ids.push_back(it->second);
    }
  }
  std::lock_guard lk(cache_mu);
  if (cache.size() < 1000000) cache.emplace(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_file(const std::filesystem::path& p) {
  return from_json_text(io::read_text_file(p, 256u << 20), p.string());
}

Tokenizer Tokenizer::from_json_text(const std::string& text, const std::string& label) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw UserError(label + ": not valid JSON: " + e.what());
  }
  Tokenizer t;
  Impl& im = *t.impl_;
  try {
    const json& model = j.at("model");
    if (model.value("type", "BPE") != "BPE") throw UserError(label + ": only BPE tokenizers are supported");
    if (model.value("byte_fallback", false)) throw UserError(label + ": byte_fallback BPE is not supported yet");
    if (!j.value("normalizer", json()).is_null())
      throw UserError(label + ": normalizer '" + j["normalizer"].value("type", std::string("?")) +
                      "' is not supported yet");
    im.ignore_merges = model.value("ignore_merges", false);
    for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) {
      int32_t id = it.value().get<int32_t>();
      im.vocab[it.key()] = id;
      if (id < 0) throw UserError(label + ": negative token id");
      if (size_t(id) >= im.id_to_token.size()) im.id_to_token.resize(size_t(id) + 1);
      im.id_to_token[size_t(id)] = it.key();
    }
    int rank = 0;
    for (const auto& m : model.at("merges")) {
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        auto sp = s.find(' ');
        if (sp == std::string::npos) throw UserError(label + ": merge '" + s + "' has no space");
        a = s.substr(0, sp), b = s.substr(sp + 1);
      } else {
        a = m.at(0).get<std::string>(), b = m.at(1).get<std::string>();
      }
      im.ranks.emplace(std::make_pair(a, b), rank++);
    }
    for (const auto& a : j.value("added_tokens", json::array())) {
      Impl::Added ad{a.at("content").get<std::string>(), a.at("id").get<int32_t>()};
      im.added.push_back(ad);
      if (size_t(ad.id) >= im.id_to_token.size()) im.id_to_token.resize(size_t(ad.id) + 1);
      im.id_to_token[size_t(ad.id)] = ad.content;
      im.vocab[ad.content] = ad.id;
    }
    std::sort(im.added.begin(), im.added.end(),
              [](const auto& x, const auto& y) { return x.content.size() > y.content.size(); });
    parse_pre_tokenizer(j.value("pre_tokenizer", json()), im.steps, im.byte_level, label);
  } catch (const json::exception& e) {
    throw UserError(label + ": unexpected tokenizer.json structure: " + e.what());
  }
  return t;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int32_t> out;
  // Added tokens split the text first; they are never merged with their neighbours.
  size_t pos = 0, seg = 0;
  auto flush = [&](size_t end) {
    if (end > seg)
      for (const auto& p : impl_->pre_tokenize(text.substr(seg, end - seg))) impl_->bpe(p, out);
  };
  while (pos < text.size()) {
    const Impl::Added* hit = nullptr;
    if (!impl_->added.empty())
      for (const auto& a : impl_->added)
        if (!a.content.empty() && text.compare(pos, a.content.size(), a.content) == 0) {
          hit = &a;
          break;
        }
    if (hit) {
      flush(pos);
      out.push_back(hit->id);
      pos += hit->content.size();
      seg = pos;
    } else {
      ++pos;
    }
  }
  flush(text.size());
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string joined;
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= impl_->id_to_token.size()) throw UserError("decode: id " + std::to_string(id) + " out of range");
    joined += impl_->id_to_token[size_t(id)];
  }
  if (!impl_->byte_level) return joined;
  std::string bytes;
  const ByteMap& bm = byte_map();
  for (const auto& ch : utf8_chars(joined)) {
    auto it = bm.to_byte.find(ch);
    if (it != bm.to_byte.end()) bytes += char(it->second);
    else bytes += ch;  // added tokens are stored as plain text
  }
  return bytes;
}

int32_t Tokenizer::token_id(const std::string& token) const {
  auto it = impl_->vocab.find(token);
  return it == impl_->vocab.end() ? -1 : it->second;
}

size_t Tokenizer::vocab_size() const { return impl_->id_to_token.size(); }

}  // namespace lowbit::tokenizer
