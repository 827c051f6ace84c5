#include "eval/benchmarks.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>

#include "core/error.h"
#include "temp_path.h"

using namespace lowbit;
using namespace lowbit::eval;

namespace {
const char* kHellaSwag =
    "Roof shingle removal: A man is sitting on a roof. he\n3\nis using wrap.\nis ripping tiles off.\n"
    "is holding a cube.\nstarts pulling up roofing.\n"
    "Clean and jerk: A lady walks to a barbell. the lady\n0\nswings.\npulls the barbell.\npulls a rope.\nstands.\n";
const char* kWinograndeCsv =
    "0,Sarah was a better surgeon than Maria so _ got the easier cases.,Sarah,Maria,2\n"
    "1,\"They worried the wine would ruin the bed, but the _ was fine.\",blanket,bed,1\n"
    "\n";
const char* kWinograndeJsonl =
    "{\"qID\": \"a\", \"sentence\": \"Sarah was a better surgeon than Maria so _ got the easier cases.\", "
    "\"option1\": \"Sarah\", \"option2\": \"Maria\", \"answer\": \"2\"}\n"
    "{\"qID\": \"b\", \"sentence\": \"They worried the wine would ruin the bed, but the _ was fine.\", "
    "\"option1\": \"blanket\", \"option2\": \"bed\", \"answer\": \"1\"}\n";
}  // namespace

TEST(Benchmarks, HellaSwagTextIsSixLinesATask) {
  const auto t = parse_hellaswag(kHellaSwag, "hs.txt");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].context, "Roof shingle removal: A man is sitting on a roof. he");
  EXPECT_EQ(t[0].gold, 3);
  ASSERT_EQ(t[0].choices.size(), 4u);
  EXPECT_EQ(t[0].choices[3], "starts pulling up roofing.");
  EXPECT_EQ(t[1].index, 1u);
  EXPECT_EQ(t[1].gold, 0);
  EXPECT_TRUE(t[1].after.empty());
  // CRLF line ends read as LF.
  std::string crlf;
  for (const char* c = kHellaSwag; *c; ++c) crlf += *c == '\n' ? std::string("\r\n") : std::string(1, *c);
  EXPECT_EQ(parse_hellaswag(crlf, "crlf.txt")[0].choices[1], "is ripping tiles off.");
}

TEST(Benchmarks, MalformedHellaSwagIsAUserErrorNamingTheLine) {
  EXPECT_THROW(parse_hellaswag("", "hs.txt"), UserError);
  EXPECT_THROW(parse_hellaswag("ctx\n1\na\nb\nc\n", "hs.txt"), UserError);  // 5 lines
  try {
    parse_hellaswag("ctx\n4\na\nb\nc\nd\n", "hs.txt");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("hs.txt:2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_hellaswag("ctx\nx\na\nb\nc\nd\n", "hs.txt"), UserError);
}

TEST(Benchmarks, WinograndeCsvAndJsonlGiveTheSameTasks) {
  const auto csv = parse_winogrande_csv(kWinograndeCsv, "w.csv");
  const auto jsonl = parse_winogrande_jsonl(kWinograndeJsonl, "w.jsonl");
  ASSERT_EQ(csv.size(), 2u);
  ASSERT_EQ(jsonl.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(csv[i].context, jsonl[i].context);
    EXPECT_EQ(csv[i].after, jsonl[i].after);
    EXPECT_EQ(csv[i].choices, jsonl[i].choices);
    EXPECT_EQ(csv[i].gold, jsonl[i].gold);
  }
  EXPECT_EQ(csv[0].context, "Sarah was a better surgeon than Maria so ");
  EXPECT_EQ(csv[0].after, " got the easier cases.");
  EXPECT_EQ(csv[0].gold, 1);
  EXPECT_EQ(csv[1].context, "They worried the wine would ruin the bed, but the ");  // quotes dropped
  EXPECT_EQ(csv[1].choices[0], "blanket");
  EXPECT_EQ(csv[1].gold, 0);
}

TEST(Benchmarks, MalformedWinograndeIsAUserError) {
  EXPECT_THROW(parse_winogrande_csv("0,no blank here.,a,b,1\n", "w.csv"), UserError);
  EXPECT_THROW(parse_winogrande_csv("0,the _ one.,a,b,3\n", "w.csv"), UserError);
  EXPECT_THROW(parse_winogrande_csv("0,the _ one.,a\n", "w.csv"), UserError);
  EXPECT_THROW(parse_winogrande_csv("\n\n", "w.csv"), UserError);
  EXPECT_THROW(parse_winogrande_jsonl("{\"sentence\": \"the _ one\", \"option1\": \"a\"}\n", "w.jsonl"), UserError);
  EXPECT_THROW(parse_winogrande_jsonl("{\"sentence\": \"the _ one\", \"option1\": \"a\", \"option2\": \"b\", "
                                      "\"answer\": \"\"}\n",
                                      "w.jsonl"),
               UserError);  // the unlabelled test split
  EXPECT_THROW(parse_winogrande_jsonl("not json\n", "w.jsonl"), UserError);
}

TEST(Benchmarks, ReadTasksPicksTheFormatAndFindsFilesInADataFolder) {
  const auto dir = fixtures::temp_path("benchmarks-data");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "winogrande");
  std::ofstream(dir / "hellaswag_val_full.txt") << kHellaSwag;
  std::ofstream(dir / "winogrande" / "dev.jsonl") << kWinograndeJsonl;
  EXPECT_EQ(find_task_file(Benchmark::HellaSwag, dir), dir / "hellaswag_val_full.txt");
  EXPECT_EQ(find_task_file(Benchmark::Winogrande, dir), dir / "winogrande" / "dev.jsonl");
  EXPECT_EQ(read_tasks(Benchmark::Winogrande, dir / "winogrande" / "dev.jsonl").size(), 2u);
  std::ofstream(dir / "winogrande" / "winogrande-debiased-eval.csv") << kWinograndeCsv;
  EXPECT_EQ(find_task_file(Benchmark::Winogrande, dir), dir / "winogrande" / "winogrande-debiased-eval.csv");
  EXPECT_THROW(find_task_file(Benchmark::HellaSwag, dir / "winogrande"), UserError);
  EXPECT_THROW(read_tasks(Benchmark::HellaSwag, dir / "missing.txt"), UserError);
  std::filesystem::remove_all(dir);
}

TEST(Benchmarks, TaskNames) {
  const auto both = parse_benchmarks("hellaswag,winogrande");
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1], Benchmark::Winogrande);
  EXPECT_THROW(parse_benchmarks("hellaswag,mmlu"), UserError);
  EXPECT_THROW(parse_benchmarks("hellaswag,hellaswag"), UserError);
  EXPECT_THROW(parse_benchmarks(""), UserError);
  EXPECT_EQ(to_string(parse_benchmark("winogrande")), "winogrande");
}

TEST(Benchmarks, LlamaCppSelectionIsReproducibleAndPrefixStable) {
  for (Benchmark b : {Benchmark::HellaSwag, Benchmark::Winogrande}) {
    const auto all = llama_cpp_selection(b, 50, 0);
    ASSERT_EQ(all.size(), 50u);
    EXPECT_EQ(all[7], 7u);  // no limit: file order
    const auto ten = llama_cpp_selection(b, 50, 10), five = llama_cpp_selection(b, 50, 5);
    ASSERT_EQ(ten.size(), 10u);
    EXPECT_EQ(std::set<size_t>(ten.begin(), ten.end()).size(), 10u);  // no task twice
    EXPECT_TRUE(std::equal(five.begin(), five.end(), ten.begin())) << "the first N of a longer run";
    EXPECT_NE(ten, std::vector<size_t>(all.begin(), all.begin() + 10));  // randomised, as llama.cpp
  }
  // Winogrande keeps file order when the limit covers the file; HellaSwag always draws.
  EXPECT_EQ(llama_cpp_selection(Benchmark::Winogrande, 20, 20)[3], 3u);
  const auto hs = llama_cpp_selection(Benchmark::HellaSwag, 20, 100);
  EXPECT_EQ(hs.size(), 20u);
  EXPECT_EQ(std::set<size_t>(hs.begin(), hs.end()).size(), 20u);
#ifdef __GLIBCXX__
  // The written-out draw equals libstdc++'s uniform_int_distribution, which llama.cpp uses.
  std::mt19937 rng(1);
  std::vector<size_t> left(300), expect;
  for (size_t i = 0; i < left.size(); ++i) left[i] = i;
  for (int i = 0; i < 40; ++i) {
    std::uniform_int_distribution<size_t> dist(0, left.size() - 1);
    const size_t k = dist(rng);
    expect.push_back(left[k]);
    left.erase(left.begin() + std::ptrdiff_t(k));
  }
  EXPECT_EQ(llama_cpp_selection(Benchmark::HellaSwag, 300, 40), expect);
#endif
}
