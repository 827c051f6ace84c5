// The one regular-expression wrapper of the project (PCRE2, UTF-8, Unicode properties, JIT):
// Python-style patterns for targets/ignore (`re:` entries, matched like re.match) and the
// tokenizer's pre-tokenizer and normalizer patterns.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lowbit {

class Regex {
 public:
  enum class Mode {
    Search,    // find_all: matches anywhere
    AtStart,   // matches() is Python's re.match: anchored at the start, need not reach the end
  };
  // UserError "<what> '<pattern>' at offset N: <why>" for a pattern PCRE2 rejects.
  Regex(const std::string& pattern, Mode mode, const std::string& what = "invalid regex");
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Whether the pattern matches (at the start, in mode AtStart). `subject` is checked for valid UTF-8.
  bool matches(const std::string& subject) const;
  // [begin, end) of every non-empty match, left to right (an empty match steps one code point).
  // `subject` must be valid UTF-8 (the tokenizer checks a text once, not every piece).
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& subject) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit
