#include "io/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <openssl/evp.h>

#include "core/error.h"

namespace lowbit::io {

namespace {
std::string errno_text(int e) {
  if (e == ENOSPC) return "no space left on device (disk full)";
  if (e == EFBIG) return "file too large (file size limit reached)";
  if (e == EDQUOT) return "disk quota exceeded";
  return std::strerror(e);
}
}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError(path.string() + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw UserError(path.string() + ": cannot stat: " + std::strerror(e));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw UserError(path.string() + ": cannot memory-map: " + std::strerror(e));
    }
    data_ = static_cast<uint8_t*>(p);
    madvise(data_, size_, MADV_SEQUENTIAL);
  }
  ::close(fd);
}

MappedFile::MappedFile(MappedFile&& o) noexcept : path_(std::move(o.path_)), data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) munmap(data_, size_);
    path_ = std::move(o.path_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) munmap(data_, size_);
}

void MappedFile::release(size_t offset, size_t len) const {
  if (!data_ || len == 0) return;
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t begin = (offset + page - 1) / page * page;  // only whole pages inside the range
  size_t end = std::min(offset + len, size_) / page * page;
  if (end > begin) madvise(data_ + begin, end - begin, MADV_DONTNEED);
}

FileWriter::FileWriter(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError(path.string() + ": cannot create: " + std::strerror(errno));
  buf_.reserve(8u << 20);
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void FileWriter::raw_write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw UserError(path_.string() + ": write failed: " + errno_text(errno));
    }
    if (w == 0) throw UserError(path_.string() + ": write failed: no progress");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void FileWriter::flush_buffer() {
  if (!buf_.empty()) raw_write(buf_.data(), buf_.size());
  buf_.clear();
}

void FileWriter::write(const void* data, size_t n) {
  written_ += n;
  if (buf_.size() + n <= buf_.capacity()) {
    buf_.append(static_cast<const char*>(data), n);
    return;
  }
  flush_buffer();
  if (n >= buf_.capacity() / 2) {
    raw_write(data, n);
  } else {
    buf_.append(static_cast<const char*>(data), n);
  }
}

void FileWriter::close() {
  if (fd_ < 0) return;
  flush_buffer();
  if (fdatasync(fd_) != 0 && errno != EINVAL)
    throw UserError(path_.string() + ": sync failed: " + errno_text(errno));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw UserError(path_.string() + ": close failed: " + errno_text(errno));
}

std::string read_text_file(const std::filesystem::path& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UserError(path.string() + ": cannot open: " + std::strerror(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw UserError(path.string() + ": read failed: " + std::strerror(e));
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > max_bytes) {
      ::close(fd);
      throw UserError(path.string() + ": file is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

std::string sha256_hex(const void* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(size ? data : "", size, digest, &len, EVP_sha256(), nullptr))
    throw std::runtime_error("SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += hex[digest[i] >> 4], out += hex[digest[i] & 15];
  return out;
}

std::string file_sha256(const std::filesystem::path& path) {
  MappedFile f(path);
  return sha256_hex(f.data(), f.size());
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  FileWriter w(path);
  w.write(text.data(), text.size());
  w.close();
}

void check_output_file(const std::filesystem::path& path, const std::string& what) {
  namespace fs = std::filesystem;
  const fs::path abs = fs::absolute(path).lexically_normal();
  std::error_code ec;
  if (fs::is_directory(abs, ec)) throw UserError(what + " " + path.string() + ": is a folder, expected a file path");
  const fs::path dir = abs.parent_path();
  if (!fs::is_directory(dir, ec)) throw UserError(what + " " + path.string() + ": folder " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw UserError(what + " " + path.string() + ": cannot write in " + dir.string() + ": " + std::strerror(errno));
}

void write_text_file_atomic(const std::filesystem::path& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path abs = fs::absolute(path).lexically_normal();
  const fs::path tmp = abs.parent_path() / ("." + abs.filename().string() + ".lowbit-tmp-" + std::to_string(getpid()));
  try {
    write_text_file(tmp, text);
    std::error_code ec;
    fs::rename(tmp, abs, ec);
    if (ec) throw UserError(path.string() + ": cannot move the finished file into place: " + ec.message());
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  // the rename itself reaches the disk only with its folder
  const int dir = ::open(abs.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace lowbit::io
