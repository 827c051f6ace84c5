// Importance matrices as llama.cpp's llama-imatrix writes them and llama-quantize reads them:
// per weight (GGUF name, "blk.3.ffn_down.weight"), the sum of x^2 over every token the weight
// multiplied, per input channel, and how many tokens that was.
//
// GGUF form (the default since llama.cpp b5884): general.type = "imatrix", imatrix.datasets
// (arr[str]), imatrix.chunk_count (u32), imatrix.chunk_size (u32); per entry, names sorted,
// "<name>.in_sum2" F32 [ne0, nmat] (the raw sums) then "<name>.counts" F32 [1, nmat] (tokens
// per matrix; nmat > 1 only for stacked experts).
//
// Legacy ".dat" form (little-endian): i32 entry count; per entry i32 name length, the name,
// i32 ncall, i32 value count, that many f32 = (sum / tokens) * ncall where ncall =
// ceil(tokens / chunk_size); then, optionally, i32 chunk count, i32 length and the dataset name.
// A file is legacy when it does not start with the GGUF magic (llama.cpp tries GGUF first).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace lowbit::io {

enum class ImatrixFormat { Gguf, Legacy };

struct ImatrixEntry {
  std::vector<float> sums;      // nmat rows of ne0 values: matrix j's channels at [j * ne0, (j + 1) * ne0)
  std::vector<int64_t> counts;  // per matrix: tokens (GGUF), or ncall (read from a legacy file)
  int64_t ne0() const { return counts.empty() ? 0 : int64_t(sums.size() / counts.size()); }
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by GGUF weight name, sorted
  std::vector<std::string> datasets;            // the calibration files, as given
  uint32_t chunk_count = 0;                     // chunks of chunk_size tokens the sums cover
  uint32_t chunk_size = 0;                      // 0 when read from a legacy file (it does not say)
  ImatrixFormat format = ImatrixFormat::Gguf;   // as read (legacy sums are normalised, see above)
};

// Either form, detected by the magic. `label` names the file in errors. Every size, count and
// name is checked against the bytes there are: a truncated or hostile file is a UserError.
// A GGUF must have the three imatrix.* keys (llama-quantize refuses it otherwise), at least one
// entry, F32 sums and counts of matching sizes, and counts that are finite and >= 0.
Imatrix parse_imatrix(const uint8_t* bytes, size_t size, const std::string& label);
Imatrix read_imatrix(const std::filesystem::path& path);

// Writes `m` (raw sums and counts, as collected) in `format`, to a hidden sibling renamed onto
// `path` when complete. Legacy: entries whose every count is 0 are left out and a count of 0
// stores 1s, as llama-imatrix does; the last dataset is the one named. UserError on I/O
// failure; std::logic_error for an inconsistent entry (sums not nmat x ne0, no counts).
void write_imatrix(const Imatrix& m, const std::filesystem::path& path, ImatrixFormat format);

// The importance vector of every entry as llama-quantize derives it: GGUF, per matrix
// sums / float(count) in float (a count of 0 gives 1s); legacy, sums / float(ncall) (ncall 0:
// the sums as they are). UserError naming the tensor for a NaN or infinity.
std::map<std::string, std::vector<float>> importance_vectors(const Imatrix& m);

// "legacy (.dat)" / "GGUF".
const char* imatrix_format_name(ImatrixFormat f);

}  // namespace lowbit::io
