// The importance matrix from the layer-at-a-time pass: the sums of squares a whole-model forward
// shows its observer, under llama.cpp's names, with llama-imatrix's chunking.
#include "pipeline/imatrix_collect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "export/load_model.h"
#include "model/gguf_names.h"
#include "temp_path.h"
#include "tiny_model.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

fs::path tiny_dir(const std::string& name, bool tied) {
  fixtures::TinyModelSpec s;
  s.hidden = 128, s.intermediate = 256, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.vocab = 300;
  s.dtype = DType::F32;  // float32 products on both sides: the sums agree to float rounding
  s.tied = tied;
  const fs::path dir = fixtures::temp_path(name);
  fs::remove_all(dir);
  fixtures::write_tiny_model(dir, s);
  return dir;
}

std::vector<std::vector<int32_t>> chunks() {
  std::vector<std::vector<int32_t>> out(2);
  for (int i = 0; i < 24; ++i) out[0].push_back((i * 37 + 11) % 300), out[1].push_back((i * 53 + 7) % 300);
  return out;
}

// Sums of x^2 in double per module, over a whole-model forward of each chunk.
class Reference : public engine::LinearObserver {
 public:
  void on_input(const model::Module& m, const float* x, int64_t tokens) override {
    auto& s = sums[m.path];
    s.resize(size_t(m.in_features));
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t c = 0; c < m.in_features; ++c) s[size_t(c)] += double(x[t * m.in_features + c]) * x[t * m.in_features + c];
  }
  std::map<std::string, std::vector<double>> sums;
};

}  // namespace

TEST(ImatrixCollect, SumsAreTheWholeForwardsSquaresUnderGgufNames) {
  const fs::path dir = tiny_dir("imatrix-collect", false);
  auto net = exporter::load_model(dir);
  Reference ref;
  for (const auto& c : chunks()) net->net->forward(c, 0, &ref);
  // The head's input, which forward() does not show an observer.
  pipeline::ImatrixCollectOptions o;
  o.process_output = true;
  o.chunk_size = 24;
  o.datasets = {"calib.txt"};
  o.progress = ProgressMode::Off;
  const io::Imatrix m = pipeline::collect_imatrix(*net->dir, net->arch, chunks(), o);
  EXPECT_EQ(m.chunk_count, 2u);
  EXPECT_EQ(m.chunk_size, 24u);
  EXPECT_EQ(m.datasets, (std::vector<std::string>{"calib.txt"}));
  ASSERT_EQ(m.entries.size(), 2u * 7 + 1);  // q k v o gate up down per layer, and output
  EXPECT_FALSE(m.entries.count("token_embd.weight"));
  for (const auto& [path, want] : ref.sums) {
    const std::string name = model::gguf_tensor_name("llama", path + ".weight");
    ASSERT_TRUE(m.entries.count(name)) << name;
    const io::ImatrixEntry& e = m.entries.at(name);
    EXPECT_EQ(e.counts, (std::vector<int64_t>{48})) << name;
    ASSERT_EQ(e.sums.size(), want.size()) << name;
    for (size_t c = 0; c < want.size(); ++c) EXPECT_NEAR(e.sums[c], want[c], 1e-5 * want[c] + 1e-30) << name << " " << c;
  }
  // q/k/v and gate/up read one input: equal entries, as llama-imatrix writes them.
  EXPECT_EQ(m.entries.at("blk.1.attn_q.weight").sums, m.entries.at("blk.1.attn_k.weight").sums);
  EXPECT_EQ(m.entries.at("blk.1.attn_q.weight").sums, m.entries.at("blk.1.attn_v.weight").sums);
  EXPECT_EQ(m.entries.at("blk.0.ffn_gate.weight").sums, m.entries.at("blk.0.ffn_up.weight").sums);
  EXPECT_EQ(m.entries.at("output.weight").counts, (std::vector<int64_t>{48}));
  EXPECT_EQ(m.entries.at("output.weight").sums.size(), 128u);
}

TEST(ImatrixCollect, OutputOnlyWhenAskedAndNeverForATiedHead) {
  pipeline::ImatrixCollectOptions o;
  o.progress = ProgressMode::Off;
  {
    auto net = exporter::load_model(tiny_dir("imatrix-untied", false));
    EXPECT_FALSE(pipeline::collect_imatrix(*net->dir, net->arch, chunks(), o).entries.count("output.weight"));
  }
  o.process_output = true;
  auto net = exporter::load_model(tiny_dir("imatrix-tied", true));
  const io::Imatrix m = pipeline::collect_imatrix(*net->dir, net->arch, chunks(), o);
  EXPECT_FALSE(m.entries.count("output.weight"));
  EXPECT_FALSE(m.entries.count("token_embd.weight"));
  EXPECT_EQ(m.entries.size(), 14u);
}

TEST(ImatrixCollect, TextChunksAreLlamaImatrixs) {
  // The stream as llama.cpp tokenizes it (BOS 0 first); each chunk's first token becomes BOS.
  const std::vector<int32_t> stream = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33};
  auto c = pipeline::imatrix_text_chunks(stream, 0, 16, 0);
  ASSERT_EQ(c.size(), 2u);  // 34 tokens: two whole chunks, the tail dropped
  EXPECT_EQ(c[0][0], 0);
  EXPECT_EQ(c[0][15], 15);
  EXPECT_EQ(c[1][0], 0);  // token 16 is replaced, not shifted
  EXPECT_EQ(c[1][1], 17);
  EXPECT_EQ(pipeline::imatrix_text_chunks(stream, 0, 16, 1).size(), 1u);
  EXPECT_EQ(pipeline::imatrix_text_chunks(stream, -1, 16, 0)[1][0], 16);  // no BOS: the text as it is
  EXPECT_THROW(pipeline::imatrix_text_chunks(stream, 0, 40, 0), UserError);
  EXPECT_THROW(pipeline::imatrix_text_chunks(stream, 0, 8, 0), UserError);  // shorter than llama-imatrix takes
}
