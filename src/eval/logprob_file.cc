#include "eval/logprob_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"

namespace lowbit::eval {

namespace {
constexpr char kMagic[8] = {'L', 'B', 'L', 'O', 'G', 'P', 'R', 'B'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 5 * 4;
}  // namespace

LogProbWriter::LogProbWriter(const std::filesystem::path& path, const LogProbHeader& h,
                             const std::vector<int32_t>& tokens)
    : path_(path), tmp_(path.string() + ".tmp"), h_(h) {
  if (tokens.size() != size_t(h.chunks) * h.ctx) throw std::logic_error("LogProbWriter: token count");
  out_ = std::make_unique<io::FileWriter>(tmp_);
  const uint32_t fields[5] = {kVersion, h.ctx, h.vocab, h.chunks, h.first};
  out_->write(kMagic, 8);
  out_->write(fields, sizeof fields);
  out_->write(tokens.data(), tokens.size() * sizeof(int32_t));
}

LogProbWriter::~LogProbWriter() {
  if (committed_) return;
  out_.reset();
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

void LogProbWriter::encode_row(const double* lp, uint32_t vocab, int32_t next, uint8_t* out) {
  uint32_t argmax = 0;
  for (uint32_t v = 1; v < vocab; ++v)
    if (lp[v] > lp[argmax]) argmax = v;
  const double mx = lp[argmax];
  const float head[2] = {float(mx), float(lp[next])};
  std::memcpy(out, head, 8);
  std::memcpy(out + 8, &argmax, 4);
  for (uint32_t v = 0; v < vocab; ++v) {
    const uint16_t q = uint16_t(std::min(65535.0, std::nearbyint((mx - lp[v]) / kStep)));
    std::memcpy(out + 12 + size_t(v) * 2, &q, 2);
  }
}

void LogProbWriter::write_rows(const uint8_t* rows, size_t n) {
  out_->write(rows, n * row_bytes(h_.vocab));
  rows_ += n;
}

void LogProbWriter::commit() {
  if (rows_ != uint64_t(h_.chunks) * h_.rows_per_chunk()) throw std::logic_error("LogProbWriter: row count");
  out_->close();
  std::filesystem::rename(tmp_, path_);
  committed_ = true;
}

LogProbReader::LogProbReader(const std::filesystem::path& path) : file_(path) {
  const std::string name = path.string();
  if (file_.size() < kHeaderBytes || std::memcmp(file_.data(), kMagic, 8) != 0)
    throw UserError(name + ": not a lowbit log-prob file (written by `lowbit eval --save-logits`)");
  uint32_t f[5];
  std::memcpy(f, file_.data() + 8, sizeof f);
  if (f[0] != kVersion) throw UserError(name + ": unsupported log-prob file version " + std::to_string(f[0]));
  h_ = {f[1], f[2], f[3], f[4]};
  if (h_.ctx < 2 || h_.vocab == 0 || h_.chunks == 0 || h_.first >= h_.ctx - 1)
    throw UserError(name + ": corrupt header (ctx " + std::to_string(h_.ctx) + ", vocab " + std::to_string(h_.vocab) +
                    ", chunks " + std::to_string(h_.chunks) + ", first " + std::to_string(h_.first) + ")");
  tokens_offset_ = kHeaderBytes;
  rows_offset_ = tokens_offset_ + size_t(h_.chunks) * h_.ctx * 4;  // < 2^32 * 2^32 * 4: no overflow in 64 bits
  row_bytes_ = LogProbWriter::row_bytes(h_.vocab);
  const unsigned __int128 expect = (unsigned __int128)rows_offset_ +
                                   (unsigned __int128)h_.chunks * h_.rows_per_chunk() * row_bytes_;
  if (expect != file_.size())
    throw UserError(name + ": size " + std::to_string(file_.size()) + " bytes does not match its header (truncated?)");
}

const int32_t* LogProbReader::chunk_tokens(uint32_t chunk) const {
  return reinterpret_cast<const int32_t*>(file_.data() + tokens_offset_ + size_t(chunk) * h_.ctx * 4);
}

double LogProbReader::row(uint32_t chunk, uint32_t r, std::vector<double>& out, uint32_t& argmax) const {
  const uint8_t* p = file_.data() + rows_offset_ + (size_t(chunk) * h_.rows_per_chunk() + r) * row_bytes_;
  float head[2];
  std::memcpy(head, p, 8);
  std::memcpy(&argmax, p + 8, 4);
  if (argmax >= h_.vocab) throw UserError(file_.path().string() + ": corrupt row (argmax outside the vocabulary)");
  out.resize(h_.vocab);
  const double mx = head[0];
  for (uint32_t v = 0; v < h_.vocab; ++v) {
    uint16_t q;
    std::memcpy(&q, p + 12 + size_t(v) * 2, 2);
    out[v] = mx - q * LogProbWriter::kStep;
  }
  return head[1];
}

}  // namespace lowbit::eval
