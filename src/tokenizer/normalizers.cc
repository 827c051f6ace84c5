#include "tokenizer/normalizers.h"

#include <utf8proc.h>

#include <cstdlib>

#include "core/error.h"
#include "tokenizer/json_fields.h"

namespace lowbit::tokenizer {

using nlohmann::json;

Normalizer Normalizer::from_json(const json& j, const std::string& label) {
  Normalizer n;
  parse(j, n.steps_, label);
  return n;
}

void Normalizer::parse(const json& n, std::vector<Step>& out, const std::string& label) {
  if (n.is_null()) return;
  const std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const auto& x : n.at("normalizers")) parse(x, out, label);
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    out.push_back({type == "NFC" ? Step::Nfc : type == "NFD" ? Step::Nfd : type == "NFKC" ? Step::Nfkc : Step::Nfkd, "", nullptr});
  } else if (type == "Prepend") {
    out.push_back({Step::Prepend, n.at("prepend").get<std::string>(), nullptr});
  } else if (type == "Replace") {
    out.push_back({Step::Replace, n.at("content").get<std::string>(),
                   std::make_shared<const Regex>(regex_of(n.at("pattern")), Regex::Mode::Search, "tokenizer regex")});
  } else {
    throw UserError(label + ": normalizer '" + type + "' is not supported yet (NFC/NFD/NFKC/NFKD, Prepend, Replace, Sequence)");
  }
}

std::string Normalizer::apply(const std::string& segment) const {
  std::string s = segment;
  for (const auto& n : steps_) {
    switch (n.kind) {
      case Step::Prepend:
        if (!s.empty()) s = n.text + s;
        break;
      case Step::Replace: {
        std::string out;
        size_t last = 0;
        for (auto [b, e] : n.re->find_all(s)) {
          out.append(s, last, b - last);
          out += n.text;
          last = e;
        }
        out.append(s, last, std::string::npos);
        s = std::move(out);
        break;
      }
      default: {
        const int opts = UTF8PROC_STABLE | UTF8PROC_NULLTERM |
                         (n.kind == Step::Nfc || n.kind == Step::Nfkc ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
                         (n.kind == Step::Nfkc || n.kind == Step::Nfkd ? UTF8PROC_COMPAT : 0);
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

}  // namespace lowbit::tokenizer
