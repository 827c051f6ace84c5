// Errors: a UserError is the user's input at fault (bad file, impossible recipe,
// full disk) and exits 2; anything else is our bug and exits 1.
#pragma once
#include <stdexcept>
#include <string>

namespace lowbit {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& what) : std::runtime_error(what) {}
};

// Raised when SIGINT/SIGTERM arrives; treated as a user error (exit 2) after cleanup.
class Interrupted : public UserError {
 public:
  Interrupted() : UserError("interrupted") {}
};

}  // namespace lowbit
