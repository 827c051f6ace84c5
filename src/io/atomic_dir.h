// Output folders appear complete or not at all: work happens in a temporary
// sibling folder that is renamed into place by commit(); the destructor removes
// it if commit() never ran (error, interrupt).
#pragma once
#include <filesystem>

namespace lowbit::io {

class AtomicDir {
 public:
  // Throws UserError if `target` exists and !overwrite, or its parent is missing.
  AtomicDir(const std::filesystem::path& target, bool overwrite);
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;

  const std::filesystem::path& tmp() const { return tmp_; }
  const std::filesystem::path& target() const { return target_; }
  void commit();

 private:
  std::filesystem::path target_, tmp_;
  bool overwrite_, committed_ = false;
};

// Free bytes on the filesystem holding `path` (or its nearest existing parent).
uint64_t free_bytes(const std::filesystem::path& path);

}  // namespace lowbit::io
