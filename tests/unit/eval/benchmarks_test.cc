#include "eval/benchmarks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
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
  EXPECT_THROW(parse_benchmarks("hellaswag,piqa"), UserError);
  EXPECT_EQ(parse_benchmarks("arc-easy,arc-challenge,mmlu,mmlu:5shot").back(), Benchmark::Mmlu5Shot);
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

namespace {
const char* kArc =
    "{\"id\":\"a\",\"question\":{\"stem\":\"Which is a gas?\",\"choices\":[{\"text\":\"ice\",\"label\":\"A\"},"
    "{\"text\":\"steam\",\"label\":\"B\"},{\"text\":\"rock\",\"label\":\"C\"}]},\"answerKey\":\"B\"}\n"
    "\n"
    "{\"id\":\"b\",\"question\":{\"stem\":\"Pick four.\",\"choices\":[{\"text\":\"1\",\"label\":\"1\"},"
    "{\"text\":\"2\",\"label\":\"2\"},{\"text\":\"3\",\"label\":\"3\"},{\"text\":\"4\",\"label\":\"4\"},"
    "{\"text\":\"5\",\"label\":\"5\"}]},\"answerKey\":\"4\"}\n";
// Quoted fields with commas, doubled quotes and a newline, CRLF line ends.
const char* kMmluCsv =
    "What is 1+1?,1,2,3,4,B\r\n"
    "\"Statement 1 | a, b.\nStatement 2 | \"\"c\"\".\",\"True, True\",\"False, False\",x,y,D\r\n";

std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no UserError";
}
}  // namespace

TEST(Benchmarks, ArcJsonlAsLmEvalsPrompt) {
  const auto t = parse_arc_jsonl(kArc, "arc.jsonl");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].context, "Question: Which is a gas?\nAnswer:");
  EXPECT_EQ(t[0].choices, (std::vector<std::string>{"ice", "steam", "rock"}));  // 3 choices
  EXPECT_EQ(t[0].gold, 1);
  EXPECT_EQ(t[1].index, 1u);
  EXPECT_EQ(t[1].choices.size(), 5u);  // numeric labels, 5 choices
  EXPECT_EQ(t[1].gold, 3);
}

TEST(Benchmarks, MalformedArcIsAUserErrorNamingTheLine) {
  const std::string ok = "{\"question\":{\"stem\":\"q\",\"choices\":[{\"text\":\"a\",\"label\":\"A\"},"
                         "{\"text\":\"b\",\"label\":\"B\"}]},\"answerKey\":\"A\"}\n";
  EXPECT_EQ(parse_arc_jsonl(ok, "a.jsonl").size(), 1u);
  auto bad = [&](const std::string& from, const std::string& to) {
    std::string s = ok;
    s.replace(s.find(from), from.size(), to);
    return message([&] { parse_arc_jsonl(ok + s, "a.jsonl"); });
  };
  EXPECT_NE(bad("\"answerKey\":\"A\"", "\"answerKey\":\"E\"").find("a.jsonl:2: answerKey 'E'"), std::string::npos);
  EXPECT_NE(bad("\"stem\":\"q\"", "\"stem\":3").find("a.jsonl:2:"), std::string::npos);
  EXPECT_NE(bad("\"text\":\"a\",", "").find("a.jsonl:2:"), std::string::npos);
  EXPECT_NE(bad("{\"question\"", "[{\"question\"").find("a.jsonl:2:"), std::string::npos);  // not JSON
  EXPECT_NE(bad("\"choices\":[", "\"choices\":[[],").find("a.jsonl:2:"), std::string::npos);
  EXPECT_NE(bad("\"question\":{", "\"question\":[{").find("a.jsonl:2:"), std::string::npos);
  EXPECT_THROW(parse_arc_jsonl("\n", "a.jsonl"), UserError);
  EXPECT_THROW(parse_arc_jsonl("{\"question\":{\"stem\":\"q\",\"choices\":[{\"text\":\"a\",\"label\":\"A\"}]},"
                               "\"answerKey\":\"A\"}",
                               "a.jsonl"),
               UserError);  // one choice
}

TEST(Benchmarks, MmluCsvIsRfc4180) {
  const auto q = parse_mmlu_csv(kMmluCsv, "m.csv");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].question, "What is 1+1?");
  EXPECT_EQ(q[0].answer, 1);
  EXPECT_EQ(q[1].question, "Statement 1 | a, b.\nStatement 2 | \"c\".");
  EXPECT_EQ(q[1].choices[0], "True, True");
  EXPECT_EQ(q[1].choices[3], "y");
  EXPECT_EQ(q[1].answer, 3);
}

TEST(Benchmarks, MalformedMmluIsAUserErrorNamingTheLine) {
  const std::string two = "q,a,b,c,d,A\n\"multi\nline\",a,b,c,d,A\n";
  EXPECT_EQ(parse_mmlu_csv(two, "m.csv").size(), 2u);
  // The record's first line: line 4 after a two-line record.
  EXPECT_NE(message([&] { parse_mmlu_csv(two + "q,a,b,c,d,E\n", "m.csv"); }).find("m.csv:4: answer 'E'"),
            std::string::npos);
  EXPECT_NE(message([&] { parse_mmlu_csv(two + "q,a,b,c,A\n", "m.csv"); }).find("m.csv:4: 5 fields"),
            std::string::npos);
  EXPECT_NE(message([&] { parse_mmlu_csv(two + "\"q,a,b,c,d,A\n", "m.csv"); }).find("m.csv:4:"), std::string::npos);
  EXPECT_NE(message([&] { parse_mmlu_csv("q\"x,a,b,c,d,A\n", "m.csv"); }).find("m.csv:1:"), std::string::npos);
  EXPECT_THROW(parse_mmlu_csv("", "m.csv"), UserError);
}

TEST(Benchmarks, MmluPromptIsLmEvals) {
  MmluQuestion shot{" Two? ", {"1", "2", "3", "4"}, 1}, q{"Three?", {"3", "4", "5", "6"}, 0};
  EXPECT_EQ(mmlu_prompt("high_school_math", {}, q),
            "The following are multiple choice questions (with answers) about high school math.\n\n"
            "Three?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:");
  EXPECT_EQ(mmlu_prompt("x", {shot, shot}, q),
            "The following are multiple choice questions (with answers) about x.\n\n"
            "Two?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
            "Two?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
            "Three?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:");
}

TEST(Benchmarks, ReadMmluFolderWithFewShotExamples) {
  const auto dir = fixtures::temp_path("benchmarks-mmlu");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "mmlu" / "test");
  std::filesystem::create_directories(dir / "mmlu" / "dev");
  std::ofstream(dir / "mmlu" / "test" / "b_subject_test.csv") << kMmluCsv;
  std::ofstream(dir / "mmlu" / "test" / "a_test.csv") << "q1,a,b,c,d,C\n";
  std::ofstream(dir / "mmlu" / "test" / "notes.txt") << "ignored";
  EXPECT_EQ(find_task_file(Benchmark::Mmlu5Shot, dir), dir / "mmlu");
  const auto zero = read_tasks(Benchmark::Mmlu, dir / "mmlu");
  ASSERT_EQ(zero.size(), 3u);
  EXPECT_EQ(zero[0].subject, "a");  // subjects in name order
  EXPECT_EQ(zero[0].gold, 2);
  EXPECT_EQ(zero[2].subject, "b_subject");
  EXPECT_EQ(zero[2].index, 2u);
  EXPECT_EQ(zero[1].choices, (std::vector<std::string>{"A", "B", "C", "D"}));
  // 5-shot needs each subject's dev file with at least 5 questions.
  EXPECT_NE(message([&] { read_tasks(Benchmark::Mmlu5Shot, dir / "mmlu"); }).find("a_dev.csv"), std::string::npos);
  std::ofstream(dir / "mmlu" / "dev" / "a_dev.csv") << "d1,a,b,c,d,A\nd2,a,b,c,d,B\n";
  EXPECT_NE(message([&] { read_tasks(Benchmark::Mmlu5Shot, dir / "mmlu"); }).find("fewer than 5"), std::string::npos);
  std::string six;
  for (int i = 0; i < 6; ++i) six += "d" + std::to_string(i) + ",a,b,c,d,A\n";
  std::ofstream(dir / "mmlu" / "dev" / "a_dev.csv") << six;
  std::ofstream(dir / "mmlu" / "dev" / "b_subject_dev.csv") << six;
  const auto five = read_tasks(Benchmark::Mmlu5Shot, dir / "mmlu");
  ASSERT_EQ(five.size(), 3u);
  EXPECT_NE(five[0].context.find("d4\nA. a"), std::string::npos);
  EXPECT_EQ(five[0].context.find("d5\n"), std::string::npos);  // only the first 5
  EXPECT_TRUE(five[0].context.ends_with("q1\nA. a\nB. b\nC. c\nD. d\nAnswer:"));
  EXPECT_THROW(find_task_file(Benchmark::Mmlu, dir / "mmlu" / "dev"), UserError);
  std::filesystem::remove_all(dir);
}

TEST(Benchmarks, SeededSelectionIsReproducibleAndInFileOrder) {
  const auto a = seeded_selection(1000, 50), b = seeded_selection(1000, 50);
  ASSERT_EQ(a.size(), 50u);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 50u);
  EXPECT_GT(a.back(), 500u);  // drawn over the whole file, not its head
  EXPECT_EQ(seeded_selection(10, 0).size(), 10u);
  EXPECT_EQ(seeded_selection(10, 30)[9], 9u);
  EXPECT_EQ(select_tasks(Benchmark::ArcEasy, 1000, 50), a);
  EXPECT_EQ(select_tasks(Benchmark::HellaSwag, 1000, 50), llama_cpp_selection(Benchmark::HellaSwag, 1000, 50));
}
