// The GGUF reader's pieces that need no file: the Q/K row un-permutation against the
// converter's permutation (pipeline/gguf_export) and against rows worked out by hand.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"
#include "export/gguf_model.h"
#include "pipeline/gguf_export.h"

namespace lowbit {
namespace {

TEST(GgufModel, UnpermuteUndoesTheConvertersRopePermutation) {
  // One head of 4 rows: the converter writes HF rows (0, 1, 2, 3) as (0, 2, 1, 3).
  std::vector<float> w = {0, 2, 1, 3};
  exporter::unpermute_rope_rows(w.data(), 4, 1, 1);
  EXPECT_EQ(w, (std::vector<float>{0, 1, 2, 3}));
  // Two heads of 6 rows, 3 columns: (0 3 1 4 2 5) per head, rows moved whole.
  std::vector<float> x(12 * 3);
  std::iota(x.begin(), x.end(), 0.0f);
  std::vector<float> p = x;
  pipeline::permute_rope_rows(p.data(), 12, 3, 2);
  EXPECT_EQ(p[1 * 3], x[3 * 3]);   // row 1 of the file is HF row half + 0
  EXPECT_EQ(p[7 * 3 + 2], x[9 * 3 + 2]);
  exporter::unpermute_rope_rows(p.data(), 12, 3, 2);
  EXPECT_EQ(p, x);
  EXPECT_THROW(exporter::unpermute_rope_rows(p.data(), 12, 3, 5), UserError);
}

}  // namespace
}  // namespace lowbit
