#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"
#include "io/file_util.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoders.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/pre_tokenizers.h"

namespace lowbit::tokenizer {

using nlohmann::json;

struct Tokenizer::Impl {
  struct Added {
    std::string content;
    int32_t id;
  };
  std::vector<Added> added;  // longest first, so the first match is the longest
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  BpeModel model;
  Decoder decoder;
};

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
    im.normalizer = Normalizer::from_json(j.value("normalizer", json()), label);
    // Ids are dense in real vocabularies; a bound keeps a hostile file from making us
    // allocate billions of entries.
    const json& added_json = j.value("added_tokens", json::array());
    const int64_t max_id =
        int64_t(model.at("vocab").size()) + (added_json.is_array() ? int64_t(added_json.size()) : 0) + 1024;
    im.model = BpeModel::from_json(model, label, max_id);
    for (const auto& a : added_json) {
      Impl::Added ad{a.at("content").get<std::string>(), json_int(a.at("id"), 0, max_id, "added token id")};
      im.added.push_back(ad);
      im.model.add_token(ad.content, ad.id);
    }
    std::sort(im.added.begin(), im.added.end(),
              [](const auto& x, const auto& y) { return x.content.size() > y.content.size(); });
    im.pre_tokenizer = PreTokenizer::from_json(j.value("pre_tokenizer", json()), label);
    im.decoder = Decoder::from_json(j.value("decoder", json()), im.pre_tokenizer.byte_level());
  } catch (const json::exception& e) {
    throw UserError(label + ": unexpected tokenizer.json structure: " + e.what());
  }
  return t;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  // The regexes run without PCRE2's UTF check (checking every piece again would be slow), so
  // the text is validated once here; invalid UTF-8 is a clear error, as Python's decode would be.
  if (const int64_t bad = first_invalid_utf8(text); bad >= 0)
    throw UserError("tokenizer: the text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  const Impl& im = *impl_;
  std::vector<int32_t> out;
  // Added tokens split the text first; they are never merged with their neighbours.
  size_t pos = 0, seg = 0;
  auto flush = [&](size_t end) {
    if (end > seg)
      for (const auto& p : im.pre_tokenizer.split(im.normalizer.apply(text.substr(seg, end - seg)), seg == 0))
        im.model.encode(p, out);
  };
  while (pos < text.size()) {
    const Impl::Added* hit = nullptr;
    for (const auto& a : im.added)
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
  std::vector<std::string> toks;
  for (int32_t id : ids) toks.push_back(impl_->model.token(id));
  return impl_->decoder.decode(std::move(toks));
}

int32_t Tokenizer::token_id(const std::string& token) const { return impl_->model.token_id(token); }

size_t Tokenizer::vocab_size() const { return impl_->model.vocab_size(); }

}  // namespace lowbit::tokenizer
