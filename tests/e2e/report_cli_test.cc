// `lowbit eval --report` on generated tiny models: the HTML file is written whole, from the same
// numbers as --json, with the checkpoint's weight errors; a bad path is one error and no file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "io/file_util.h"
#include "run_cli.h"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

using e2e::Result;
using e2e::run;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

class ReportCli : public e2e::RootTest {
 protected:
  void SetUp() override {
    RootTest::SetUp();
    fs::create_directories(root / "out");
    model = e2e::write_byte_model(root / "model");
    text = e2e::write_fox_text(root / "text.txt", 1500);
  }
  fs::path quantized() {
    const fs::path q = root / "q4";
    const Result r = run("quantize " + model.string() + " -o " + q.string() + " --scheme W4A16 --ignore lm_head");
    EXPECT_EQ(r.rc, 0) << r.out;
    return q;
  }
  // Nothing but `expected` in the output folder (no temporary left behind).
  void expect_only(const std::vector<std::string>& expected) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(root / "out")) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, expected);
  }
  fs::path model, text;
};

}  // namespace

TEST_F(ReportCli, WritesOnePageFromTheJsonNumbersWithTheCheckpointsWeightErrors) {
  const fs::path q = quantized();
  const fs::path html = root / "out" / "report.html", json = root / "out" / "report.json";
  const Result r = run("eval " + q.string() + " --base " + model.string() + " --text " + text.string() +
                       " --ctx 64 --report " + html.string() + " --json " + json.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  expect_only({"report.html", "report.json"});
  const std::string page = io::read_text_file(html);
  const auto j = nlohmann::json::parse(io::read_text_file(json));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>\n"), std::string::npos);
  for (const char* id : {"verdicts", "kld-distribution", "kld-along-text", "weight-error", "inputs", "recipe"})
    EXPECT_EQ(count(page, std::string("<section id=\"") + id + "\">"), 1u) << id;
  EXPECT_EQ(count(page, "<section id=\"benchmarks\">"), 0u);  // no --task
  EXPECT_EQ(count(page, "<section id=\"custom\">"), 0u);
  // --json gained what the plots draw: the histogram holds every scored token, one mean per chunk.
  int64_t binned = 0;
  for (const auto& c : j["kld_histogram"]["counts"]) binned += c.get<int64_t>();
  EXPECT_EQ(binned, j["tokens_scored"].get<int64_t>());
  EXPECT_EQ(j["kld_per_chunk"].size(), j["chunks"].get<size_t>());
  EXPECT_EQ(j["text_sha256"], io::file_sha256(text));
  EXPECT_EQ(j["lowbit"]["version"], LOWBIT_VERSION);
  EXPECT_EQ(j["recipe"], io::read_text_file(q / "recipe.yaml"));  // the checkpoint's recipe, as written
  // The page's numbers are the JSON's.
  std::smatch m;
  const std::string ppl_row = page.substr(page.find("<tr data-metric=\"ppl\">"), 400);
  ASSERT_TRUE(std::regex_search(ppl_row, m, std::regex(R"re(data-value="([^"]+)"[^<]*</td><td class="num" data-value="([^"]+)")re")));
  EXPECT_EQ(std::strtod(m[1].str().c_str(), nullptr), j["base_ppl"].get<double>());
  EXPECT_EQ(std::strtod(m[2].str().c_str(), nullptr), j["ppl"].get<double>());
  EXPECT_EQ(count(page, "class=\"hist-bin\""), j["kld_histogram"]["counts"].size());
  EXPECT_NE(page.find("data-points=\"" + std::to_string(j["chunks"].get<int>()) + "\""), std::string::npos);
  // The tiny model's decoder layers, one series per projection kind.
  EXPECT_EQ(count(page, "<polyline class=\"series\""), 7u);
  EXPECT_NE(page.find("<td>" + text.string() + "  sha256 " + j["text_sha256"].get<std::string>() + "</td>"),
            std::string::npos);
}

TEST_F(ReportCli, WithoutAQuantizationReportTheWeightPlotIsLeftOut) {
  const fs::path html = root / "out" / "self.html";
  const Result r = run("eval " + model.string() + " --base " + model.string() + " --text " + text.string() +
                       " --ctx 64 --report " + html.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  const std::string page = io::read_text_file(html);
  EXPECT_EQ(count(page, "<section id=\"weight-error\">"), 0u);
  EXPECT_EQ(count(page, "<section id=\"recipe\">"), 0u);
  // A model against itself: every verdict same.
  EXPECT_EQ(count(page, "<td class=\"verdict worse\">"), 0u);
  EXPECT_EQ(count(page, "<td class=\"verdict same\">same</td>"), 4u);
}

TEST_F(ReportCli, ABadPathIsOneErrorBeforeTheRunAndLeavesNothing) {
  const std::string eval = "eval " + model.string() + " --text " + text.string() + " --ctx 64";
  const std::string missing = (root / "missing" / "r.html").string(), folder = (root / "out").string();
  const std::string ok_json = " --json " + (root / "out" / "ok.json").string();
  const std::string ok_html = " --report " + (root / "out" / "ok.html").string();
  for (const auto& [args, says] :
       {std::pair{" --report " + missing + ok_json, "--report " + missing + ": folder " + (root / "missing").string() + " does not exist"},
        std::pair{" --report " + folder + ok_json, "--report " + folder + ": is a folder, expected a file path"},
        std::pair{" --json " + (root / "missing" / "r.json").string() + ok_html,
                  "--json " + (root / "missing" / "r.json").string() + ": folder "}}) {
    const Result r = run(eval + args);
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_EQ(count(r.out, "error: "), 1u) << r.out;
    EXPECT_NE(r.out.find("error: " + says), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("PPL"), std::string::npos) << "ran before failing:\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(root / "missing"));
  expect_only({});
}

TEST_F(ReportCli, ADamagedQuantizationReportIsAnErrorBeforeTheRun) {
  const fs::path q = quantized();
  io::write_text_file(q / "quantization_report.json", "{ not json");
  const Result r = run("eval " + q.string() + " --base " + model.string() + " --text " + text.string() +
                       " --ctx 64 --report " + (root / "out" / "r.html").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("error: " + (q / "quantization_report.json").string() + ": not valid JSON"), std::string::npos)
      << r.out;
  expect_only({});
  // Without --report the file is not read.
  EXPECT_EQ(run("eval " + q.string() + " --text " + text.string() + " --ctx 64").rc, 0);
}
