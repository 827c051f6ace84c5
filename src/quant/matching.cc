#include "quant/matching.h"

#include <algorithm>

#include "core/error.h"

namespace lowbit::quant {

Matcher::Matcher(const std::string& entry) : entry_(entry) {
  if (entry.rfind("re:", 0) == 0) regex_ = std::make_unique<Regex>(entry.substr(3), Regex::Mode::AtStart);
}

MatchKind Matcher::match(const model::Module& m) const {
  if (regex_) return regex_->matches(m.path) ? MatchKind::Regex : MatchKind::None;
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
