// Request limits and name checks of cohortd's services, on the protos alone.
#include "server/service/limits.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/convert.h"

namespace cohort::server {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'a');

v1::SubmitCampaignRequest Campaign(size_t steps) {
  v1::SubmitCampaignRequest request;
  request.mutable_spec()->set_name("c");
  for (size_t i = 0; i < steps; ++i) {
    v1::StepSpec* step = request.mutable_spec()->add_steps();
    step->set_node_id("n" + std::to_string(i));
  }
  return request;
}

TEST(RequestLimitsTest, CampaignStepsAndStrings) {
  EXPECT_OK(CheckSubmitLimits(Campaign(3)));
  EXPECT_THAT(CheckSubmitLimits(Campaign(RequestLimits::kCampaignSteps + 1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("spec.steps has 200001 entries"),
                             HasSubstr("at most 200000"))));
  v1::SubmitCampaignRequest big_params = Campaign(1);
  big_params.mutable_spec()->mutable_steps(0)->set_params_json(
      std::string(RequestLimits::kParamsBytes + 1, ' '));
  EXPECT_THAT(CheckSubmitLimits(big_params),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("step 'n0' params_json"), HasSubstr("bytes"))));
  v1::SubmitCampaignRequest many_inputs = Campaign(1);
  for (size_t i = 0; i <= RequestLimits::kStepInputs; ++i) {
    many_inputs.mutable_spec()->mutable_steps(0)->add_inputs()->set_name("x");
  }
  EXPECT_THAT(CheckSubmitLimits(many_inputs),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inputs has 65")));
  v1::SubmitCampaignRequest long_digest = Campaign(2);
  long_digest.mutable_spec()->mutable_steps(1)->add_inputs()->set_artifact_digest(
      std::string(RequestLimits::kIdBytes + 1, 'd'));
  EXPECT_THAT(CheckSubmitLimits(long_digest),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("step 'n1' input digest is 257 bytes")));
  v1::SubmitCampaignRequest long_label = Campaign(1);
  long_label.mutable_spec()->mutable_steps(0)->mutable_requirements()->add_labels(
      std::string(RequestLimits::kIdBytes + 1, 'l'));
  EXPECT_THAT(CheckSubmitLimits(long_label),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("step 'n0'.requirements.labels[] is 257 bytes")));
  v1::SubmitCampaignRequest long_name = Campaign(1);
  long_name.mutable_spec()->set_name(std::string(1000, 'x'));
  EXPECT_THAT(CheckSubmitLimits(long_name),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.name is 1000 bytes")));
}

// A newline or an escape sequence in a name forged lines in logs and in
// other users' `cohort status`: names shown to people are printable text.
TEST(RequestLimitsTest, NamesWithControlCharactersAreRefused) {
  v1::SubmitCampaignRequest forged = Campaign(1);
  forged.mutable_spec()->set_name("sweep\nINFO campaign c-1 cancelled by admin");
  EXPECT_THAT(CheckSubmitLimits(forged),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("spec.name"), HasSubstr("control character (byte 0x0a"))));
  v1::SubmitCampaignRequest escape = Campaign(1);
  escape.mutable_spec()->mutable_steps(0)->set_display_name("prune \x1b[2Jgone");
  EXPECT_THAT(CheckSubmitLimits(escape),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("step 'n0' display_name"), HasSubstr("0x1b"))));
  v1::SubmitCampaignRequest node = Campaign(1);
  node.mutable_spec()->mutable_steps(0)->set_node_id(std::string("a\rb"));
  EXPECT_THAT(CheckSubmitLimits(node), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("node_id holds a control")));
  for (const bool model : {true, false}) {  // the names the dashboard shows
    v1::SubmitCampaignRequest named = Campaign(1);
    v1::StepSpec* step = named.mutable_spec()->mutable_steps(0);
    model ? step->set_model("v1\x1b[31m") : step->set_suite("gsm8k\n");
    EXPECT_THAT(CheckSubmitLimits(named),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(model ? "step 'n0' model" : "step 'n0' suite")));
    model ? step->set_model(std::string(RequestLimits::kIdBytes + 1, 'v'))
          : step->set_suite(std::string(RequestLimits::kIdBytes + 1, 's'));
    EXPECT_FALSE(CheckSubmitLimits(named).ok());
  }
  v1::SubmitCampaignRequest label = Campaign(1);
  (*label.mutable_spec()->mutable_labels())["owner"] = std::string("x\x7f");
  EXPECT_FALSE(CheckSubmitLimits(label).ok());
  v1::SubmitCampaignRequest fine = Campaign(1);
  fine.mutable_spec()->set_name("démo sweep: Δ weights (v5)");  // UTF-8 is printable
  EXPECT_OK(CheckSubmitLimits(fine));

  v1::RegisterRequest worker;
  worker.mutable_worker()->set_id("w1");
  worker.mutable_worker()->set_hostname("gpu-01\n2026-12-05 worker w9 registered");
  EXPECT_THAT(CheckRegisterLimits(worker), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("worker.hostname")));
}

TEST(RequestLimitsTest, ResultsPerBatch) {
  v1::ReportResultsRequest batch;
  for (size_t i = 0; i < RequestLimits::kResultsPerBatch; ++i) {
    batch.add_results()->set_problem_id("p");
  }
  EXPECT_OK(CheckResultsLimits(batch));
  batch.add_results();
  EXPECT_THAT(CheckResultsLimits(batch),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("results has 10001")));
  v1::ReportResultsRequest long_id;
  long_id.add_results()->set_problem_id(std::string(300, 'p'));
  EXPECT_THAT(CheckResultsLimits(long_id),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("problem_id")));
}

TEST(RequestLimitsTest, WorkerMessages) {
  v1::FailStepRequest fail;
  fail.set_message(std::string(RequestLimits::kTextBytes + 1, 'e'));
  EXPECT_THAT(CheckFailLimits(fail),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("message is")));
  v1::HeartbeatRequest heartbeat;
  for (size_t i = 0; i <= RequestLimits::kLeasesPerHeartbeat; ++i) heartbeat.add_leases();
  EXPECT_THAT(CheckHeartbeatLimits(heartbeat),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leases has")));
  v1::RegisterRequest reg;
  for (size_t i = 0; i <= RequestLimits::kWorkerListEntries; ++i) reg.mutable_worker()->add_labels("l");
  EXPECT_THAT(CheckRegisterLimits(reg),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("worker.labels")));
  v1::CompleteStepRequest complete;
  for (size_t i = 0; i <= RequestLimits::kOutputsPerStep; ++i) complete.add_outputs();
  EXPECT_THAT(CheckCompleteLimits(complete),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outputs has 65")));
  v1::RegisterArtifactsRequest artifacts;
  for (size_t i = 0; i <= RequestLimits::kArtifactsPerRequest; ++i) artifacts.add_artifacts();
  EXPECT_THAT(CheckRegisterArtifactsLimits(artifacts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("artifacts has 10001")));
  v1::CompleteStepRequest long_path;
  long_path.add_outputs()->mutable_artifact()->add_locations()->set_shared_path(
      std::string(5000, 'p'));
  EXPECT_THAT(CheckCompleteLimits(long_path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("an output shared_path is 5000 bytes")));
}

// Step outputs reported by workers and artifacts registered by clients:
// names that would leave a folder and shared paths that climb are refused.
TEST(ValidateOutputTest, RefusesUnsafeNamesAndSharedPaths) {
  v1::StepOutput out;
  out.set_name("checkpoint");
  out.mutable_artifact()->set_digest(kDigest);
  out.mutable_artifact()->add_locations()->set_worker_id("w-1");
  out.mutable_artifact()->add_locations()->set_shared_path("/srv/models/pruned");
  EXPECT_OK(ValidateOutput(out));
  for (const std::string& name : {std::string("../x"), std::string("/etc/passwd"),
                                  std::string("a/../../b"), std::string("a\0b", 3),
                                  std::string()}) {
    v1::StepOutput bad = out;
    bad.set_name(name);
    EXPECT_THAT(ValidateOutput(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("output name")))
        << name;
  }
  v1::StepOutput climbing = out;
  climbing.mutable_artifact()->mutable_locations(1)->set_shared_path("/srv/../etc/passwd");
  EXPECT_THAT(ValidateOutput(climbing),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("shared_path"), HasSubstr("'..'"))));
  v1::StepOutput relative = out;
  relative.mutable_artifact()->mutable_locations(1)->set_shared_path("models/x");
  EXPECT_THAT(ValidateOutput(relative),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not absolute")));
  v1::StepOutput bad_worker = out;
  bad_worker.mutable_artifact()->mutable_locations(0)->set_worker_id("../w");
  EXPECT_THAT(ValidateOutput(bad_worker),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("worker_id")));
  v1::StepOutput bad_digest = out;
  bad_digest.mutable_artifact()->set_digest("sha256:../../x");
  EXPECT_THAT(ValidateOutput(bad_digest),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not sha256")));
}

}  // namespace
}  // namespace cohort::server
