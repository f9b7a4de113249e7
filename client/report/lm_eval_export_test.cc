#include "client/report/lm_eval_export.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/bench.h"

namespace cohort::client::report {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace eval = worker::eval;

eval::BenchSettings CardGsm8k() {
  absl::StatusOr<eval::Profile> profile = eval::LoadProfile(eval::kDefaultProfile);
  EXPECT_TRUE(profile.ok());
  return *profile->Find("gsm8k");
}

LmEvalSuite Gsm8kSuite() {
  LmEvalSuite s;
  s.bench = "gsm8k";
  s.settings = CardGsm8k();
  s.dataset_path = cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl";
  s.dataset_digest = "sha256:" + Sha256File(s.dataset_path).value();
  return s;
}

// A stored row as a worker streams it: the problem's index and the prompt
// digest of the request it sent.
Row StoredRow(const std::string& model, int index, bool pass) {
  eval::BenchSettings settings = CardGsm8k();
  std::vector<eval::Problem> problems =
      eval::FindBench("gsm8k")->load(Gsm8kSuite().dataset_path, settings).value();
  Row row;
  row.model = model;
  row.suite = "gsm8k-3";
  row.problem_id = problems[index].id;
  row.verdict = pass ? Verdict::kPass : Verdict::kFail;
  row.completion = pass ? "So $18." : "";
  row.reasoning = pass ? "thinking" : "long thoughts ... 17";
  row.extracted_answer = pass ? "$18" : "17";
  row.prompt_digest = eval::PromptDigest(problems[index]);
  row.details_json = absl::StrCat(R"({"index": )", index,
                                  pass ? R"(, "scored_channel": "content"})"
                                       : R"(, "scored_channel": "reasoning"})");
  return row;
}

LmEvalRun ExportRun() { return {"c-1", "omk-card-2026-07", "2026-12-05T08-00-00.000000", 1.7e9}; }

TEST(LmEvalExportBuildTest, OneFolderPerModelWithResultsAndSamples) {
  std::vector<Row> rows = {StoredRow("q8", 1, false), StoredRow("q8", 0, true),
                           StoredRow("q6/x", 0, false)};
  ASSERT_OK_AND_ASSIGN(LmEvalExport out, BuildLmEvalExport(rows, {{"gsm8k-3", Gsm8kSuite()}},
                                                           ExportRun()));
  EXPECT_TRUE(out.warnings.empty());
  ASSERT_EQ(out.files.size(), 4u);
  EXPECT_EQ(out.files[0].relative_path, "q8/samples_gsm8k_2026-12-05T08-00-00.000000.jsonl");
  EXPECT_EQ(out.files[1].relative_path, "q8/results_2026-12-05T08-00-00.000000.json");
  EXPECT_EQ(out.files[2].relative_path, "q6_x/samples_gsm8k_2026-12-05T08-00-00.000000.jsonl");
  // Samples in doc order, lm-eval's hashes (doc 0's are the reference
  // run's: worker/eval/lm_eval_test.cc).
  std::vector<std::string> lines = absl::StrSplit(out.files[0].contents, '\n', absl::SkipEmpty());
  // lm-eval's order: both documents under strict-match, then under
  // flexible-extract (the filter cohort's verdict is).
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["filter"], "strict-match");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["doc_id"], 1);
  nlohmann::json first = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(first["filter"], "flexible-extract");
  EXPECT_EQ(first["doc_id"], 0);
  EXPECT_EQ(first["prompt_hash"], "b6b6f0f1301c9090bf258fdcb8d636f8c01a4b28b1660fe2d6e453979ae8f89c");
  EXPECT_EQ(first["doc_hash"], "986c19252f3c7f6eaeff2229e9a5777f96a85c0ceea931a92d2289084dfd518c");
  EXPECT_EQ(first["resps"][0][0], "So $18.");
  EXPECT_EQ(first["filtered_resps"][0], "$18");
  EXPECT_EQ(first["exact_match"], 1.0);
  EXPECT_EQ(first["cohort"]["problem_id"], "0");
  // Fix-A: the reasoning was scored, so it is the response lm-eval saw.
  nlohmann::json second = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(second["doc_id"], 1);
  EXPECT_EQ(second["resps"][0][0], "long thoughts ... 17");
  nlohmann::json results = nlohmann::json::parse(out.files[1].contents);
  EXPECT_EQ(results["results"]["gsm8k"]["exact_match,flexible-extract"], 0.5);
  EXPECT_EQ(results["results"]["gsm8k"]["exact_match,strict-match"], 0.0);  // no "#### N"
  EXPECT_EQ(results["n-samples"]["gsm8k"]["effective"], 2);
  EXPECT_EQ(results["n-samples"]["gsm8k"]["original"], 1319);
  EXPECT_EQ(results["n-shot"]["gsm8k"], 5);
  EXPECT_EQ(results["versions"]["gsm8k"], 3.0);
  EXPECT_EQ(results["fewshot_as_multiturn"], true);
  EXPECT_EQ(results["model_name"], "q8");
  EXPECT_EQ(results["task_hashes"]["gsm8k"].get<std::string>().size(), 64u);
  EXPECT_THAT(out.files[1].contents, StartsWith("{\n  \"results\": {\n    \"gsm8k\": {\n"));
}

TEST(LmEvalExportBuildTest, RowsFromAnotherRenderingAreReported) {
  Row row = StoredRow("q8", 0, true);
  row.prompt_digest = Sha256Hex("Question: ... one user message");
  ASSERT_OK_AND_ASSIGN(LmEvalExport out,
                       BuildLmEvalExport({row}, {{"gsm8k-3", Gsm8kSuite()}}, ExportRun()));
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_THAT(out.warnings[0], HasSubstr("q8 gsm8k-3: 1 of 1 rows were generated from another"));
}

TEST(LmEvalExportBuildTest, ChangedOrMissingDatasetIsAnErrorNamingIt) {
  cohort::testing::TempDir dir;
  LmEvalSuite changed = Gsm8kSuite();
  changed.dataset_digest = "sha256:" + std::string(64, '0');
  EXPECT_THAT(BuildLmEvalExport({StoredRow("q8", 0, true)}, {{"gsm8k-3", changed}}, ExportRun()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("the file changed")));
  LmEvalSuite missing = Gsm8kSuite();
  missing.dataset_path = dir.Join("nope.jsonl");
  EXPECT_THAT(BuildLmEvalExport({StoredRow("q8", 0, true)}, {{"gsm8k-3", missing}}, ExportRun()).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.jsonl")));
  Row stray = StoredRow("q8", 0, true);
  stray.details_json = R"({"index": 99999})";
  EXPECT_THAT(BuildLmEvalExport({stray}, {{"gsm8k-3", Gsm8kSuite()}}, ExportRun()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("row 99999")));
}

}  // namespace
}  // namespace cohort::client::report
