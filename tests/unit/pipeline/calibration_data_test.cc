// Calibration data: plain-text windows, and the same tokens given as pre-tokenized
// "input_ids" JSONL lines give the same samples; bad lines are errors naming the line.
#include "pipeline/calibration_data.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "temp_path.h"
#include "tiny_model.h"

using namespace lowbit;
namespace fs = std::filesystem;

namespace {

struct Files {
  fs::path dir, model;
  tokenizer::Tokenizer tok;
};

fs::path tiny_model_with_tokenizer(const fs::path& dir) {
  fixtures::TinyModelSpec s;
  s.tokenizer = true;
  fixtures::write_tiny_model(dir / "model", s);
  return dir / "model";
}

Files setup(const std::string& name) {
  const fs::path dir = fixtures::temp_path(name), model = tiny_model_with_tokenizer(dir);
  return Files{dir, model, tokenizer::Tokenizer::from_file(model / "tokenizer.json")};
}

std::string error_of(const pipeline::CalibrationOptions& o, const tokenizer::Tokenizer& tok) {
  try {
    pipeline::load_calibration(o, tok, -1);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(CalibrationData, InputIdsLinesAreTheTextWindowsTokens) {
  Files f = setup("calib-ids");
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Sentence number " + std::to_string(i) + " says something plain. ";
  std::ofstream(f.dir / "c.txt") << text;
  pipeline::CalibrationOptions o{f.dir / "c.txt", 5, 32, 7, f.model};
  const auto windows = pipeline::load_calibration(o, f.tok, 1);
  ASSERT_EQ(windows.samples.size(), 5u);

  // The same windows, in the order the text gives them, as input_ids lines (BOS included).
  const std::vector<int32_t> ids = f.tok.encode(text);
  std::ofstream jsonl(f.dir / "ids.jsonl");
  for (size_t start = 0; start + 31 <= ids.size(); start += 31) {
    nlohmann::json w = nlohmann::json::array({1});
    for (size_t i = start; i < start + 31; ++i) w.push_back(ids[i]);
    jsonl << nlohmann::json{{"input_ids", w}}.dump() << "\n";
  }
  jsonl.close();
  o.file = f.dir / "ids.jsonl";
  const auto lines = pipeline::load_calibration(o, f.tok, 1);  // no second BOS: ids are used as they are
  EXPECT_EQ(lines.candidates, windows.candidates);
  EXPECT_EQ(lines.samples, windows.samples);
  EXPECT_EQ(lines.tokens, 5 * 32);

  o.seq_len = 16;  // longer lines are truncated, as text documents are
  for (const auto& s : pipeline::load_calibration(o, f.tok, 1).samples) EXPECT_EQ(s.size(), 16u);
}

TEST(CalibrationData, BadInputIdsLinesNameTheLine) {
  Files f = setup("calib-ids-bad");
  pipeline::CalibrationOptions o{f.dir / "bad.jsonl", 4, 16, 1, f.model};
  std::ofstream(o.file) << "{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": [1, -4]}\n";
  EXPECT_NE(error_of(o, f.tok).find("bad.jsonl:2: \"input_ids\" holds -4, not a token id"), std::string::npos)
      << error_of(o, f.tok);
  std::ofstream(o.file) << "{\"input_ids\": \"1 2 3\"}\n";
  EXPECT_NE(error_of(o, f.tok).find("bad.jsonl:1: \"input_ids\" must be a list"), std::string::npos);
  std::ofstream(o.file) << "{\"input_ids\": [1, 2.5]}\n";
  EXPECT_NE(error_of(o, f.tok).find("holds 2.5"), std::string::npos);
  std::ofstream(o.file) << "{\"input_ids\": [1, 2], \"text\": \"x\"}\n";
  EXPECT_NE(error_of(o, f.tok).find("bad.jsonl:1: has more than one of"), std::string::npos);
}
