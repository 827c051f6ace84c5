// `lowbit eval A B --base ORIG ...`: each checkpoint evaluated exactly as alone, one table, one JSON;
// a failing gate on any model exits 3; what cannot apply to several models is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/file_util.h"
#include "run_cli.h"

namespace fs = std::filesystem;
using namespace lowbit;
using e2e::run;

TEST(EvalSeveralCli, OneTableOfCheckpointsEachAsEvaluatedAlone) {
  const fs::path root = e2e::fresh_root();
  const fs::path model = e2e::write_byte_model(root / "model"), text = e2e::write_fox_text(root / "text.txt", 1500);
  const std::string q = " --group-size 64 --progress off --no-report -o ";
  ASSERT_EQ(run("quantize " + model.string() + " --scheme W4A16" + q + (root / "w4").string()).rc, 0);
  ASSERT_EQ(run("quantize " + model.string() + " --scheme W8A16" + q + (root / "w8").string()).rc, 0);
  const std::string opts = " --base " + model.string() + " --text " + text.string() + " --ctx 64 --threads 1";

  const fs::path all = root / "all.json", one = root / "one.json";
  auto r = run("eval " + (root / "w4").string() + " " + (root / "w8").string() + opts + " --json " + all.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(io::read_text_file(all));
  ASSERT_EQ(j["models"].size(), 2u);
  ASSERT_EQ(run("eval " + (root / "w8").string() + opts + " --json " + one.string()).rc, 0);
  const auto alone = nlohmann::json::parse(io::read_text_file(one));
  EXPECT_EQ(j["models"][1]["ppl"], alone["ppl"]);  // the same run, bit for bit
  EXPECT_EQ(j["models"][1]["mean_kld"], alone["mean_kld"]);
  EXPECT_GT(j["models"][0]["mean_kld"].get<double>(), j["models"][1]["mean_kld"].get<double>());  // 4 bits drift more
  // The table at the end: the base's line, a header, then one row per model in the order given.
  const size_t table = r.out.rfind("\nbase PPL ");
  ASSERT_NE(table, std::string::npos) << r.out;
  const size_t header = r.out.find("\nmodel ", table), w4 = r.out.find("\n" + (root / "w4").string() + " ", table),
               w8 = r.out.find("\n" + (root / "w8").string() + " ", table);
  ASSERT_NE(r.out.find("mean KLD", table), std::string::npos) << r.out;
  EXPECT_LT(header, w4) << r.out;
  EXPECT_LT(w4, w8) << r.out;
  EXPECT_NE(w8, std::string::npos) << r.out;

  // A gate that fails on one model: exit 3, every model still evaluated.
  r = run("eval " + (root / "w4").string() + " " + (root / "w8").string() + opts + " --gate 'kld<=" +
          std::to_string(j["models"][1]["mean_kld"].get<double>() * 1.01) + "'");
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("FAILS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("holds"), std::string::npos) << r.out;
  // --report names a folder with several models: one page per model, named after it, each the
  // page that model's lone run writes (the same verdict rows).
  const fs::path reports = root / "reports";
  r = run("eval " + (root / "w4").string() + " " + (root / "w8").string() + opts + " --report " + reports.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  const std::string w4_page = io::read_text_file(reports / "w4.html"), w8_page = io::read_text_file(reports / "w8.html");
  EXPECT_NE(w4_page.find("<svg"), std::string::npos);
  ASSERT_EQ(run("eval " + (root / "w8").string() + opts + " --report " + (root / "w8-alone.html").string()).rc, 0);
  const std::string alone_page = io::read_text_file(root / "w8-alone.html");
  const auto verdicts = [](const std::string& page) {  // the verdict table, without the title and date
    const size_t a = page.find("<h2>Verdicts"), b = page.find("</table>", a);
    return a == std::string::npos ? std::string() : page.substr(a, b - a);
  };
  EXPECT_FALSE(verdicts(w8_page).empty());
  EXPECT_EQ(verdicts(w8_page), verdicts(alone_page));
  EXPECT_NE(verdicts(w4_page), verdicts(w8_page));
  // A file in the way, or a page that exists: refused before any run, nothing written.
  io::write_text_file(root / "r.html", "x");
  r = run("eval " + (root / "w4").string() + " " + (root / "w8").string() + opts + " --report " +
          (root / "r.html").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("names a folder"), std::string::npos) << r.out;
  r = run("eval " + (root / "w4").string() + " " + (root / "w8").string() + opts + " --report " + reports.string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("exists"), std::string::npos) << r.out;
  // A broken model stops the table and leaves no JSON and no report folder.
  r = run("eval " + (root / "w4").string() + " " + (root / "nothing").string() + opts + " --json " +
          (root / "bad.json").string() + " --report " + (root / "bad-reports").string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("nothing"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root / "bad.json"));
  EXPECT_FALSE(fs::exists(root / "bad-reports"));
  fs::remove_all(root);
}
