#include "tokenizer/bpe_model.h"

#include <cstdio>
#include <queue>

#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/json_fields.h"

namespace lowbit::tokenizer {

using nlohmann::json;

namespace {
uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
}  // namespace

BpeModel BpeModel::from_json(const json& model, const std::string& label, int64_t max_id) {
  if (model.value("type", "BPE") != "BPE") throw UserError(label + ": only BPE tokenizers are supported");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(k) && !model[k].is_null() && !model[k].get<std::string>().empty())
      throw UserError(label + ": BPE " + k + " is not supported");
  BpeModel m;
  m.ignore_merges_ = model.value("ignore_merges", false);
  m.byte_fallback_ = model.value("byte_fallback", false);
  m.fuse_unk_ = model.value("fuse_unk", false);
  for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it)
    m.add_token(it.key(), json_int(it.value(), 0, max_id, "token id"));
  int rank = 0;
  for (const auto& mg : model.at("merges")) {
    std::string a, b;
    if (mg.is_string()) {
      const std::string s = mg.get<std::string>();
      auto sp = s.find(' ');
      if (sp == std::string::npos) throw UserError(label + ": merge '" + s + "' has no space");
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else {
      a = mg.at(0).get<std::string>(), b = mg.at(1).get<std::string>();
    }
    auto ia = m.vocab_.find(a), ib = m.vocab_.find(b), iab = m.vocab_.find(a + b);
    if (ia == m.vocab_.end() || ib == m.vocab_.end() || iab == m.vocab_.end())
      throw UserError(label + ": merge '" + a + " " + b + "' uses a token that is not in the vocabulary");
    m.merges_.emplace(pair_key(ia->second, ib->second), std::make_pair(rank++, iab->second));
  }
  const json& unk = model.value("unk_token", json());
  if (unk.is_string()) {
    auto it = m.vocab_.find(unk.get<std::string>());
    if (it == m.vocab_.end()) throw UserError(label + ": unk_token '" + unk.get<std::string>() + "' is not in the vocabulary");
    m.unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = m.vocab_.find(name);
    m.byte_ids_[b] = it == m.vocab_.end() ? -1 : it->second;
  }
  return m;
}

void BpeModel::add_token(const std::string& content, int32_t id) {
  vocab_[content] = id;
  if (size_t(id) >= id_to_token_.size()) id_to_token_.resize(size_t(id) + 1);
  id_to_token_[size_t(id)] = content;
}

int32_t BpeModel::token_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string& BpeModel::token(int32_t id) const {
  if (id < 0 || size_t(id) >= id_to_token_.size()) throw UserError("decode: id " + std::to_string(id) + " out of range");
  return id_to_token_[size_t(id)];
}

// tokenizers' Word::merge_all: symbols are ids; the lowest-ranked adjacent pair (leftmost
// on ties) is merged first, with a priority queue and stale entries skipped, so a long
// piece (SentencePiece-style tokenizers have no pre-tokenizer) costs O(n log n).
std::vector<int32_t> BpeModel::merge_word(const std::string& piece) const {
  struct Sym {
    int32_t id;
    int64_t prev, next;
    bool alive;
  };
  std::vector<Sym> sym;
  bool last_unk = false;
  auto push = [&](int32_t id) { sym.push_back({id, int64_t(sym.size()) - 1, int64_t(sym.size()) + 1, true}); };
  for (const std::string& ch : utf8_chars(piece)) {
    auto it = vocab_.find(ch);
    if (it != vocab_.end()) {
      push(it->second);
      last_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : ch) all = all && byte_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : ch) push(byte_ids_[b]);
        last_unk = false;
        continue;
      }
    }
    if (unk_id_ >= 0) {  // without an unk token, tokenizers drops the character
      if (!(fuse_unk_ && last_unk)) push(unk_id_);
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
    auto m = merges_.find(pair_key(sym[size_t(pos)].id, sym[size_t(nx)].id));
    if (m != merges_.end()) queue.push({m->second.first, pos, m->second.second});
  };
  for (int64_t i = 0; i + 1 < int64_t(sym.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Cand top = queue.top();
    queue.pop();
    Sym& cur = sym[size_t(top.pos)];
    if (!cur.alive || cur.next < 0) continue;
    Sym& right = sym[size_t(cur.next)];
    auto m = merges_.find(pair_key(cur.id, right.id));
    if (m == merges_.end() || m->second.second != top.new_id) continue;  // stale entry
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

void BpeModel::encode(const std::string& piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  constexpr size_t kCacheable = 256;  // whole-segment pieces (no pre-tokenizer) are not worth caching
  if (piece.size() <= kCacheable) {
    std::lock_guard lk(cache_->mu);
    auto it = cache_->ids.find(piece);
    if (it != cache_->ids.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  auto whole = vocab_.find(piece);
  if (ignore_merges_ && whole != vocab_.end()) ids.push_back(whole->second);
  else ids = merge_word(piece);
  out.insert(out.end(), ids.begin(), ids.end());
  if (piece.size() <= kCacheable) {
    std::lock_guard lk(cache_->mu);
    if (cache_->ids.size() < 1000000) cache_->ids.emplace(piece, std::move(ids));
  }
}

}  // namespace lowbit::tokenizer
