#include "quant/matching.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "core/error.h"

namespace lowbit::quant {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

Regex::Regex(const std::string& pattern) : impl_(std::make_unique<Impl>()) {
  int err = 0;
  PCRE2_SIZE off = 0;
  // PCRE2 reads Python's regex dialect (incl. (?P<name>...)); ANCHORED gives re.match.
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_ANCHORED | PCRE2_UTF, &err, &off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw UserError("invalid regex '" + pattern + "' at offset " + std::to_string(off) + ": " +
                    reinterpret_cast<const char*>(msg));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

bool Regex::match_prefix(const std::string& s) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md, nullptr);
  pcre2_match_data_free(md);
  return rc >= 0;
}

Matcher::Matcher(const std::string& entry) : entry_(entry) {
  if (entry.rfind("re:", 0) == 0) regex_ = std::make_unique<Regex>(entry.substr(3));
}

MatchKind Matcher::match(const model::Module& m) const {
  if (regex_) return regex_->match_prefix(m.path) ? MatchKind::Regex : MatchKind::None;
  if (entry_ == m.path) return MatchKind::Exact;
  if (std::find(m.classes.begin(), m.classes.end(), entry_) != m.classes.end()) return MatchKind::Class;
  return MatchKind::None;
}

bool matches_any(const std::vector<Matcher>& ms, const model::Module& m) {
  for (const auto& x : ms)
    if (x.match(m) != MatchKind::None) return true;
  return false;
}

}  // namespace lowbit::quant
