// Small POSIX helpers: read-only memory maps, checked writes that report a full
// disk clearly, and whole-file reads for small text files.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace lowbit::io {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::filesystem::path& path);  // throws UserError
  MappedFile(MappedFile&&) noexcept;
  MappedFile& operator=(MappedFile&&) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Drop the pages of [offset, offset+len) from this process (they stay in the page
  // cache), so RSS stays bounded while we stream through a large model.
  void release(size_t offset, size_t len) const;

 private:
  std::filesystem::path path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Buffered writer on a file descriptor; every failure (ENOSPC, EFBIG, EIO) becomes a
// UserError naming the file.
class FileWriter {
 public:
  explicit FileWriter(const std::filesystem::path& path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  void write(const void* data, size_t n);
  void close();  // flush + fsync + close; throws on failure
  uint64_t bytes_written() const { return written_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void flush_buffer();
  void raw_write(const void* data, size_t n);
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buf_;
  uint64_t written_ = 0;
};

std::string read_text_file(const std::filesystem::path& path, size_t max_bytes = 64u << 20);
// Hex SHA-256 of bytes, and of a file's bytes (as sha256sum prints it; UserError if unreadable).
std::string sha256_hex(const void* data, size_t size);
std::string file_sha256(const std::filesystem::path& path);
void write_text_file(const std::filesystem::path& path, const std::string& text);
// The same, whole or not at all: a hidden temporary sibling, synced, renamed over `path` (and
// removed when anything fails), so a reader never sees half a file.
void write_text_file_atomic(const std::filesystem::path& path, const std::string& text);
// Before the work that produces it: `path` can be written as a file (its folder exists and is
// writable, it is not a folder itself). UserError "WHAT PATH: ..." otherwise.
void check_output_file(const std::filesystem::path& path, const std::string& what);

}  // namespace lowbit::io
