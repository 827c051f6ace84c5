// Progress for long work: a redrawn bar with rate and ETA on a terminal, plain
// lines (every ~10% or 10 s) when stderr is a log file or pipe.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace lowbit {

enum class ProgressMode { Auto, Bar, Lines, Off };
// "auto" | "bar" | "lines" | "off"; UserError otherwise.
ProgressMode parse_progress_mode(const std::string& name);

class Progress {
 public:
  // `units` counts work items (modules); `bytes` is the volume the rate is shown in: bytes by
  // default, or items named `volume_name` (e.g. "tokens") when that is given.
  Progress(std::string label, uint64_t units, uint64_t bytes, ProgressMode mode = ProgressMode::Auto,
           std::string unit_name = "modules", std::string volume_name = "");
  ~Progress();
  void advance(uint64_t units, uint64_t bytes);
  void finish();
  double elapsed_seconds() const;

  // "1.23 GB", "512.0 MB" ...
  static std::string human_bytes(double bytes);
  static std::string human_duration(double seconds);

 private:
  void draw(bool final);
  std::string volume(double v) const;
  std::string rate(double per_second) const;  // "12.3 tasks/s", or bytes as "1.25 MB/s"
  std::string label_, unit_name_, volume_name_;
  uint64_t total_units_, total_bytes_;
  uint64_t done_units_ = 0, done_bytes_ = 0;
  ProgressMode mode_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int last_decile_ = -1;
};

}  // namespace lowbit
