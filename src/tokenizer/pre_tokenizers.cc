#include "tokenizer/pre_tokenizers.h"

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"

namespace lowbit::tokenizer {

using nlohmann::json;

namespace {

// GPT-2's pre-tokenizer pattern (ByteLevel with use_regex).
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::shared_ptr<const Regex> regex(const std::string& pattern) {
  return std::make_shared<const Regex>(pattern, Regex::Mode::Search, "tokenizer regex");
}

// Pieces of s: the matches, and (if keep_gaps) the text between them, in order.
std::vector<std::string> split_by(const Regex& re, const std::string& s, bool keep_gaps) {
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

PreTokenizer PreTokenizer::from_json(const json& j, const std::string& label) {
  PreTokenizer p;
  parse(j, p, label);
  return p;
}

void PreTokenizer::parse(const json& p, PreTokenizer& out, const std::string& label) {
  if (p.is_null()) return;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const auto& s : p.at("pretokenizers")) parse(s, out, label);
  } else if (type == "ByteLevel") {
    Step s{Step::ByteLevel, nullptr};
    s.add_prefix_space = p.value("add_prefix_space", false);
    s.use_regex = p.value("use_regex", true);
    if (s.use_regex) s.re = regex(kGpt2Pattern);
    out.steps_.push_back(s);
    out.byte_level_ = true;
  } else if (type == "Split") {
    const std::string re = regex_of(p.at("pattern"));
    const std::string behavior = p.value("behavior", "Isolated");
    if (p.value("invert", false)) throw UserError(label + ": Split with invert is not supported");
    if (behavior != "Isolated" && behavior != "Removed")
      throw UserError(label + ": Split behavior '" + behavior + "' is not supported (Isolated, Removed)");
    out.steps_.push_back({behavior == "Isolated" ? Step::SplitIsolated : Step::SplitRemoved, regex(re)});
  } else if (type == "Digits") {
    out.steps_.push_back({Step::Digits, regex(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+")});
  } else if (type == "Metaspace") {
    Step s{Step::Metaspace, nullptr};
    s.replacement = p.value("replacement", std::string("\xe2\x96\x81"));
    const std::string scheme = p.value("prepend_scheme", p.value("add_prefix_space", true) ? "always" : "never");
    if (scheme != "always" && scheme != "never" && scheme != "first")
      throw UserError(label + ": Metaspace prepend_scheme '" + scheme + "' is not supported");
    s.prepend = scheme == "always" ? Step::Always : scheme == "never" ? Step::Never : Step::First;
    s.split = p.value("split", true);
    out.steps_.push_back(s);
  } else {
    throw UserError(label + ": pre_tokenizer '" + type + "' is not supported yet");
  }
}

std::vector<std::string> PreTokenizer::split(const std::string& segment, bool at_start) const {
  std::vector<std::string> pieces{segment};
  for (const auto& st : steps_) {
    std::vector<std::string> next;
    for (size_t pi = 0; pi < pieces.size(); ++pi) {
      std::string& p = pieces[pi];
      switch (st.kind) {
        case Step::Metaspace: {
          std::string q;
          for (char c : p) {
            if (c == ' ') q += st.replacement;
            else q += c;
          }
          const bool prepend = st.prepend == Step::Always || (st.prepend == Step::First && at_start && pi == 0);
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
        case Step::ByteLevel: {
          std::string q = p;
          if (st.add_prefix_space && (q.empty() || q[0] != ' ')) q = " " + q;
          if (st.use_regex) {
            for (auto& x : split_by(*st.re, q, true)) next.push_back(std::move(x));
          } else {
            next.push_back(q);
          }
          break;
        }
        case Step::SplitIsolated:
        case Step::Digits:
          for (auto& x : split_by(*st.re, p, true)) next.push_back(std::move(x));
          break;
        case Step::SplitRemoved: {
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
  if (byte_level_) {
    const ByteMap& bm = byte_map();
    for (auto& p : pieces) {
      std::string mapped;
      for (unsigned char c : p) mapped += bm.to_unicode[c];
      p = std::move(mapped);
    }
  }
  return pieces;
}

}  // namespace lowbit::tokenizer
