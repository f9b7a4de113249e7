#include "worker/llama/result_log.h"

#include <fstream>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker::llama {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

GenerationRecord Record(const std::string& id, int index) {
  GenerationRecord r;
  r.id = id;
  r.index = index;
  r.completion = "The answer is " + id + ".";
  r.reasoning = "thinking \xE2\x80\x94 about it";
  r.finish_reason = "stop";
  r.completion_tokens = 12;
  r.prompt_tokens = 40;
  r.timings = Timings{0, 40, 1.5, 12, 20.25};
  r.attempts = 1;
  return r;
}

TEST(ResultLogTest, RecordRoundTripsThroughOneLine) {
  GenerationRecord r = Record("p1", 3);
  r.error_code = "OUT_OF_RANGE";
  r.error = "too long";
  std::string line = RecordToLine(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  ASSERT_OK_AND_ASSIGN(GenerationRecord back, RecordFromLine(line));
  EXPECT_EQ(back.id, "p1");
  EXPECT_EQ(back.index, 3);
  EXPECT_EQ(back.reasoning, r.reasoning);
  EXPECT_EQ(back.completion_tokens, 12);
  ASSERT_TRUE(back.timings.has_value());
  EXPECT_EQ(back.timings->predicted_n, 12);
  EXPECT_DOUBLE_EQ(back.timings->predicted_ms, 20.25);
  EXPECT_EQ(back.error_code, "OUT_OF_RANGE");
  // The line is a completions row `cohort-worker score` reads.
  EXPECT_THAT(line, HasSubstr("\"completion\":"));
  EXPECT_THAT(line, HasSubstr("\"reasoning_content\":"));
}

// What scoring takes of a record: the answer as it came, and a failed
// request as a server error named by its kind and the server's message,
// else by its status code and message (never an empty "wrong answer").
TEST(ResultLogTest, ForScoringIsTheAnswerWithTheFailureNamed) {
  GenerationRecord ok = Record("p1", 0);
  eval::Answer answer = ok.ForScoring();
  EXPECT_EQ(answer.completion, ok.completion);
  EXPECT_EQ(answer.reasoning, ok.reasoning);
  EXPECT_EQ(answer.completion_tokens, 12);
  EXPECT_FALSE(answer.server_error());

  GenerationRecord failed = Record("p2", 1);
  failed.completion.clear();
  failed.finish_reason = "error";
  failed.error_code = "OUT_OF_RANGE";
  failed.error = "request (3010 tokens) exceeds the slot";
  answer = failed.ForScoring();
  EXPECT_TRUE(answer.server_error());
  EXPECT_EQ(answer.error_kind, "OUT_OF_RANGE");
  EXPECT_EQ(answer.error_message, "request (3010 tokens) exceeds the slot");
  failed.error_kind = "500 peg-native format";
  failed.error_message = "The model produced output that does not match";
  answer = failed.ForScoring();
  EXPECT_EQ(answer.error_kind, "500 peg-native format");
  EXPECT_EQ(answer.error_message, "The model produced output that does not match");
  EXPECT_EQ(answer.finish_reason, "error");
}

TEST(ResultLogTest, AppendsAndResumes) {
  cohort::testing::TempDir dir;
  std::string path = dir.Join("out.jsonl");
  {
    ASSERT_OK_AND_ASSIGN(auto log, ResultLog::Open(path));
    EXPECT_TRUE(log->records().empty());
    ASSERT_OK(log->Append(Record("a", 0)));
    ASSERT_OK(log->Append(Record("b", 1)));
    EXPECT_THAT(log->Append(Record("a", 0)), StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  }
  ASSERT_OK_AND_ASSIGN(auto log, ResultLog::Open(path));
  ASSERT_EQ(log->records().size(), 2u);
  EXPECT_TRUE(log->Has("a"));
  EXPECT_TRUE(log->Has("b"));
  EXPECT_EQ(log->torn_bytes(), 0);
}

TEST(ResultLogTest, TornLastLineIsCutOff) {
  cohort::testing::TempDir dir;
  std::string path = dir.Join("out.jsonl");
  std::string whole = RecordToLine(Record("a", 0)) + "\n";
  std::string torn = RecordToLine(Record("b", 1)).substr(0, 30);
  ASSERT_OK(WriteFileAtomically(path, whole + torn));
  {
    ASSERT_OK_AND_ASSIGN(auto log, ResultLog::Open(path));
    EXPECT_EQ(log->records().size(), 1u);
    EXPECT_EQ(log->torn_bytes(), static_cast<int64_t>(torn.size()));
    ASSERT_OK(log->Append(Record("b", 1)));
  }
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(path));
  EXPECT_EQ(text, whole + RecordToLine(Record("b", 1)) + "\n");
}

TEST(ResultLogTest, UnparseableFinalLineWithNewlineIsTornToo) {
  cohort::testing::TempDir dir;
  std::string path = dir.Join("out.jsonl");
  ASSERT_OK(WriteFileAtomically(path, RecordToLine(Record("a", 0)) + "\n{\"id\": \"b\", \n"));
  ASSERT_OK_AND_ASSIGN(auto log, ResultLog::Open(path));
  EXPECT_EQ(log->records().size(), 1u);
  EXPECT_GT(log->torn_bytes(), 0);
}

TEST(ResultLogTest, DamageBeforeTheLastLineIsDataLoss) {
  cohort::testing::TempDir dir;
  std::string path = dir.Join("out.jsonl");
  ASSERT_OK(WriteFileAtomically(path, "garbage\n" + RecordToLine(Record("a", 0)) + "\n"));
  EXPECT_THAT(ResultLog::Open(path).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("line 1")));
  ASSERT_OK(WriteFileAtomically(
      path, RecordToLine(Record("a", 0)) + "\n" + RecordToLine(Record("a", 0)) + "\n"));
  EXPECT_THAT(ResultLog::Open(path).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("twice")));
}

TEST(ResultLogTest, CountsCodePoints) {
  EXPECT_EQ(CountCodePoints("abc"), 3);
  EXPECT_EQ(CountCodePoints("\xE2\x80\x94x"), 2);
  EXPECT_EQ(CountCodePoints(""), 0);
}

}  // namespace
}  // namespace cohort::worker::llama
