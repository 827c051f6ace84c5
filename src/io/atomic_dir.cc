#include "io/atomic_dir.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <system_error>

#include "core/error.h"

namespace lowbit::io {

namespace fs = std::filesystem;

AtomicDir::AtomicDir(const fs::path& target, bool overwrite) : overwrite_(overwrite) {
  target_ = fs::absolute(target).lexically_normal();
  if (target_.filename().empty()) target_ = target_.parent_path();
  if (fs::exists(target_) && !overwrite)
    throw UserError(target_.string() + ": already exists (pass --overwrite to replace it)");
  fs::path parent = target_.parent_path();
  if (!fs::is_directory(parent)) throw UserError(parent.string() + ": output's parent folder does not exist");
  tmp_ = parent / ("." + target_.filename().string() + ".lowbit-tmp-" + std::to_string(getpid()));
  std::error_code ec;
  fs::remove_all(tmp_, ec);
  if (!fs::create_directory(tmp_, ec) || ec)
    throw UserError(tmp_.string() + ": cannot create temporary output folder: " + ec.message());
}

AtomicDir::~AtomicDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

void AtomicDir::commit() {
  std::error_code ec;
  fs::path old;
  if (fs::exists(target_)) {
    if (!overwrite_) throw UserError(target_.string() + ": appeared while we were writing; not replacing it");
    old = target_.parent_path() / ("." + target_.filename().string() + ".lowbit-old-" + std::to_string(getpid()));
    fs::rename(target_, old, ec);
    if (ec) throw UserError(target_.string() + ": cannot move the old folder aside: " + ec.message());
  }
  fs::rename(tmp_, target_, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, target_);
    throw UserError(target_.string() + ": cannot move output into place: " + ec.message());
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

uint64_t free_bytes(const fs::path& path) {
  fs::path p = fs::absolute(path);
  while (!p.empty() && !fs::exists(p)) p = p.parent_path();
  struct statvfs st {};
  if (statvfs(p.c_str(), &st) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace lowbit::io
