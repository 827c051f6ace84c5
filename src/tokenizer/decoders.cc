#include "tokenizer/decoders.h"

#include <utf8proc.h>

#include <cstdio>

#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"

namespace lowbit::tokenizer {

using nlohmann::json;

Decoder Decoder::from_json(const json& j, bool byte_level) {
  Decoder d;
  d.byte_level_ = byte_level;
  d.unsupported_ = parse(j, d.steps_);
  return d;
}

std::string Decoder::parse(const json& d, std::vector<Step>& out) {
  if (d.is_null()) return "";
  const std::string type = d.value("type", "");
  if (type == "Sequence") {
    for (const auto& x : d.at("decoders")) {
      std::string bad = parse(x, out);
      if (!bad.empty()) return bad;
    }
    return "";
  }
  if (type == "ByteLevel") return "";  // handled by the byte-level path
  if (type == "Replace" && d.at("pattern").contains("String")) {
    out.push_back({Step::Replace, d["pattern"]["String"].get<std::string>(), d.at("content").get<std::string>()});
  } else if (type == "ByteFallback") {
    out.push_back({Step::ByteFallback});
  } else if (type == "Fuse") {
    out.push_back({Step::Fuse});
  } else if (type == "Strip" && d.value("content", std::string(" ")).size() == 1) {
    Step st{Step::Strip, d.value("content", std::string(" "))};
    st.strip_start = d.contains("start") ? json_int(d["start"], 0, 1 << 20, "Strip start") : 0;
    st.strip_stop = d.contains("stop") ? json_int(d["stop"], 0, 1 << 20, "Strip stop") : 0;
    out.push_back(st);
  } else if (type == "Metaspace") {
    Step st{Step::Metaspace, d.value("replacement", std::string("\xe2\x96\x81")), " "};
    st.metaspace_prepend = d.value("prepend_scheme", d.value("add_prefix_space", true) ? "always" : "never") != "never";
    out.push_back(st);
  } else {
    return type.empty() ? "?" : type;
  }
  return "";
}

std::string Decoder::decode(std::vector<std::string> toks) const {
  if (byte_level_) {
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
  if (!unsupported_.empty()) throw UserError("decode: the tokenizer's decoder '" + unsupported_ + "' is not supported yet");
  for (const Step& d : steps_) {
    switch (d.kind) {
      case Step::Replace:
        for (auto& t : toks)
          for (size_t at = t.find(d.from); !d.from.empty() && at != std::string::npos; at = t.find(d.from, at + d.to.size()))
            t.replace(at, d.from.size(), d.to);
        break;
      case Step::ByteFallback: {
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
      case Step::Fuse: {
        std::string all;
        for (const auto& t : toks) all += t;
        toks = {all};
        break;
      }
      case Step::Strip:
        for (auto& t : toks) {
          int a = 0, b = 0;
          while (a < d.strip_start && size_t(a) < t.size() && t[size_t(a)] == d.from[0]) ++a;
          while (b < d.strip_stop && size_t(a + b) < t.size() && t[t.size() - 1 - size_t(b)] == d.from[0]) ++b;
          t = t.substr(size_t(a), t.size() - size_t(a) - size_t(b));
        }
        break;
      case Step::Metaspace:
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

}  // namespace lowbit::tokenizer
