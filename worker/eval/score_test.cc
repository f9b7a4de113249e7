#include "worker/eval/score.h"

#include "worker/eval/gsm8k.h"
#include "worker/eval/jsonl.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using ::testing::HasSubstr;
using cohort::testing::StatusIs;

std::vector<Problem> Gsm8kProblems() {
  absl::StatusOr<std::vector<Problem>> problems =
      LoadGsm8k(DatasetPath("gsm8k/test.jsonl"), CardSettings("gsm8k"));
  EXPECT_TRUE(problems.ok()) << problems.status();
  return problems.ok() ? *problems : std::vector<Problem>{};
}

absl::StatusOr<ScoreRun> Score(const cohort::testing::TempDir& dir, const std::string& text,
                               const BenchSettings& settings) {
  std::string path = WriteFile(dir, "completions.jsonl", text);
  absl::StatusOr<std::vector<CompletionRow>> rows = ReadCompletions(path);
  if (!rows.ok()) return rows.status();
  return ScoreCompletions(*FindBench("gsm8k"), settings, Gsm8kProblems(), *rows, path);
}

TEST(ScoreTest, AcceptsEveryIdAndTextKey) {
  cohort::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(
      ScoreRun run,
      Score(dir,
            "{\"task_id\": \"0\", \"completion\": \"18\"}\n"
            "{\"id\": 1, \"response\": \"3\"}\n"
            "\n"
            "{\"problem_id\": \"2\", \"completion\": \"wrong 1\"}\n"
            "{\"idx\": 3, \"completion\": null, \"reasoning_content\": \"540\"}\n",
            CardSettings("gsm8k")));
  ASSERT_EQ(run.results.size(), 4u);
  EXPECT_TRUE(run.results[0].passed);
  EXPECT_TRUE(run.results[1].passed);
  EXPECT_FALSE(run.results[2].passed);
  // Fix-A: empty content falls back to the reasoning text.
  EXPECT_EQ(run.results[3].scored_channel, "reasoning");
  EXPECT_TRUE(run.results[3].passed);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n"], 4);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["passed"], 3);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n_expected"], 100);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n_missing_from_subset"], 96);
  EXPECT_EQ(run.results[0].prompt_digest.size(), 64u);
  EXPECT_EQ(run.results[0].scorer_version, "gsm8k_flexible/1");
}

// The protocol's rule is Python's `content if content else reasoning`: a
// content of white space is truthy, so it is scored (as no answer) and the
// reasoning is not read. Checked against the reference expression:
//   python3 -c 'c="   \n"; r="540"; print(repr(c if c else r))'  ->  '   \n'
TEST(ScoredTextTest, WhitespaceContentIsContentAsInPython) {
  std::string channel;
  EXPECT_EQ(ScoredText("   \n", "540", &channel), "   \n");
  EXPECT_EQ(channel, "content");
  EXPECT_EQ(ScoredText("", "540", &channel), "540");
  EXPECT_EQ(channel, "reasoning");
  EXPECT_EQ(ScoredText("", "", &channel), "");
  EXPECT_EQ(channel, "empty");
  EXPECT_EQ(ScoredText("18", "540", &channel), "18");
  EXPECT_EQ(channel, "content");
}

TEST(ScoreTest, LengthStatisticsAndSaturation) {
  cohort::testing::TempDir dir;
  BenchSettings s = CardSettings("gsm8k");  // thinking, budget 12288
  ASSERT_OK_AND_ASSIGN(
      ScoreRun run,
      Score(dir,
            "{\"idx\":0,\"completion\":\"18\",\"completion_tokens\":100,\"reasoning_tokens\":90}\n"
            "{\"idx\":1,\"completion\":\"x 4\",\"completion_tokens\":13000,\"reasoning_tokens\":12288}\n"
            "{\"idx\":2,\"completion\":\"x 5\",\"completion_tokens\":300,\"finish_reason\":\"length\"}\n"
            "{\"idx\":3,\"completion\":\"540\",\"completion_tokens\":200}\n",
            s));
  const nlohmann::json len = ScoreSummaryToJson(run.summary)["length"];
  EXPECT_EQ(len["completion_tokens"]["p50"], 250);  // median of 100,200,300,13000
  EXPECT_EQ(len["completion_tokens"]["p90"], 13000);
  EXPECT_EQ(len["completion_tokens"]["max"], 13000);
  EXPECT_EQ(len["completion_chars"]["max"], 3);
  EXPECT_EQ(len["budget"]["at_or_over"], 2);
  EXPECT_EQ(len["budget"]["share_at_or_over"], 0.5);
  EXPECT_EQ(len["budget"]["saturated_and_failed"], 2);
  EXPECT_EQ(len["mean_completion_tokens_pass"], 150.0);
  EXPECT_EQ(len["mean_completion_tokens_fail"], 6650.0);
  EXPECT_EQ(len["finish_reasons"]["length"], 1);
  EXPECT_EQ(len["finish_reasons"]["None"], 3);
}

// Journal rows of problems whose request failed for good (worker/llama
// result_log.h) are server errors: counted apart, never passed, not in the
// length statistics, and their verdict rows carry the error (VERDICT_ERROR).
TEST(ScoreTest, ServerErrorsAreCountedApartFromWrongAnswers) {
  cohort::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(
      ScoreRun run,
      Score(dir,
            "{\"idx\":0,\"completion\":\"18\",\"completion_tokens\":10}\n"
            "{\"idx\":1,\"completion\":\"wrong 1\",\"completion_tokens\":20}\n"
            "{\"idx\":2,\"completion\":\"\",\"finish_reason\":\"error\","
            "\"error_code\":\"INTERNAL\",\"error\":\"llama-server HTTP 500 server_error: The "
            "model produced output that does not match the expected peg-native format (after 2 "
            "attempts)\",\"error_kind\":\"500 peg-native format\",\"error_message\":\"The model "
            "produced output that does not match the expected peg-native format\"}\n"
            "{\"idx\":3,\"completion\":\"\",\"finish_reason\":\"error\","
            "\"error_kind\":\"500 peg-native format\",\"error_message\":\"The model produced "
            "output that does not match the expected peg-native format\"}\n"
            "{\"idx\":4,\"completion\":\"\",\"finish_reason\":\"error\","
            "\"error_code\":\"OUT_OF_RANGE\",\"error\":\"request (3010 tokens) exceeds\"}\n",
            CardSettings("gsm8k")));
  ASSERT_EQ(run.results.size(), 5u);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n"], 5);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["passed"], 1);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["accuracy"], 0.2);  // the protocol divides by the intended n
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["server_errors"], 3);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["server_error_kinds"],
            nlohmann::json({{"500 peg-native format", 2}, {"OUT_OF_RANGE", 1}}));
  EXPECT_FALSE(run.results[1].server_error());  // a wrong answer
  EXPECT_TRUE(run.results[2].server_error());
  EXPECT_FALSE(run.results[2].passed);
  EXPECT_EQ(run.results[2].error_message,
            "The model produced output that does not match the expected peg-native format");
  EXPECT_EQ(run.results[4].error_message, "request (3010 tokens) exceeds");
  nlohmann::json row = ResultToJson(run.results[2]);
  EXPECT_EQ(row["error_kind"], "500 peg-native format");
  EXPECT_TRUE(row["error"].is_string());
  EXPECT_FALSE(ResultToJson(run.results[1]).contains("error"));
  const nlohmann::json len = ScoreSummaryToJson(run.summary)["length"];
  EXPECT_EQ(len["completion_chars"]["n"], 2);
  EXPECT_EQ(len["empty_completions"], 0);
  EXPECT_EQ(len["finish_reasons"].count("error"), 0u);
}

// The worker reads the rows `score --out` wrote back into the same struct
// (ResultFromJson) and sends their text as the stored record: line, struct
// and line again must agree, server errors, details and absent token counts
// included.
TEST(ScoreTest, AResultRowReadsBackToTheSameRowAndLine) {
  cohort::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(
      ScoreRun run,
      Score(dir,
            "{\"idx\":0,\"completion\":\"18\",\"completion_tokens\":10,"
            "\"reasoning\":\"think \\u00e9\",\"finish_reason\":\"stop\"}\n"
            "{\"idx\":1,\"completion\":\"wrong 1\"}\n"
            "{\"idx\":2,\"completion\":\"\",\"finish_reason\":\"error\","
            "\"error_kind\":\"500 peg-native format\",\"error_message\":\"bad format\"}\n",
            CardSettings("gsm8k")));
  ASSERT_EQ(run.results.size(), 3u);
  for (const ProblemResult& written : run.results) {
    const std::string line = ResultToLine(written);
    ASSERT_OK_AND_ASSIGN(ProblemResult read, ResultFromJson(nlohmann::json::parse(line)));
    EXPECT_EQ(ResultToLine(read), line);
    EXPECT_EQ(read.id, written.id);
    EXPECT_EQ(read.passed, written.passed);
    EXPECT_EQ(read.server_error(), written.server_error());
    EXPECT_EQ(read.completion_tokens, written.completion_tokens);
    EXPECT_EQ(read.detail, written.detail);
  }
  EXPECT_FALSE(ResultFromJson(nlohmann::json::parse(ResultToLine(run.results[1])))
                   ->completion_tokens.has_value());
}

TEST(ScoreTest, AResultRowOfTheWrongShapeNamesTheField) {
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse(R"({"index": 1})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("result row.id is missing")));
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse(R"({"id": "a", "passed": "yes"})")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("result row.passed is string, not true or false")));
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse(R"({"id": "a", "completion_tokens": 1.5})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("completion_tokens")));
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse(R"({"id": "a", "error": "x"})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("error_kind")));
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse("[1]")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an object")));
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse(R"({"id": "a", "index": 4294967296})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(ResultFromJson(nlohmann::json::parse(R"({"id": "a", "detail": [1]})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("result row.detail")));
}

TEST(ScoreTest, NoServerErrorsIsZero) {
  cohort::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(ScoreRun run, Score(dir, "{\"idx\":0,\"completion\":\"18\"}\n",
                                           CardSettings("gsm8k")));
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["server_errors"], 0);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["server_error_kinds"], nlohmann::json::object());
}

TEST(ScoreTest, BadInputNamesFileAndLine) {
  cohort::testing::TempDir dir;
  BenchSettings s = CardSettings("gsm8k");
  EXPECT_THAT(Score(dir, "{\"idx\":0,\"completion\":\"1\"}\n{oops\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("completions.jsonl:2: not valid JSON")));
  EXPECT_THAT(Score(dir, "{\"task_id\":\"nope\",\"completion\":\"1\"}\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("completions.jsonl:1: completion for unknown problem id 'nope'")));
  EXPECT_THAT(Score(dir, "{\"idx\":5000,\"completion\":\"1\"}\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown problem idx 5000")));
  EXPECT_THAT(Score(dir, "{\"idx\":0,\"completion\":\"1\"}\n{\"id\":\"0\",\"completion\":\"2\"}\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("completions.jsonl:2: second completion")));
  EXPECT_THAT(Score(dir, "{\"idx\":0}\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":1: no 'completion'")));
  EXPECT_THAT(Score(dir, "{\"completion\":\"1\"}\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":1: no problem id")));
  EXPECT_THAT(Score(dir, "[1]\n", s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":1: expected a JSON object")));
  EXPECT_THAT(ReadCompletions(dir.Join("missing.jsonl")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.jsonl")));
}

TEST(ScoreTest, GzipDatasetsAreRead) {
  // HumanEval ships gzipped; the reader is shared by every loader.
  ASSERT_OK_AND_ASSIGN(std::vector<JsonLine> rows,
                       ReadJsonLines(DatasetPath("humaneval/HumanEval.jsonl.gz")));
  EXPECT_EQ(rows.size(), 164u);
  cohort::testing::TempDir dir;
  std::string bad = WriteFile(dir, "x.jsonl.gz", "\x1f\x8b not really gzip");
  EXPECT_THAT(ReadJsonLines(bad), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gzip")));
}

}  // namespace
}  // namespace cohort::worker::eval

namespace cohort::worker::eval {
namespace {

// Scorers are total: hostile completions give a verdict, never a crash
// (fuzzers will be pointed at the extractors; this is the smoke version).
TEST(ScoreTest, ScorersAreTotalOnHostileInput) {
  std::string random(4096, '\0');
  uint32_t state = 12345;
  for (char& c : random) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  const std::vector<std::string> inputs = {
      "", random, std::string(200000, '{'), std::string(100000, '('),
      "\\boxed{" + std::string(5000, '{'), "\\boxed", "\\fbox{", "$$$$", "\xF0\x9F",
      std::string(50000, '*') + "\n" + std::string(50000, '-'), "******\n\n***\n\n",
      "\\frac{\\sqrt[\\sqrt[\\sqrt[}}}", "Answer: " + std::string(3000, '9'),
      "(((((((((1,2),3),4),5)\\cup[" + std::string(4000, ',') + ")"};
  Problem p;
  p.gold = "1";
  p.meta["options"] = {"a", "b", "c", "d"};
  p.meta["instruction_id_list"] = {"keywords:existence", "length_constraints:number_sentences",
                                   "detectable_format:json_format"};
  p.meta["kwargs"] = {{{"keywords", {"(", "[a-"}}},
                      {{"num_sentences", 3}, {"relation", "at least"}},
                      nlohmann::json::object()};
  for (const BenchSpec& bench : AllBenches()) {
    BenchSettings s = CardSettings(bench.name);
    for (const std::string& input : inputs) {
      Verdict v = bench.score(p, input, s);
      EXPECT_FALSE(v.rule.empty()) << bench.name;
    }
  }
}

}  // namespace
}  // namespace cohort::worker::eval
