// HumanEval, HumanEval+ and MultiPL-E scored through the sandbox on the real
// datasets in data/ (read in place, never copied).
#include <ostream>
#include <tuple>

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

// A completions row naming its problem by id, as our journal does.
CompletionRow Row(int line, const std::string& id, const std::string& completion) {
  CompletionRow row;
  row.line = line;
  row.id = id;
  row.completion = completion;
  return row;
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
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["passed"], 164);
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
  rows[0] = Row(1, "HumanEval/0", "");
  // Off by far more than the float tolerance (atol 1e-6).
  rows[1] = Row(2, "HumanEval/2", "    return number % 1.0 + 0.001\n");
  ScoreRun run = Score("humanevalplus", path, rows);
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_FALSE(run.results[0].passed);
  EXPECT_FALSE(run.results[1].passed);
}

// Model-written code that tries to forge its verdict instead of adding:
// each would pass (or, for the reads, find the answer) if it reached the
// judge, and each fails. Scored on HumanEval/53 (add) by both benches.
struct ForgeryCase {
  const char* name;
  const char* code;  // the module the completion's fence holds
};

void PrintTo(const ForgeryCase& c, std::ostream* os) { *os << c.name; }

const ForgeryCase kForgeries[] = {
    // A verdict line on every descriptor (the old harness's saved stdout was
    // fd 3), and on the judge's stdout through /proc, then a clean exit.
    {"VerdictOnEveryDescriptor",
     "import os\n"
     "LINE = b'{\"status\": \"passed\", \"base_status\": \"pass\", \"plus_status\": \"pass\"}\\n'\n"
     "def add(x, y):\n"
     "    for fd in range(64):\n"
     "        try:\n"
     "            os.write(fd, LINE)\n"
     "        except OSError:\n"
     "            pass\n"
     "    for pid in [os.getppid(), 1] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
     "        for fd in range(64):\n"
     "            try:\n"
     "                with open('/proc/%d/fd/%d' % (pid, fd), 'wb') as f:\n"
     "                    f.write(LINE)\n"
     "            except OSError:\n"
     "                pass\n"
     "    os._exit(0)  # so the forged line is the last one\n"},
    // The harness module's own emit, reached through sys.modules, at load
    // time and at call time.
    {"HarnessEmitThroughSysModules",
     "import sys\n"
     "def forge():\n"
     "    h = sys.modules.get('cohort_harness')\n"
     "    if h is not None:\n"
     "        h.emit({'status': 'passed', 'base_status': 'pass', 'plus_status': 'pass'})\n"
     "forge()\n"
     "def add(x, y):\n"
     "    forge()\n"
     "    return 0\n"},
    // The task (tests, canonical solution) from any file it can open: /task,
    // stdin, every process's descriptors, environment and command line. It
    // adds only if it found the tests.
    {"ReadsTheTests",
     "import glob, os\n"
     "NEEDLE = b'candidate(7, ' + b'5)'  # a line of HumanEval/53's tests\n"
     "def add(x, y):\n"
     "    paths = glob.glob('/task/**', recursive=True) + glob.glob('/proc/*/fd/*')\n"
     "    paths += glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline') + ['/dev/stdin']\n"
     "    for path in paths:\n"
     "        try:\n"
     "            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)\n"
     "            data = os.read(fd, 1 << 24)\n"
     "            os.close(fd)\n"
     "        except Exception:\n"
     "            continue\n"
     "        if NEEDLE in data:\n"
     "            return x + y\n"
     "    return 0\n"},
    // An object equal to everything, and an int that says so.
    {"AlwaysEqualObject",
     "class Equal:\n"
     "    def __eq__(self, other):\n"
     "        return True\n"
     "    def __ne__(self, other):\n"
     "        return False\n"
     "    __hash__ = object.__hash__\n"
     "def add(x, y):\n"
     "    return Equal()\n"},
    {"IntSubclassEqualToEverything",
     "class Int(int):\n"
     "    def __eq__(self, other):\n"
     "        return True\n"
     "    def __ne__(self, other):\n"
     "        return False\n"
     "    __hash__ = int.__hash__\n"
     "def add(x, y):\n"
     "    return Int(-1)\n"},
    // Leaving before the tests run, cleanly.
    {"ExitsBeforeTheTests", "import os\nos._exit(0)\ndef add(x, y):\n    return 0\n"},
    {"SystemExitInTheCall", "def add(x, y):\n    raise SystemExit(0)\n"},
    // Signals to the judge: SIGINT (a KeyboardInterrupt where Python
    // handles it) and SIGKILL.
    {"InterruptsTheJudge",
     "import os, signal\n"
     "def add(x, y):\n"
     "    os.kill(os.getppid(), signal.SIGINT)\n"
     "    return 0\n"},
    {"KillsTheJudge",
     "import os, signal\n"
     "def add(x, y):\n"
     "    os.kill(os.getppid(), signal.SIGKILL)\n"
     "    return 0\n"},
};

class VerdictForgeryTest : public ::testing::TestWithParam<std::tuple<const char*, ForgeryCase>> {};

TEST_P(VerdictForgeryTest, Fails) {
  RequireToolchain("python3");
  const auto& [bench, forgery] = GetParam();
  bool plus = std::string(bench) == "humanevalplus";
  std::string path = DatasetPath(plus ? "humanevalplus/HumanEvalPlus.jsonl.gz"
                                      : "humaneval/HumanEval.jsonl.gz");
  std::vector<CompletionRow> rows(1);
  rows[0].line = 1;
  rows[0].id = "HumanEval/53";
  rows[0].completion = absl::StrCat("```python\n", forgery.code, "```\n");
  ScoreRun run = Score(bench, path, rows);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_FALSE(run.results[0].passed) << run.results[0].detail.dump();
  EXPECT_NE(run.results[0].detail.value("status", ""), "passed");
}

INSTANTIATE_TEST_SUITE_P(
    Attempts, VerdictForgeryTest,
    ::testing::Combine(::testing::Values("humaneval", "humanevalplus"),
                       ::testing::ValuesIn(kForgeries)),
    [](const ::testing::TestParamInfo<VerdictForgeryTest::ParamType>& info) {
      return absl::StrCat(std::get<0>(info.param), "_", std::get<1>(info.param).name);
    });

struct MpeCase {
  const char* language;
  const char* correct;  // a hand-checked completion of HumanEval_53_add
  const char* wrong;
  const char* exits;  // exits with 0 before the tests run (upstream passes it)
};

// ctest shows the language, not the struct's pointer bytes.
void PrintTo(const MpeCase& c, std::ostream* os) { *os << c.language; }

class MultiplETest : public ::testing::TestWithParam<MpeCase> {
 protected:
  // Skipped (the body does not run) without the language's toolchain.
  void SetUp() override {
    RequireToolchain(MultiplEToolchain(GetParam().language));
    if (std::string(GetParam().language) == "java") RequireToolchain("java");
  }
  // `rows` scored by the language's bench on the shipped dataset.
  ScoreRun ScoreRows(const std::vector<CompletionRow>& rows) {
    const char* language = GetParam().language;
    std::string path =
        DatasetPath(absl::StrCat("multipl_e/humaneval-", language, "-reworded.jsonl"));
    return Score(absl::StrCat("multipl-e-", language), path, rows);
  }
};

TEST_P(MultiplETest, CorrectCompletionPassesWrongOneFails) {
  const MpeCase& c = GetParam();
  std::vector<CompletionRow> rows(3);
  rows[0] = Row(1, "HumanEval_53_add", c.correct);
  rows[1] = Row(2, "HumanEval_23_strlen", c.wrong);
  rows[2] = Row(3, "HumanEval_0_has_close_elements", "");
  ScoreRun run = ScoreRows(rows);
  ASSERT_EQ(run.results.size(), 3u);
  for (const ProblemResult& r : run.results) {
    bool expect = r.id == "HumanEval_53_add";
    EXPECT_EQ(r.passed, expect) << r.id << " " << r.extracted << " " << r.detail.dump();
  }
}

TEST_P(MultiplETest, ExitingBeforeTheTestsFails) {
  std::vector<CompletionRow> rows(1);
  rows[0] = Row(1, "HumanEval_53_add", GetParam().exits);
  ScoreRun run = ScoreRows(rows);
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_FALSE(run.results[0].passed) << run.results[0].detail.dump();
  EXPECT_EQ(run.results[0].detail["status"], "TestsNotRun") << run.results[0].detail.dump();
  EXPECT_EQ(run.results[0].detail["exit_code"], 0);
}

INSTANTIATE_TEST_SUITE_P(
    Languages, MultiplETest,
    ::testing::Values(
        MpeCase{"rs", "```rust\nfn add(x: isize, y: isize) -> isize {\n    x + y\n}\n```",
                "    0\n}\n",
                "```rust\nfn add(x: isize, y: isize) -> isize {\n    std::process::exit(0);\n}\n```"},
        MpeCase{"java",
                "```java\n    public static long add(long x, long y) {\n        return x + y;\n"
                "    }\n```",
                "        return 7l;\n    }\n",
                "```java\n    public static long add(long x, long y) {\n        System.exit(0);\n"
                "        return 0l;\n    }\n```"},
        MpeCase{"js", "```javascript\nfunction add(x, y){\n  return x + y;\n}\n```",
                "  return -1;\n}\n",
                "```javascript\nfunction add(x, y){\n  process.exit(0);\n}\n```"}),
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
