// `cohort` as a real process against a real cohortd on a loopback port; the
// test plays the worker through the WorkerGateway stub (lease, report
// results, complete), since cohort-worker's `run` lands separately.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::CohortdProcess;

std::string OutputName(v1::StepKind kind) {
  switch (kind) {
    case v1::STEP_KIND_DROPMAP: return "drop_map";
    case v1::STEP_KIND_PRUNE:
    case v1::STEP_KIND_UPWEIGHT: return "checkpoint";
    case v1::STEP_KIND_CONVERT:
    case v1::STEP_KIND_QUANTIZE: return "gguf";
    case v1::STEP_KIND_GENERATE: return "completions";
    case v1::STEP_KIND_SCORE: return "scores";
    case v1::STEP_KIND_GATE: return "decision";
    default: return "out";
  }
}

class ClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.Join("cohortd"));
    cohortd_ = std::make_unique<CohortdProcess>(dir_.Join("cohortd"));
    ASSERT_OK(cohortd_->Start());
    ASSERT_OK_AND_ASSIGN(client_token_, cohortd_->CreateToken("client"));
    ASSERT_OK_AND_ASSIGN(worker_token_, cohortd_->CreateToken("worker"));
    gateway_ = v1::WorkerGateway::NewStub(cohortd_->Channel());
    std::filesystem::create_directories(dir_.Join("model"));
    std::ofstream(dir_.Join("model/config.json")) << "{\"num_experts\": 16}";
    std::ofstream(dir_.Join("contrib.json")) << "{\"metadata\": {}}";
    std::ofstream(dir_.Join("test.jsonl")) << "{\"question\": \"1+1\", \"answer\": \"#### 2\"}\n"
                                           << "{\"question\": \"2+2\", \"answer\": \"#### 4\"}\n";
    // GSM8K is 5-shot: its exemplars' split beside the test split.
    std::ofstream train(dir_.Join("train.jsonl"));
    for (int i = 0; i < 5; ++i) train << "{\"question\": \"" << i << "+1\", \"answer\": \"#### " << i + 1 << "\"}\n";
    std::ofstream(dir_.Join("sweep.yaml"))
        << "kind: sweep\nname: it-sweep\nbase_model: model\ncontrib: contrib.json\n"
           "recipe:\n  dropmap: {target: 12, protect_top: 2}\n"
           "grid:\n  dropmap.class_weights: {v5: 1 1 2, v6: 1 1 3}\n"
           "eval:\n  profile: omk-card-2026-07\n"
           "  suites:\n    - {bench: gsm8k, dataset: test.jsonl, limit: 2}\n";
  }

  SubprocessResult Cohort(std::vector<std::string> args) {
    SubprocessOptions options;
    options.argv = {testing::BinDir() + "/cohort", "--coordinator", cohortd_->address(),
                    "--token", client_token_};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.extra_env["HOME"] = dir_.path();  // no user config leaks in
    options.timeout = absl::Seconds(60);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SubprocessResult{};
  }

  // Leases and completes every ready step; score steps report two rows
  // (one pass, one fail).
  int DrainAsWorker() {
    v1::RegisterRequest reg;
    reg.mutable_worker()->set_id("fake-worker");
    for (const char* tool : {"llama-server", "convert_hf_to_gguf.py", "llama-quantize",
                             "llama-imatrix", "python3"}) {
      reg.mutable_worker()->add_tools()->set_name(tool);
    }
    v1::GpuInfo* gpu = reg.mutable_worker()->add_gpus();
    gpu->set_model("fake");
    gpu->set_memory_bytes(80ull << 30);
    reg.mutable_worker()->set_max_concurrent_steps(1);
    v1::RegisterResponse reg_response;
    EXPECT_TRUE(gateway_->Register(CohortdProcess::Context(worker_token_).get(), reg,
                                   &reg_response).ok());
    int done = 0;
    while (true) {
      v1::LeaseRequest request;
      request.set_worker_id(reg_response.worker_id());
      request.set_free_slots(1);
      request.set_free_gpus(1);
      request.set_free_disk_bytes(1ull << 40);
      request.set_wait_ms(1000);
      v1::LeaseResponse response;
      grpc::Status s = gateway_->Lease(
          CohortdProcess::Context(worker_token_, absl::Seconds(30)).get(), request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok() || response.leases_size() == 0) return done;
      const v1::Lease& lease = response.leases(0);
      if (lease.step().kind() == v1::STEP_KIND_SCORE) ReportRows(lease);
      v1::CompleteStepRequest complete;
      complete.set_lease_id(lease.lease_id());
      complete.set_epoch(lease.epoch());
      v1::StepOutput* out = complete.add_outputs();
      out->set_name(OutputName(lease.step().kind()));
      out->mutable_artifact()->set_digest("sha256:" + Sha256Hex(lease.step().key()));
      out->mutable_artifact()->add_locations()->set_worker_id("fake-worker");
      if (lease.step().kind() == v1::STEP_KIND_QUANTIZE) {
        // What a worker measures of its GGUF (ToolExecutor::Quantize).
        complete.set_facts_json(
            R"({"type":"Q6_K","file_bytes":2500000,"parameters":3000000,"bits_per_weight":6.5625})");
      }
      v1::CompleteStepResponse complete_response;
      s = gateway_->CompleteStep(CohortdProcess::Context(worker_token_).get(), complete,
                                 &complete_response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      ++done;
    }
  }

  void ReportRows(const v1::Lease& lease) {
    auto context = CohortdProcess::Context(worker_token_);
    auto stream = gateway_->ReportResults(context.get());
    v1::ReportResultsRequest batch;
    batch.set_lease_id(lease.lease_id());
    batch.set_epoch(lease.epoch());
    batch.set_batch_id(1);
    for (int i = 0; i < 2; ++i) {
      v1::ProblemResult* r = batch.add_results();
      r->set_step_key(lease.step().key());
      r->set_problem_id(std::to_string(i));
      r->set_verdict(i == 0 ? v1::VERDICT_PASS : v1::VERDICT_FAIL);
      r->set_completion_tokens(100 * (i + 1));
      r->set_finish_reason("stop");
    }
    ASSERT_TRUE(stream->Write(batch));
    v1::ReportResultsResponse ack;
    ASSERT_TRUE(stream->Read(&ack));
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<CohortdProcess> cohortd_;
  std::string client_token_, worker_token_;
  std::unique_ptr<v1::WorkerGateway::Stub> gateway_;
};

TEST_F(ClientIntegrationTest, SubmitStatusCancelResumeAndMemoizedResubmit) {
  SubprocessResult dry = Cohort({"submit", "--dry-run", dir_.Join("sweep.yaml")});
  ASSERT_EQ(dry.exit_code, 0) << dry.stderr_data;
  EXPECT_THAT(dry.stdout_data, HasSubstr("dropmap"));
  EXPECT_THAT(dry.stdout_data, HasSubstr("0 steps cached, 12 to run"));

  SubprocessResult submit = Cohort({"submit", dir_.Join("sweep.yaml")});
  ASSERT_EQ(submit.exit_code, 0) << submit.stderr_data;
  std::string id(absl::StripAsciiWhitespace(submit.stdout_data));
  ASSERT_FALSE(id.empty());
  EXPECT_THAT(submit.stderr_data, HasSubstr("12 to run"));

  SubprocessResult status = Cohort({"status", id});
  ASSERT_EQ(status.exit_code, 0) << status.stderr_data;
  EXPECT_THAT(status.stdout_data, HasSubstr("running"));
  EXPECT_THAT(status.stdout_data, HasSubstr("dropmap v5"));

  SubprocessResult cancel = Cohort({"cancel", id});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.stderr_data;
  EXPECT_THAT(cancel.stdout_data, HasSubstr("cancelled"));
  // A cancelled bench says so, out of its limit (not "failed, 0/?").
  SubprocessResult watch = Cohort({"watch", "--once", "--plain", id});
  EXPECT_THAT(watch.stdout_data, ::testing::ContainsRegex("gsm8k-2 +cancelled, 0/2 problems"))
      << watch.stdout_data;
  EXPECT_THAT(watch.stdout_data, Not(HasSubstr("failed")));
  SubprocessResult resume = Cohort({"resume", id});
  ASSERT_EQ(resume.exit_code, 0) << resume.stderr_data;
  EXPECT_THAT(resume.stdout_data, HasSubstr("running"));

  EXPECT_EQ(DrainAsWorker(), 12);
  status = Cohort({"status", id});
  EXPECT_THAT(status.stdout_data, HasSubstr("succeeded"));

  // The fake worker reported, per model, problem 0 passing with 100 tokens
  // and problem 1 failing with 200: accuracy 50.0, pass/fail means 100/200.
  SubprocessResult report = Cohort({"report", id});
  EXPECT_EQ(report.exit_code, 0) << report.stderr_data;
  EXPECT_THAT(report.stdout_data, HasSubstr("| gsm8k-2 | 2 | 50.0 | 50.0 |"));
  // The tier table: each variant's quantize facts beside its benches.
  SubprocessResult tiers = Cohort({"report", id, "--tiers"});
  EXPECT_EQ(tiers.exit_code, 0) << tiers.stderr_data;
  EXPECT_THAT(tiers.stdout_data, HasSubstr("| model | tier | size | BPW | gsm8k-2 |"));
  EXPECT_THAT(tiers.stdout_data, HasSubstr("| v5 | Q6_K | 2.5 MB | 6.56 | 50.0 |"));
  EXPECT_THAT(tiers.stdout_data, HasSubstr("| v6 | Q6_K | 2.5 MB | 6.56 | 50.0 |"));
  SubprocessResult card = Cohort({"report", id, "--style", "card"});
  EXPECT_THAT(card.stdout_data, HasSubstr("| v6 | Q6_K | 2.5 MB | 6.56 | 50.0 |"));
  // The same numbers as pictures, and PNGs rendered by librsvg.
  SubprocessResult plots = Cohort({"report", id, "--plots", dir_.Join("plots"), "--png"});
  EXPECT_EQ(plots.exit_code, 0) << plots.stderr_data;
  for (const char* name : {"scoreboard", "lengths-gsm8k-2"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(dir_.Join(std::string("plots/") + name + ".png")))
        << name;
  }
  std::ifstream svg(dir_.Join("plots/scoreboard.svg"));
  std::string scoreboard((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_THAT(scoreboard, HasSubstr("50.0% (n=2)"));
  SubprocessResult png_alone = Cohort({"report", id, "--png"});
  EXPECT_EQ(png_alone.exit_code, 2) << png_alone.stderr_data;
  EXPECT_THAT(png_alone.stderr_data, HasSubstr("--png needs --plots DIR"));
  SubprocessResult lengths = Cohort({"lengths", id});
  EXPECT_EQ(lengths.exit_code, 0) << lengths.stderr_data;
  EXPECT_THAT(lengths.stdout_data,
              HasSubstr("| v5 | gsm8k-2 | 2 | 0 | 0 | 0 | 100 | 200 | 200 | 0 (0.0%) | "
                        "0 (0.0%) | 100 | 200 |"));

  SubprocessResult again = Cohort({"submit", dir_.Join("sweep.yaml")});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_data;
  EXPECT_THAT(again.stderr_data, HasSubstr("12 cached, 0 to run"));
  SubprocessResult dry_again = Cohort({"submit", "--dry-run", dir_.Join("sweep.yaml")});
  EXPECT_THAT(dry_again.stdout_data, HasSubstr("12 steps cached, 0 to run"));
}

TEST_F(ClientIntegrationTest, BadSpecIsExitCodeTwoWithPosition) {
  std::ofstream(dir_.Join("bad.yaml"))
      << "kind: sweep\nname: x\nbase_model: model\ncontrib: contrib.json\n"
         "recipe:\n  dropmap: {target: 12, protect_tpo: 2}\n";
  SubprocessResult r = Cohort({"submit", dir_.Join("bad.yaml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("bad.yaml:6:"));
  EXPECT_THAT(r.stderr_data, HasSubstr("recipe.dropmap.protect_tpo"));
  SubprocessResult missing = Cohort({"status", "no-such-campaign"});
  EXPECT_NE(missing.exit_code, 0);
}

// A crash of either part is mended by `up` on the same folder: only what is
// dead starts again, cohortd on the port the workers and config know, and
// `down` then stops every process. `restart` brings back one part.
// `cohort up --vllm PATH` gives its workers vLLM: each offers the tool
// "vllm" (what a `vllm` reference's steps ask for), and a restart keeps it.
TEST_F(ClientIntegrationTest, UpPassesVllmToItsWorkers) {
  std::string state = dir_.Join("vllm-cluster");
  auto cohort = [&](std::vector<std::string> args) {
    SubprocessOptions options;
    options.argv = {testing::BinDir() + "/cohort"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.extra_env = {{"HOME", dir_.path()}};
    options.timeout = absl::Seconds(90);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    EXPECT_OK(r.status());
    return r.ok() ? *r : SubprocessResult();
  };
  const std::string vllm = cohort::testing::SourceDir() + "/tests/fakes/vllm";
  ASSERT_TRUE(cohort({"up", "--state-dir", state, "--listen", "127.0.0.1:0", "--workers", "1",
                      "--gpus", "1", "--vllm", vllm, "--no-user-config"})
                  .Succeeded());
  // `up` names its workers local-N; each registers a moment after `up` returns.
  auto offers_vllm = [&] {
    std::string list = cohort({"--config", state + "/config.yaml", "workers"}).stdout_data;
    return std::regex_search(list, std::regex("local-0 .*vllm"));
  };
  auto eventually = [&](const std::function<bool()>& check) {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline && !check()) absl::SleepFor(absl::Milliseconds(200));
    return check();
  };
  EXPECT_TRUE(eventually(offers_vllm));
  EXPECT_THAT(ReadFileToString(state + "/up.json").value_or(""), HasSubstr(vllm));
  ASSERT_TRUE(cohort({"restart", "--state-dir", state}).Succeeded());
  EXPECT_TRUE(eventually(offers_vllm));
  EXPECT_TRUE(cohort({"down", "--state-dir", state}).Succeeded());
}

TEST_F(ClientIntegrationTest, UpAfterACrashRestartsOnlyWhatIsDead) {
  std::string state = dir_.Join("local");
  auto cohort = [&](std::vector<std::string> args) {
    SubprocessOptions options;
    options.argv = {testing::BinDir() + "/cohort"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.timeout = absl::Seconds(90);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    EXPECT_OK(r.status());
    return r.ok() ? *r : SubprocessResult();
  };
  auto pid = [&](const std::string& file) {
    int p = 0;
    EXPECT_TRUE(absl::SimpleAtoi(
        absl::StripAsciiWhitespace(ReadFileToString(state + "/" + file).value_or("")), &p));
    return p;
  };
  auto port = [&] { return ReadFileToString(state + "/cohortd/port").value_or("?"); };
  // Running, not a zombie waiting for its reaper (a zombie has no cmdline).
  auto alive = [](int p) {
    return p > 0 && !ReadFileToString(absl::StrCat("/proc/", p, "/cmdline")).value_or("").empty();
  };
  auto kill9 = [&](int p) {
    ASSERT_EQ(kill(p, SIGKILL), 0);
    for (int i = 0; i < 200 && alive(p); ++i) absl::SleepFor(absl::Milliseconds(20));
  };
  std::vector<std::string> up = {"up", "--state-dir", state, "--listen", "127.0.0.1:0",
                                 "--workers", "2", "--no-user-config"};
  ASSERT_TRUE(cohort(up).Succeeded());
  const int cohortd = pid("cohortd.pid"), w0 = pid("worker-0.pid"), w1 = pid("worker-1.pid");
  const std::string first_port = port();

  kill9(cohortd);  // cohortd crashes; the workers keep running
  SubprocessResult again = cohort(up);
  ASSERT_TRUE(again.Succeeded()) << again.Describe() << again.stdout_data;
  EXPECT_THAT(again.stdout_data, HasSubstr("worker-0 pid"));
  EXPECT_NE(pid("cohortd.pid"), cohortd);
  EXPECT_EQ(port(), first_port) << "the workers and config.yaml know this port";
  EXPECT_EQ(pid("worker-0.pid"), w0);
  EXPECT_EQ(pid("worker-1.pid"), w1);
  EXPECT_TRUE(cohort({"--config", state + "/config.yaml", "status"}).Succeeded());

  kill9(w1);  // a worker crashes
  ASSERT_TRUE(cohort(up).Succeeded());
  EXPECT_EQ(pid("worker-0.pid"), w0);
  EXPECT_NE(pid("worker-1.pid"), w1);
  EXPECT_TRUE(alive(pid("worker-1.pid")));

  SubprocessResult nothing = cohort(up);  // everything runs: nothing starts
  EXPECT_TRUE(nothing.Succeeded());
  EXPECT_THAT(nothing.stdout_data, HasSubstr("nothing started"));

  const int before = pid("cohortd.pid");
  SubprocessResult restart = cohort({"restart", "cohortd", "--state-dir", state});
  ASSERT_TRUE(restart.Succeeded()) << restart.Describe() << restart.stdout_data;
  EXPECT_FALSE(alive(before));
  EXPECT_TRUE(alive(pid("cohortd.pid")));
  EXPECT_EQ(port(), first_port);
  EXPECT_EQ(pid("worker-0.pid"), w0);

  std::vector<int> all = {pid("cohortd.pid"), pid("worker-0.pid"), pid("worker-1.pid")};
  SubprocessResult down = cohort({"down", "--state-dir", state});
  EXPECT_THAT(down.stdout_data, HasSubstr("stopped 3 process"));
  for (int p : all) EXPECT_FALSE(alive(p)) << p;
}

TEST_F(ClientIntegrationTest, UpAndDownRunALocalCohortd) {
  std::string state = dir_.Join("local");
  SubprocessOptions options;
  options.argv = {testing::BinDir() + "/cohort", "up", "--state-dir", state, "--listen",
                  "127.0.0.1:0", "--workers", "0", "--no-user-config"};
  options.timeout = absl::Seconds(60);
  ASSERT_OK_AND_ASSIGN(SubprocessResult up, RunSubprocess(options));
  ASSERT_TRUE(up.Succeeded()) << up.Describe() << up.stdout_data;
  ASSERT_TRUE(std::filesystem::exists(state + "/config.yaml"));
  options.argv = {testing::BinDir() + "/cohort", "--config", state + "/config.yaml", "status"};
  ASSERT_OK_AND_ASSIGN(SubprocessResult status, RunSubprocess(options));
  EXPECT_TRUE(status.Succeeded()) << status.Describe();
  EXPECT_THAT(status.stdout_data, HasSubstr("CAMPAIGN"));
  options.argv = {testing::BinDir() + "/cohort", "down", "--state-dir", state};
  ASSERT_OK_AND_ASSIGN(SubprocessResult down, RunSubprocess(options));
  EXPECT_TRUE(down.Succeeded()) << down.Describe();
  EXPECT_THAT(down.stdout_data, HasSubstr("stopped 1 process"));
  EXPECT_FALSE(std::filesystem::exists(state + "/cohortd.pid"));
}

// With nothing listening at the coordinator's address the CLI says so, and
// how to start or name one, instead of a TLS hint that does not apply.
TEST(ClientUnreachableTest, NothingListeningIsSaidPlainly) {
  cohort::testing::TempDir dir;
  SubprocessOptions options;
  const std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  options.argv = {testing::BinDir() + "/cohort", "status"};
  options.extra_env = {{"COHORT_COORDINATOR", address}, {"COHORT_TOKEN", "t"},
                       {"HOME", dir.path()}};
  options.timeout = absl::Seconds(60);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_THAT(r->stderr_data, HasSubstr("nothing listens at " + address));
  EXPECT_THAT(r->stderr_data, HasSubstr("cohort up"));
  EXPECT_THAT(r->stderr_data, ::testing::Not(HasSubstr("--tls-ca")));
}

}  // namespace
}  // namespace cohort
