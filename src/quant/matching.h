// targets / ignore matching with compressed-tensors semantics: an entry matches a
// module if it is "re:<pattern>" and Python's re.match (anchored at the start
// only) succeeds on the full module path, or equals the full path, or equals a
// class name in the module's class hierarchy.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/regex.h"
#include "model/architecture.h"

namespace lowbit::quant {

enum class MatchKind { None, Exact, Regex, Class };

class Matcher {
 public:
  explicit Matcher(const std::string& entry);
  MatchKind match(const model::Module& m) const;
  const std::string& entry() const { return entry_; }

 private:
  std::string entry_;
  std::unique_ptr<Regex> regex_;
};

bool matches_any(const std::vector<Matcher>& ms, const model::Module& m);

}  // namespace lowbit::quant
