#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/error.h"

namespace lowbit {

ProgressMode parse_progress_mode(const std::string& s) {
  if (s == "auto") return ProgressMode::Auto;
  if (s == "bar") return ProgressMode::Bar;
  if (s == "lines") return ProgressMode::Lines;
  if (s == "off") return ProgressMode::Off;
  throw UserError("--progress must be auto, bar, lines or off");
}

Progress::Progress(std::string label, uint64_t units, uint64_t bytes, ProgressMode mode, std::string unit_name,
                   std::string volume_name)
    : label_(std::move(label)),
      unit_name_(std::move(unit_name)),
      volume_name_(std::move(volume_name)),
      total_units_(units),
      total_bytes_(bytes),
      mode_(mode) {
  if (mode_ == ProgressMode::Auto) mode_ = isatty(STDERR_FILENO) ? ProgressMode::Bar : ProgressMode::Lines;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  // A bar left mid-line would swallow the next message; end the line.
  if (!finished_ && mode_ == ProgressMode::Bar && done_units_ > 0) std::fputc('\n', stderr);
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000.0 && u < 4) b /= 1000.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

std::string Progress::volume(double v) const {
  if (volume_name_.empty()) return human_bytes(v);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.0f %s", v, volume_name_.c_str());
  return buf;
}

std::string Progress::rate(double per_second) const {
  if (volume_name_.empty()) return human_bytes(per_second) + "/s";
  // Three significant digits: a slow benchmark's 0.41 tasks/s must not print as 0.
  char buf[48];
  std::snprintf(buf, sizeof buf, per_second < 10 ? "%.2f %s/s" : per_second < 100 ? "%.1f %s/s" : "%.0f %s/s",
                per_second, volume_name_.c_str());
  return buf;
}

std::string Progress::human_duration(double s) {
  char buf[32];
  if (s < 0) s = 0;
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

void Progress::advance(uint64_t units, uint64_t bytes) {
  done_units_ += units;
  done_bytes_ += bytes;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  draw(true);
  finished_ = true;
}

void Progress::draw(bool final) {
  if (mode_ == ProgressMode::Off) return;
  auto now = std::chrono::steady_clock::now();
  double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  double el = elapsed_seconds();
  double frac = total_bytes_ ? double(done_bytes_) / double(total_bytes_)
                             : (total_units_ ? double(done_units_) / double(total_units_) : 1.0);
  double per_s = el > 0 ? double(done_bytes_) / el : 0;
  double eta = (per_s > 0 && frac < 1.0) ? double(total_bytes_ - done_bytes_) / per_s : 0;
  if (mode_ == ProgressMode::Bar) {
    if (!final && since_draw < 0.1) return;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(frac * kWidth);
    std::string bar(filled, '=');
    if (filled < kWidth) bar += '>', bar += std::string(kWidth - filled - 1, ' ');
    std::fprintf(stderr, "\r%s [%s] %llu/%llu %s  %s  %s %s\x1b[K", label_.c_str(), bar.c_str(),
                 (unsigned long long)done_units_, (unsigned long long)total_units_, unit_name_.c_str(),
                 rate(per_s).c_str(), final ? "elapsed" : "ETA",
                 human_duration(final ? el : eta).c_str());
    if (final) std::fputc('\n', stderr);
  } else {
    int decile = static_cast<int>(frac * 10);
    if (!final && decile == last_decile_ && since_draw < 10.0) return;
    last_decile_ = decile;
    // "3/10 tasks, 0.42 tasks/s" when the volume is the units themselves.
    const std::string of = volume_name_ == unit_name_ ? std::string()
                                                      : volume(double(done_bytes_)) + " of " +
                                                            volume(double(total_bytes_)) + ", ";
    std::fprintf(stderr, "%s: %llu/%llu %s, %s%s, %s %s\n", label_.c_str(), (unsigned long long)done_units_,
                 (unsigned long long)total_units_, unit_name_.c_str(), of.c_str(), rate(per_s).c_str(),
                 final ? "elapsed" : "ETA", human_duration(final ? el : eta).c_str());
  }
  std::fflush(stderr);
  last_draw_ = now;
}

}  // namespace lowbit
