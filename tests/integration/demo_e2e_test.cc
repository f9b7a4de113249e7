// The demo sweep end to end with real processes: cohortd, two cohort-worker
// agents (llama.cpp and llama-server faked), the cohort CLI. cohortd is
// killed with -9 in the middle and restarted; the campaign still completes,
// every scored problem is stored exactly once, resubmitting runs zero
// steps, and `cohort report` matches the numbers computed from the rows.
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"

namespace cohort {
namespace {

using testing::CohortdProcess;
using testing::WorkerProcess;
using testing::WorkerSpec;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class DemoEndToEndTest : public ::testing::Test {
 protected:
  SubprocessResult Run(std::vector<std::string> argv) {
    SubprocessOptions options;
    options.argv = std::move(argv);
    options.working_dir = dir_.path();
    options.extra_env = {{"COHORT_COORDINATOR", cohortd_ ? cohortd_->address() : ""},
                         {"COHORT_TOKEN", client_token_},
                         {"COHORT_DATASETS", cohort::testing::DatasetsDir()},
                         {"HOME", dir_.path()}};
    options.timeout = absl::Minutes(3);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SubprocessResult{};
  }
  std::string Bin(const std::string& name) { return testing::BinDir() + "/" + name; }

  v1::Campaign Get(const std::string& id, bool include_steps = false) {
    v1::GetCampaignRequest request;
    request.set_campaign_id(id);
    request.set_include_steps(include_steps);
    v1::Campaign campaign;
    auto stub = v1::Coordinator::NewStub(cohortd_->Channel());
    stub->GetCampaign(CohortdProcess::Context(client_token_).get(), request, &campaign);
    return campaign;
  }
  // Each step that did not succeed, with its last error: what a failure of
  // the campaign needs to explain itself.
  std::string Unsucceeded(const std::string& id) {
    std::string out;
    const v1::Campaign campaign = Get(id, true);
    for (const v1::Step& step : campaign.steps()) {
      if (step.state() == v1::STEP_STATE_SUCCEEDED) continue;
      absl::StrAppend(&out, step.display_name(), " ", v1::StepState_Name(step.state()),
                      " after ", step.attempts(), " attempts: ", step.last_error(), "\n");
    }
    return out;
  }
  int Succeeded(const v1::Campaign& c) {
    auto it = c.steps_by_state().find("succeeded");
    return it == c.steps_by_state().end() ? 0 : static_cast<int>(it->second);
  }

  cohort::testing::TempDir dir_;
  std::unique_ptr<CohortdProcess> cohortd_;
  std::string client_token_;
};

TEST_F(DemoEndToEndTest, SweepSurvivesCoordinatorKillAndReportsMatchRows) {
  ASSERT_EQ(Run({Bin("cohort-worker"), "synth-model", "--layout", "qwen3moe", "--experts",
                 "16", "--output-dir", "demo/model"}).exit_code, 0);
  ASSERT_EQ(Run({Bin("cohort-worker"), "synth-contrib", "--layers", "4", "--experts", "16",
                 "--output", "demo/contrib.json"}).exit_code, 0);
  fs::copy_file(cohort::testing::SourceDir() + "/docs/examples/demo-sweep.yaml",
                dir_.Join("sweep.yaml"));
  fs::create_directories(dir_.Join("cohortd"));
  cohortd_ = std::make_unique<CohortdProcess>(dir_.Join("cohortd"));
  ASSERT_OK(cohortd_->Start());
  ASSERT_OK_AND_ASSIGN(client_token_, cohortd_->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd_->CreateToken("worker"));
  ASSERT_OK(WriteFileAtomically(dir_.Join("worker.token"), worker_token));
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* id : {"w0", "w1"}) {
    WorkerSpec spec;
    spec.id = id;
    spec.state_dir = dir_.Join(id);
    spec.coordinator = cohortd_->address();
    spec.token_file = dir_.Join("worker.token");
    spec.gpus = 1;
    // As the demo runs it: the fake llama-server answers as a simulated model
    // of each variant (tests/fakes/fake_model.py).
    spec.env = {{"FAKE_LLAMA_SIMULATE", dir_.Join("demo/contrib.json")},
                {"FAKE_LLAMA_TOKEN_LATENCY_MS", "0.02"}};
    workers.push_back(std::make_unique<WorkerProcess>(spec));
    ASSERT_OK(workers.back()->Start());
  }

  SubprocessResult submit = Run({Bin("cohort"), "submit", "sweep.yaml"});
  ASSERT_EQ(submit.exit_code, 0) << submit.stderr_data;
  std::string id(absl::StripAsciiWhitespace(submit.stdout_data));
  EXPECT_THAT(submit.stderr_data, HasSubstr("24 steps, 0 cached, 24 to run"));

  // Let part of the sweep finish, then kill the coordinator mid-campaign.
  absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < deadline && Succeeded(Get(id)) < 6) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_GE(Succeeded(Get(id)), 6);
  ASSERT_LT(Succeeded(Get(id)), 24) << "finished before the kill; the test proves nothing";
  cohortd_->Kill9();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_OK(cohortd_->Start());

  deadline = absl::Now() + absl::Seconds(150);
  v1::Campaign campaign = Get(id);
  while (absl::Now() < deadline && campaign.state() == v1::CAMPAIGN_STATE_RUNNING) {
    absl::SleepFor(absl::Milliseconds(200));
    campaign = Get(id);
  }
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << campaign.DebugString() << Unsucceeded(id);
  EXPECT_EQ(Succeeded(campaign), 24);

  // Every scored problem exactly once: 3 variants x 2 benches x 50 problems.
  auto stub = v1::Coordinator::NewStub(cohortd_->Channel());
  v1::QueryResultsRequest query;
  query.set_campaign_id(id);
  auto context = CohortdProcess::Context(client_token_);
  auto reader = stub->QueryResults(context.get(), query);
  std::set<std::tuple<std::string, std::string, uint32_t>> seen;
  std::map<std::string, std::pair<int, int>> by_step;  // step -> (passed, n)
  v1::ProblemResult row;
  int rows = 0;
  while (reader->Read(&row)) {
    ++rows;
    EXPECT_TRUE(seen.insert({row.step_key(), row.problem_id(), row.sample_index()}).second);
    auto& [passed, n] = by_step[row.step_key()];
    passed += row.verdict() == v1::VERDICT_PASS;
    ++n;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(rows, 300);
  EXPECT_EQ(by_step.size(), 6u);

  // The report's accuracy per (model, bench) equals passed / n of its rows.
  SubprocessResult report = Run({Bin("cohort"), "report", id, "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << report.stderr_data;
  nlohmann::json parsed = nlohmann::json::parse(report.stdout_data, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << report.stdout_data;
  std::multiset<double> from_rows, from_report;
  for (const auto& [step, counts] : by_step) {
    from_rows.insert(std::round(1e6 * counts.first / counts.second) / 1e4);
  }
  std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      if (j.contains("accuracy") && j["accuracy"].is_number() && j.contains("n")) {
        double a = j["accuracy"].get<double>();
        // In percent, rounded: 31/50 is 0.62, and 100 * 0.62 is not 62.
        from_report.insert(std::round(1e4 * (a <= 1.0 ? 100.0 * a : a)) / 1e4);
      }
      for (const auto& [k, v] : j.items()) collect(v);
    } else if (j.is_array()) {
      for (const auto& v : j) collect(v);
    }
  };
  collect(parsed);
  EXPECT_EQ(from_report, from_rows) << report.stdout_data;

  // What the demo is for: the class weights move the scores. The variants'
  // accuracies differ on both benches, and none is 0 or 100%.
  for (const nlohmann::json& suite : parsed["suites"]) {
    std::set<double> accuracies;
    for (const auto& [model, cell] : suite["cells"].items()) {
      double a = cell["accuracy"].get<double>();
      EXPECT_GT(a, 0.0) << suite.dump();
      EXPECT_LT(a, 1.0) << suite.dump();
      accuracies.insert(a);
    }
    EXPECT_GE(accuracies.size(), 2u) << "every variant scored the same: " << suite.dump();
  }
  // Thinking lengths have a tail that reaches the reasoning budget.
  SubprocessResult lengths = Run({Bin("cohort"), "lengths", id});
  ASSERT_EQ(lengths.exit_code, 0) << lengths.stderr_data;
  EXPECT_THAT(lengths.stdout_data, HasSubstr("12299")) << lengths.stdout_data;

  SubprocessResult again = Run({Bin("cohort"), "submit", "sweep.yaml"});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_data;
  EXPECT_THAT(again.stderr_data, HasSubstr("24 cached, 0 to run"));
  for (auto& w : workers) w->Terminate();
}

}  // namespace
}  // namespace cohort
