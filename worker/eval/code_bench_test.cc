// HumanEval, HumanEval+ and MultiPL-E scored through the sandbox on the real
// datasets in data/ (read in place, never copied).
#include <ostream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"
#include "worker/eval/humaneval.h"
#include "worker/eval/multipl_e.h"
#include "worker/eval/score.h"
#include "worker/eval/test_util.h"
#include "worker/sandbox/sandbox.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::eval {
namespace {

void RequireToolchain(const std::string& name) {
  if (!sandbox::SandboxAvailable().ok()) GTEST_SKIP() << sandbox::SandboxAvailable();
  if (!sandbox::FindToolchain(name).present) {
    GTEST_SKIP() << "toolchain " << name << " is absent (" << sandbox::FindToolchain(name).path
                 << "); install it with deploy/install-deps.sh";
  }
}

std::vector<CompletionRow> CanonicalRows(const std::string& path) {
  std::vector<CompletionRow> rows;
  absl::StatusOr<std::vector<std::string>> raw = ReadRawLines(path);
  EXPECT_TRUE(raw.ok()) << raw.status();
  for (const std::string& line : *raw) {
    nlohmann::json j = nlohmann::json::parse(line);
    CompletionRow row;
    row.line = static_cast<int>(rows.size()) + 1;
    row.id = j["task_id"];
    row.completion = j["canonical_solution"];
    rows.push_back(row);
  }
  return rows;
}

ScoreRun Score(const std::string& bench_name, const std::string& path,
               const std::vector<CompletionRow>& rows) {
  const BenchSpec* bench = FindBench(bench_name);
  EXPECT_NE(bench, nullptr);
  BenchSettings settings = CardSettings(bench_name);
  absl::StatusOr<std::vector<Problem>> problems = bench->load(path, settings);
  EXPECT_TRUE(problems.ok()) << problems.status();
  absl::StatusOr<ScoreRun> run = ScoreCompletions(*bench, settings, *problems, rows, "rows");
  EXPECT_TRUE(run.ok()) << run.status();
  return *run;
}

TEST(HumanEvalTest, AllCanonicalSolutionsPass) {
  RequireToolchain("python3");
  std::string path = DatasetPath("humaneval/HumanEval.jsonl.gz");
  ScoreRun run = Score("humaneval", path, CanonicalRows(path));
  ASSERT_EQ(run.results.size(), 164u);
  for (const ProblemResult& r : run.results) {
    EXPECT_TRUE(r.passed) << r.id << " " << r.detail.dump();
    EXPECT_EQ(r.detail["toolchain"]["path"], "/usr/bin/python3");
  }
  EXPECT_EQ(run.summary["passed"], 164);
}

TEST(HumanEvalTest, EmptyWrongAndTimeoutCompletionsFailChatCodePasses) {
  RequireToolchain("python3");
  std::string path = DatasetPath("humaneval/HumanEval.jsonl.gz");
  std::vector<CompletionRow> rows(5);
  const char* texts[] = {
      "", "    return None\n", "    while True:\n        pass\n",
      "    import os\n    os._exit(0)\n",
      "Here you go:\n```python\ndef add(x: int, y: int):\n    return x + y\n```\nDone."};
  const char* ids[] = {"HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3", "HumanEval/53"};
  for (int i = 0; i < 5; ++i) {
    rows[i].line = i + 1;
    rows[i].id = ids[i];
    rows[i].completion = texts[i];
  }
  ScoreRun run = Score("humaneval", path, rows);
  ASSERT_EQ(run.results.size(), 5u);
  EXPECT_FALSE(run.results[0].passed);
  EXPECT_FALSE(run.results[1].passed);
  EXPECT_FALSE(run.results[2].passed);
  EXPECT_EQ(run.results[2].detail["status"], "timed out") << run.results[2].detail.dump();
  EXPECT_FALSE(run.results[3].passed);
  EXPECT_TRUE(run.results[4].passed) << run.results[4].detail.dump();
  EXPECT_EQ(run.results[4].rule, "fenced_block");
}

// Every base and plus input of all 164 problems (about 25 s on 2 cores).
TEST(HumanEvalPlusTest, CanonicalSolutionsPassEveryBaseAndPlusInput) {
  RequireToolchain("python3");
  std::string path = DatasetPath("humanevalplus/HumanEvalPlus.jsonl.gz");
  std::vector<CompletionRow> rows = CanonicalRows(path);
  ASSERT_EQ(rows.size(), 164u);
  ScoreRun run = Score("humanevalplus", path, rows);
  ASSERT_EQ(run.results.size(), rows.size());
  for (const ProblemResult& r : run.results) {
    EXPECT_TRUE(r.passed) << r.id << " " << r.detail.dump();
    EXPECT_EQ(r.detail["base_status"], "pass") << r.id;
    EXPECT_EQ(r.detail["plus_status"], "pass") << r.id;
  }
}

TEST(HumanEvalPlusTest, EmptyAndWrongCompletionsFail) {
  RequireToolchain("python3");
  std::string path = DatasetPath("humanevalplus/HumanEvalPlus.jsonl.gz");
  std::vector<CompletionRow> rows(2);
  rows[0] = {1, "HumanEval/0", -1, "", false, "", "", {}, {}, "", "", ""};
  // Off by far more than the float tolerance (atol 1e-6).
  rows[1] = {2, "HumanEval/2", -1, "", false, "    return number % 1.0 + 0.001\n", "", {}, {},
             "", "", ""};
  ScoreRun run = Score("humanevalplus", path, rows);
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_FALSE(run.results[0].passed);
  EXPECT_FALSE(run.results[1].passed);
}

struct MpeCase {
  const char* language;
  const char* correct;  // a hand-checked completion of HumanEval_53_add
  const char* wrong;
};

// ctest shows the language, not the struct's pointer bytes.
void PrintTo(const MpeCase& c, std::ostream* os) { *os << c.language; }

class MultiplETest : public ::testing::TestWithParam<MpeCase> {};

TEST_P(MultiplETest, CorrectCompletionPassesWrongOneFails) {
  const MpeCase& c = GetParam();
  RequireToolchain(MultiplEToolchain(c.language));
  if (std::string(c.language) == "java") RequireToolchain("java");
  std::string path = DatasetPath(absl::StrCat("multipl_e/humaneval-", c.language,
                                              "-reworded.jsonl"));
  std::vector<CompletionRow> rows(3);
  rows[0] = {1, "HumanEval_53_add", -1, "", false, c.correct, "", {}, {}, "", "", ""};
  rows[1] = {2, "HumanEval_23_strlen", -1, "", false, c.wrong, "", {}, {}, "", "", ""};
  rows[2] = {3, "HumanEval_0_has_close_elements", -1, "", false, "", "", {}, {}, "", "", ""};
  ScoreRun run = Score(absl::StrCat("multipl-e-", c.language), path, rows);
  ASSERT_EQ(run.results.size(), 3u);
  for (const ProblemResult& r : run.results) {
    bool expect = r.id == "HumanEval_53_add";
    EXPECT_EQ(r.passed, expect) << r.id << " " << r.extracted << " " << r.detail.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Languages, MultiplETest,
    ::testing::Values(
        MpeCase{"rs", "```rust\nfn add(x: isize, y: isize) -> isize {\n    x + y\n}\n```",
                "    0\n}\n"},
        MpeCase{"java",
                "```java\n    public static long add(long x, long y) {\n        return x + y;\n"
                "    }\n```",
                "        return 7l;\n    }\n"},
        MpeCase{"js", "```javascript\nfunction add(x, y){\n  return x + y;\n}\n```",
                "  return -1;\n}\n"}),
    [](const ::testing::TestParamInfo<MpeCase>& info) { return std::string(info.param.language); });

TEST(MultiplEExtractTest, SplicesTheBodyAfterTheSignature) {
  std::string rule;
  std::string prompt = "/// doc\nfn add(x: isize, y: isize) -> isize {\n";
  EXPECT_EQ(MultiplEChatToBody(prompt, "```rust\nfn add(x: isize, y: isize) -> isize {\n    x + y\n}\n```",
                               "rs", &rule),
            "\n    x + y\n");
  EXPECT_EQ(rule, "fenced_block");
  EXPECT_EQ(MultiplEChatToBody("function f(a){\n", "function f(a){\n  return a;\n}", "js", &rule),
            "\n  return a;\n}\n");
  EXPECT_EQ(rule, "raw");
}

}  // namespace
}  // namespace cohort::worker::eval
