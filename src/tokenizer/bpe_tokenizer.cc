#include "tokenizer/bpe_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utf8proc.h>

#include <climits>
#include <cstdlib>
#include <queue>
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
  enum Kind { ByteLevel, SplitIsolated, SplitRemoved, Digits, Metaspace } kind;
  PreStep(Kind k, std::shared_ptr<Re> r) : kind(k), re(std::move(r)) {}
  std::shared_ptr<Re> re;
  bool add_prefix_space = false, use_regex = true, individual_digits = false;
  // Metaspace: spaces become `replacement`; prepend it always, never, or only to the text's
  // first piece; optionally split so that each replacement starts a new piece.
  std::string replacement;
  enum Prepend { Always, Never, First } prepend = Always;
  bool split = true;
};

// Normalizers (applied to each segment between added tokens, before pre-tokenization).
struct NormStep {
  enum Kind { Nfc, Nfd, Nfkc, Nfkd, Prepend, Replace } kind;
  explicit NormStep(Kind k, std::string t = "") : kind(k), text(std::move(t)) {}
  std::string text, content;  // Prepend: text; Replace: literal pattern `text` (or `re`) -> content
  std::shared_ptr<Re> re;
};

// Decoder steps for non-byte-level tokenizers (SentencePiece-style).
struct DecodeStep {
  enum Kind { Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
  explicit DecodeStep(Kind k, std::string f = "", std::string t = "") : kind(k), from(std::move(f)), to(std::move(t)) {}
  std::string from, to;           // Replace; Metaspace: from = replacement
  int strip_start = 0, strip_stop = 0;
  bool metaspace_prepend = true;  // Metaspace: drop the first token's leading space
};

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> id_to_token;
  struct Added {
    std::string content;
    int32_t id;
  };
  std::vector<Added> added;  // longest first, so the first match is the longest
  std::vector<PreStep> steps;
  std::vector<NormStep> norms;
  std::vector<DecodeStep> decoders;
  std::string unsupported_decoder;  // non-empty: decode() names it in its error
  bool byte_level = false, ignore_merges = false, byte_fallback = false, fuse_unk = false;
  int32_t unk_id = -1;
  int32_t byte_ids[256];  // "<0xXX>" tokens for byte_fallback (-1 if absent)
  // (left id, right id) -> (rank, merged id), as tokenizers' BPE keeps its merges.
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  std::string normalize(const std::string& segment) const;
  std::vector<std::string> pre_tokenize(const std::string& segment, bool at_start) const;
  void bpe(const std::string& piece, std::vector<int32_t>& out) const;
  std::vector<int32_t> merge_word(const std::string& piece) const;
};

namespace {

std::string regex_of(const json& pattern);

// A JSON integer in [lo, hi]; anything else (floats, huge values) is a UserError, never a
// float-to-int conversion (undefined behaviour, found by fuzz_tokenizer).
int32_t json_int(const json& v, int64_t lo, int64_t hi, const std::string& what) {
  if (!v.is_number_integer()) throw UserError("tokenizer.json: " + what + " is not an integer");
  const int64_t x = v.is_number_unsigned() ? int64_t(std::min<uint64_t>(v.get<uint64_t>(), uint64_t(INT64_MAX)))
                                           : v.get<int64_t>();
  if (x < lo || x > hi) throw UserError("tokenizer.json: " + what + " " + std::to_string(x) + " is out of range");
  return int32_t(x);
}

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
    const std::string re = regex_of(p.at("pattern"));
    const std::string behavior = p.value("behavior", "Isolated");
    if (p.value("invert", false)) throw UserError(label + ": Split with invert is not supported");
    if (behavior != "Isolated" && behavior != "Removed")
      throw UserError(label + ": Split behavior '" + behavior + "' is not supported (Isolated, Removed)");
    steps.emplace_back(behavior == "Isolated" ? PreStep::SplitIsolated : PreStep::SplitRemoved, std::make_shared<Re>(re));
  } else if (type == "Digits") {
    PreStep s{PreStep::Digits, std::make_shared<Re>(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+")};
    steps.push_back(s);
  } else if (type == "Metaspace") {
    PreStep s{PreStep::Metaspace, nullptr};
    s.replacement = p.value("replacement", std::string("\xe2\x96\x81"));
    const std::string scheme = p.value("prepend_scheme", p.value("add_prefix_space", true) ? "always" : "never");
    if (scheme != "always" && scheme != "never" && scheme != "first")
      throw UserError(label + ": Metaspace prepend_scheme '" + scheme + "' is not supported");
    s.prepend = scheme == "always" ? PreStep::Always : scheme == "never" ? PreStep::Never : PreStep::First;
    s.split = p.value("split", true);
    steps.push_back(s);
  } else {
    throw UserError(label + ": pre_tokenizer '" + type + "' is not supported yet");
  }
}

std::string regex_of(const json& pattern) {
  if (pattern.contains("Regex")) return pattern["Regex"].get<std::string>();
  std::string re;
  for (char c : pattern.at("String").get<std::string>()) {  // literal
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re += '\\';
    re += c;
  }
  return re;
}

void parse_normalizer(const json& n, std::vector<NormStep>& out, const std::string& label) {
  if (n.is_null()) return;
  const std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const auto& x : n.at("normalizers")) parse_normalizer(x, out, label);
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    out.emplace_back(type == "NFC" ? NormStep::Nfc : type == "NFD" ? NormStep::Nfd : type == "NFKC" ? NormStep::Nfkc : NormStep::Nfkd);
  } else if (type == "Prepend") {
    out.emplace_back(NormStep::Prepend, n.at("prepend").get<std::string>());
  } else if (type == "Replace") {
    NormStep st{NormStep::Replace};
    st.content = n.at("content").get<std::string>();
    st.re = std::make_shared<Re>(regex_of(n.at("pattern")));
    out.push_back(st);
  } else {
    throw UserError(label + ": normalizer '" + type + "' is not supported yet (NFC/NFD/NFKC/NFKD, Prepend, Replace, Sequence)");
  }
}

// Returns the name of the first decoder it cannot run ("" if all are supported).
std::string parse_decoder(const json& d, std::vector<DecodeStep>& out) {
  if (d.is_null()) return "";
  const std::string type = d.value("type", "");
  if (type == "Sequence") {
    for (const auto& x : d.at("decoders")) {
      std::string bad = parse_decoder(x, out);
      if (!bad.empty()) return bad;
    }
    return "";
  }
  if (type == "ByteLevel") return "";  // handled by the byte-level path
  if (type == "Replace" && d.at("pattern").contains("String")) {
    out.emplace_back(DecodeStep::Replace, d["pattern"]["String"].get<std::string>(), d.at("content").get<std::string>());
  } else if (type == "ByteFallback") {
    out.emplace_back(DecodeStep::ByteFallback);
  } else if (type == "Fuse") {
    out.emplace_back(DecodeStep::Fuse);
  } else if (type == "Strip" && d.value("content", std::string(" ")).size() == 1) {
    DecodeStep st{DecodeStep::Strip, d.value("content", std::string(" "))};
    st.strip_start = d.contains("start") ? json_int(d["start"], 0, 1 << 20, "Strip start") : 0;
    st.strip_stop = d.contains("stop") ? json_int(d["stop"], 0, 1 << 20, "Strip stop") : 0;
    out.push_back(st);
  } else if (type == "Metaspace") {
    DecodeStep st{DecodeStep::Metaspace, d.value("replacement", std::string("\xe2\x96\x81")), " "};
    st.metaspace_prepend = d.value("prepend_scheme", d.value("add_prefix_space", true) ? "always" : "never") != "never";
    out.push_back(st);
  } else {
    return type.empty() ? "?" : type;
  }
  return "";
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

std::string Tokenizer::Impl::normalize(const std::string& segment) const {
  std::string s = segment;
  for (const auto& n : norms) {
    switch (n.kind) {
      case NormStep::Prepend:
        if (!s.empty()) s = n.text + s;
        break;
      case NormStep::Replace: {
        std::string out;
        size_t last = 0;
        for (auto [b, e] : n.re->find_all(s)) {
          out.append(s, last, b - last);
          out += n.content;
          last = e;
        }
        out.append(s, last, std::string::npos);
        s = std::move(out);
        break;
      }
      default: {
        const int opts = UTF8PROC_STABLE | UTF8PROC_NULLTERM |
                         (n.kind == NormStep::Nfc || n.kind == NormStep::Nfkc ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
                         (n.kind == NormStep::Nfkc || n.kind == NormStep::Nfkd ? UTF8PROC_COMPAT : 0);
        utf8proc_uint8_t* out = nullptr;
        const utf8proc_ssize_t len =
            utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()), 0, &out, utf8proc_option_t(opts));
        if (len < 0) throw UserError(std::string("tokenizer: text is not valid UTF-8 (") + utf8proc_errmsg(len) + ")");
        s.assign(reinterpret_cast<const char*>(out), size_t(len));
        std::free(out);
      }
    }
  }
  return s;
}

std::vector<std::string> Tokenizer::Impl::pre_tokenize(const std::string& segment, bool at_start) const {
  std::vector<std::string> pieces{segment};
  for (const auto& st : steps) {
    std::vector<std::string> next;
    for (size_t pi = 0; pi < pieces.size(); ++pi) {
      std::string& p = pieces[pi];
      switch (st.kind) {
        case PreStep::Metaspace: {
          std::string q;
          for (char c : p) {
            if (c == ' ') q += st.replacement;
            else q += c;
          }
          const bool prepend = st.prepend == PreStep::Always || (st.prepend == PreStep::First && at_start && pi == 0);
          if (prepend && q.compare(0, st.replacement.size(), st.replacement) != 0) q = st.replacement + q;
          if (!st.split) {
            next.push_back(std::move(q));
            break;
          }
          // Each replacement begins a new piece (tokenizers' MergedWithNext).
          size_t start = 0;
          for (size_t at = q.find(st.replacement, 1); at != std::string::npos; at = q.find(st.replacement, at + 1)) {
            if (at > start) next.push_back(q.substr(start, at - start));
            start = at;
          }
          if (start < q.size()) next.push_back(q.substr(start));
          break;
        }
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

namespace {
uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
}  // namespace

// tokenizers' Word::merge_all: symbols are ids; the lowest-ranked adjacent pair (leftmost
// on ties) is merged first, with a priority queue and stale entries skipped, so a long
// piece (SentencePiece-style tokenizers have no pre-tokenizer) costs O(n log n).
std::vector<int32_t> Tokenizer::Impl::merge_word(const std::string& piece) const {
  struct Sym {
    int32_t id;
    int64_t prev, next;
    bool alive;
  };
  std::vector<Sym> sym;
  bool last_unk = false;
  auto push = [&](int32_t id) { sym.push_back({id, int64_t(sym.size()) - 1, int64_t(sym.size()) + 1, true}); };
  for (const std::string& ch : utf8_chars(piece)) {
    auto it = vocab.find(ch);
    if (it != vocab.end()) {
      push(it->second);
      last_unk = false;
      continue;
    }
    if (byte_fallback) {
      bool all = true;
      for (unsigned char b : ch) all = all && byte_ids[b] >= 0;
      if (all) {
        for (unsigned char b : ch) push(byte_ids[b]);
        last_unk = false;
        continue;
      }
    }
    if (unk_id >= 0) {  // without an unk token, tokenizers drops the character
      if (!(fuse_unk && last_unk)) push(unk_id);
      last_unk = true;
    }
  }
  if (sym.empty()) return {};
  sym.back().next = -1;
  struct Cand {
    int32_t rank;
    int64_t pos;
    int32_t new_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> queue;
  auto consider = [&](int64_t pos) {
    const int64_t nx = sym[size_t(pos)].next;
    if (nx < 0) return;
    auto m = merges.find(pair_key(sym[size_t(pos)].id, sym[size_t(nx)].id));
    if (m != merges.end()) queue.push({m->second.first, pos, m->second.second});
  };
  for (int64_t i = 0; i + 1 < int64_t(sym.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Cand top = queue.top();
    queue.pop();
    Sym& cur = sym[size_t(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Sym& right = sym[size_t(cur.next)];
    auto m = merges.find(pair_key(cur.id, right.id));
    if (m == merges.end() || m->second.second != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    right.alive = false;
    cur.next = right.next;
    if (cur.next >= 0) sym[size_t(cur.next)].prev = top.pos;
    if (cur.prev >= 0) consider(cur.prev);
    consider(top.pos);
  }
  std::vector<int32_t> ids;
  for (const Sym& x : sym)
    if (x.alive) ids.push_back(x.id);
  return ids;
}

void Tokenizer::Impl::bpe(const std::string& piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  constexpr size_t kCacheable = 256;  // whole-segment pieces (no pre-tokenizer) are not worth caching
  if (piece.size() <= kCacheable) {
    std::lock_guard lk(cache_mu);
    auto it = cache.find(piece);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  auto whole = vocab.find(piece);
  if (ignore_merges && whole != vocab.end()) ids.push_back(whole->second);
  else ids = merge_word(piece);
  out.insert(out.end(), ids.begin(), ids.end());
  if (piece.size() <= kCacheable) {
    std::lock_guard lk(cache_mu);
    if (cache.size() < 1000000) cache.emplace(piece, std::move(ids));
  }
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
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(k) && !model[k].is_null() && !model[k].get<std::string>().empty())
        throw UserError(label + ": BPE " + k + " is not supported");
    parse_normalizer(j.value("normalizer", json()), im.norms, label);
    im.ignore_merges = model.value("ignore_merges", false);
    im.byte_fallback = model.value("byte_fallback", false);
    im.fuse_unk = model.value("fuse_unk", false);
    // Ids are dense in real vocabularies; a bound keeps a hostile file from making us
    // allocate billions of entries.
    const json& added_json = j.value("added_tokens", json::array());
    const int64_t max_id = int64_t(model.at("vocab").size()) + (added_json.is_array() ? int64_t(added_json.size()) : 0) + 1024;
    for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it) {
      const int32_t id = json_int(it.value(), 0, max_id, "token id");
      im.vocab[it.key()] = id;
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
      auto ia = im.vocab.find(a), ib = im.vocab.find(b), iab = im.vocab.find(a + b);
      if (ia == im.vocab.end() || ib == im.vocab.end() || iab == im.vocab.end())
        throw UserError(label + ": merge '" + a + " " + b + "' uses a token that is not in the vocabulary");
      im.merges.emplace(pair_key(ia->second, ib->second), std::make_pair(rank++, iab->second));
    }
    const json& unk = model.value("unk_token", json());
    if (unk.is_string()) {
      auto it = im.vocab.find(unk.get<std::string>());
      if (it == im.vocab.end()) throw UserError(label + ": unk_token '" + unk.get<std::string>() + "' is not in the vocabulary");
      im.unk_id = it->second;
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = im.vocab.find(name);
      im.byte_ids[b] = it == im.vocab.end() ? -1 : it->second;
    }
    im.unsupported_decoder = parse_decoder(j.value("decoder", json()), im.decoders);
    for (const auto& a : added_json) {
      Impl::Added ad{a.at("content").get<std::string>(), json_int(a.at("id"), 0, max_id, "added token id")};
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

namespace {
// The regexes run with PCRE2_NO_UTF_CHECK (checking every piece again would be slow), so the
// text is validated once here; invalid UTF-8 is a clear error, as Python's decode would be.
void check_utf8(const std::string& text) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t i = 0, n = utf8proc_ssize_t(text.size());
  while (i < n) {
    utf8proc_int32_t cp;
    const utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len < 0) throw UserError("tokenizer: the text is not valid UTF-8 (byte offset " + std::to_string(i) + ")");
    i += len;
  }
}
}  // namespace

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  check_utf8(text);
  std::vector<int32_t> out;
  // Added tokens split the text first; they are never merged with their neighbours.
  size_t pos = 0, seg = 0;
  auto flush = [&](size_t end) {
    if (end > seg)
      for (const auto& p : impl_->pre_tokenize(impl_->normalize(text.substr(seg, end - seg)), seg == 0))
        impl_->bpe(p, out);
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
  const Impl& im = *impl_;
  std::vector<std::string> toks;
  for (int32_t id : ids) {
    if (id < 0 || size_t(id) >= im.id_to_token.size()) throw UserError("decode: id " + std::to_string(id) + " out of range");
    toks.push_back(im.id_to_token[size_t(id)]);
  }
  if (im.byte_level) {
    std::string joined, bytes;
    for (const auto& t : toks) joined += t;
    const ByteMap& bm = byte_map();
    for (const auto& ch : utf8_chars(joined)) {
      auto it = bm.to_byte.find(ch);
      if (it != bm.to_byte.end()) bytes += char(it->second);
      else bytes += ch;  // added tokens are stored as plain text
    }
    return bytes;
  }
  if (!im.unsupported_decoder.empty())
    throw UserError("decode: the tokenizer's decoder '" + im.unsupported_decoder + "' is not supported yet");
  // tokenizers' decoder chain, token by token (SentencePiece style: Replace, ByteFallback, Fuse, Strip, Metaspace).
  for (const DecodeStep& d : im.decoders) {
    switch (d.kind) {
      case DecodeStep::Replace:
        for (auto& t : toks)
          for (size_t at = t.find(d.from); !d.from.empty() && at != std::string::npos; at = t.find(d.from, at + d.to.size()))
            t.replace(at, d.from.size(), d.to);
        break;
      case DecodeStep::ByteFallback: {
        // Runs of <0xXX> tokens become their bytes if those are valid UTF-8, else U+FFFD each.
        std::vector<std::string> next;
        std::string run;
        size_t run_tokens = 0;
        auto end_run = [&] {
          if (!run_tokens) return;
          if (utf8proc_decompose(reinterpret_cast<const utf8proc_uint8_t*>(run.data()), utf8proc_ssize_t(run.size()),
                                 nullptr, 0, utf8proc_option_t(0)) >= 0)
            next.push_back(run);
          else
            for (size_t i = 0; i < run_tokens; ++i) next.push_back("\xef\xbf\xbd");
          run.clear(), run_tokens = 0;
        };
        for (auto& t : toks) {
          unsigned v = 0;
          if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::sscanf(t.c_str() + 3, "%2x", &v) == 1) {
            run += char(v), ++run_tokens;
          } else {
            end_run();
            next.push_back(std::move(t));
          }
        }
        end_run();
        toks = std::move(next);
        break;
      }
      case DecodeStep::Fuse: {
        std::string all;
        for (const auto& t : toks) all += t;
        toks = {all};
        break;
      }
      case DecodeStep::Strip:
        for (auto& t : toks) {
          int a = 0, b = 0;
          while (a < d.strip_start && size_t(a) < t.size() && t[size_t(a)] == d.from[0]) ++a;
          while (b < d.strip_stop && size_t(a + b) < t.size() && t[t.size() - 1 - size_t(b)] == d.from[0]) ++b;
          t = t.substr(size_t(a), t.size() - size_t(a) - size_t(b));
        }
        break;
      case DecodeStep::Metaspace:
        for (size_t i = 0; i < toks.size(); ++i) {
          std::string& t = toks[i];
          for (size_t at = t.find(d.from); at != std::string::npos; at = t.find(d.from, at + 1)) t.replace(at, d.from.size(), " ");
          if (i == 0 && d.metaspace_prepend && !t.empty() && t[0] == ' ') t.erase(0, 1);
        }
        break;
    }
  }
  std::string out;
  for (const auto& t : toks) out += t;
  return out;
}

int32_t Tokenizer::token_id(const std::string& token) const {
  auto it = impl_->vocab.find(token);
  return it == impl_->vocab.end() ? -1 : it->second;
}

size_t Tokenizer::vocab_size() const { return impl_->id_to_token.size(); }

}  // namespace lowbit::tokenizer
