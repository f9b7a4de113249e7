// The `cohort` commands around a running campaign, with real processes: one
// cohortd, cohort-worker agents (llama.cpp and llama-server faked), and the
// CLI. One small sweep is shared by every test (two quantize types of one
// pruned model, gsm8k limited to 3 problems: 9 steps):
//
//   1. a worker whose llama-quantize fails (the fake's exit1 switch) runs it
//      until both quantize steps failed (max_attempts: 1) and the campaign
//      failed;
//   2. `cohort logs` shows the failing tool's output; the worker stops;
//   3. `cohort retry` re-arms both steps, `cohort watch` (stdout a file, so
//      plain lines) follows the campaign, and a healthy worker finishes it.
//
// The tests then check what each command printed against what cohortd
// stores, queried through its gRPC API: retry, logs, watch, workers,
// artifacts, export, and manifest + reproduce + verify.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
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
using ::testing::Not;
namespace fs = std::filesystem;

std::string Bin(const std::string& name) { return testing::BinDir() + "/" + name; }

constexpr char kSweep[] = R"(kind: sweep
name: cli-commands
max_attempts: 1
base_model: model
contrib: contrib.json
recipe:
  dropmap: {target: 12, protect_top: 2}
grid:
  quantize.type: {q8: Q8_0, q6: Q6_K}
eval:
  profile: omk-card-2026-07
  server: {parallel: 2}
  suites:
    - {bench: gsm8k, dataset: "${COHORT_DATASETS}/gsm8k/test.jsonl", limit: 3}
)";

// Everything the tests share: the cluster, and what the commands printed
// while the campaign ran.
struct Shared {
  testing::TempDir dir;
  std::unique_ptr<CohortdProcess> cohortd;
  std::string client_token;
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  std::string campaign;
  v1::Campaign failed;     // after phase 1
  SubprocessResult logs_of_failed;
  SubprocessResult status_of_failed;
  std::vector<SubprocessResult> retries;
  int watch_exit = -1;
  std::string watch_output;
  absl::Duration setup_time;
};

Shared* shared = nullptr;

SubprocessResult Cohort(std::vector<std::string> args, absl::Duration timeout = absl::Minutes(2)) {
  SubprocessOptions options;
  options.argv = {Bin("cohort")};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.working_dir = shared->dir.path();
  options.extra_env = {{"COHORT_COORDINATOR", shared->cohortd->address()},
                       {"COHORT_TOKEN", shared->client_token},
                       {"COHORT_DATASETS", testing::DatasetsDir()},
                       {"HOME", shared->dir.path()}};  // no user config leaks in
  options.timeout = timeout;
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : SubprocessResult{};
}

std::unique_ptr<v1::Coordinator::Stub> Stub() {
  return v1::Coordinator::NewStub(shared->cohortd->Channel());
}

v1::Campaign Get(const std::string& id) {
  v1::GetCampaignRequest request;
  request.set_campaign_id(id);
  request.set_include_steps(true);
  v1::Campaign campaign;
  grpc::Status s = Stub()->GetCampaign(CohortdProcess::Context(shared->client_token).get(),
                                       request, &campaign);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return campaign;
}

v1::Campaign WaitWhileRunning(const std::string& id, absl::Duration limit) {
  absl::Time deadline = absl::Now() + limit;
  v1::Campaign c = Get(id);
  while (c.state() == v1::CAMPAIGN_STATE_RUNNING && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    c = Get(id);
  }
  return c;
}

std::vector<v1::ProblemResult> Results(const std::string& campaign,
                                       const std::string& step_key = "") {
  v1::QueryResultsRequest request;
  request.set_campaign_id(campaign);
  request.set_step_key(step_key);
  auto context = CohortdProcess::Context(shared->client_token);
  auto stub = Stub();
  auto reader = stub->QueryResults(context.get(), request);
  std::vector<v1::ProblemResult> rows;
  v1::ProblemResult row;
  while (reader->Read(&row)) rows.push_back(row);
  EXPECT_TRUE(reader->Finish().ok());
  return rows;
}

const v1::Step* StepNamed(const v1::Campaign& c, const std::string& display_name) {
  for (const v1::Step& s : c.steps()) {
    if (s.display_name() == display_name) return &s;
  }
  return nullptr;
}

std::vector<const v1::Step*> StepsOfKind(const v1::Campaign& c, v1::StepKind kind) {
  std::vector<const v1::Step*> out;
  for (const v1::Step& s : c.steps()) {
    if (s.kind() == kind) out.push_back(&s);
  }
  return out;
}

// What a step produced, as its worker's log says ("cohort-worker: output NAME
// DIGEST"; cohortd keeps the log tail), checked against the artifacts cohortd
// recorded for the campaign.
std::string OutputDigest(const std::string& campaign, const v1::Step& step) {
  v1::GetStepLogRequest request;
  request.set_step_key(step.key());
  v1::GetStepLogResponse log;
  EXPECT_TRUE(Stub()->GetStepLog(CohortdProcess::Context(shared->client_token).get(), request,
                                 &log).ok());
  size_t at = log.data().rfind("cohort-worker: output ");
  if (at == std::string::npos) return "";
  std::vector<std::string> words = absl::StrSplit(log.data().substr(at), ' ');
  std::string digest = words.size() > 3 ? words[3] : "";
  v1::ListArtifactsRequest list;
  list.set_campaign_id(campaign);
  v1::ListArtifactsResponse artifacts;
  EXPECT_TRUE(Stub()->ListArtifacts(CohortdProcess::Context(shared->client_token).get(), list,
                                    &artifacts).ok());
  for (const v1::Artifact& a : artifacts.artifacts()) {
    if (a.digest() == digest) return digest;
  }
  ADD_FAILURE() << step.display_name() << ": " << digest << " is no artifact of " << campaign;
  return "";
}

// The worker's store holds the artifact (objects/<hex>).
bool Holds(const std::string& worker, const std::string& digest) {
  return !digest.empty() &&
         fs::is_directory(shared->dir.Join(worker) + "/artifacts/objects/" + digest.substr(7));
}

std::string Log(const WorkerProcess& w) { return ReadFileToString(w.LogPath()).value_or(""); }

absl::Status StartWorker(const std::string& id, std::vector<std::string> labels,
                         std::map<std::string, std::string> env = {}) {
  WorkerSpec spec;
  spec.id = id;
  spec.state_dir = shared->dir.Join(id);
  spec.coordinator = shared->cohortd->address();
  spec.token_file = shared->dir.Join("worker.token");
  spec.gpus = 1;
  spec.slots = 2;
  spec.labels = std::move(labels);
  spec.env = std::move(env);
  shared->workers.push_back(std::make_unique<WorkerProcess>(spec));
  return shared->workers.back()->Start();
}

class CliCommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared = new Shared;
    absl::Time start = absl::Now();
    RunCampaign();
    shared->setup_time = absl::Now() - start;
  }
  static void TearDownTestSuite() {
    delete shared;
    shared = nullptr;
  }
  void SetUp() override {
    ASSERT_FALSE(shared->campaign.empty()) << "the shared campaign did not start";
  }

  static void RunCampaign() {
    Shared& s = *shared;
    ASSERT_OK(testing::MakeSweepInputs(s.dir.path()));
    ASSERT_OK(WriteFileAtomically(s.dir.Join("sweep.yaml"), kSweep));
    fs::create_directories(s.dir.Join("cohortd"));
    s.cohortd = std::make_unique<CohortdProcess>(s.dir.Join("cohortd"));
    ASSERT_OK(s.cohortd->Start());
    ASSERT_OK_AND_ASSIGN(s.client_token, s.cohortd->CreateToken("client"));
    ASSERT_OK_AND_ASSIGN(std::string worker_token, s.cohortd->CreateToken("worker"));
    ASSERT_OK(WriteFileAtomically(s.dir.Join("worker.token"), worker_token));

    // Phase 1: llama-quantize fails on this worker, once per step.
    ASSERT_OK(StartWorker("w1", {"gpu"}, {{"COHORT_FAKE_FAIL", "exit1"},
                                          {"COHORT_FAKE_FAIL_ONLY", "llama-quantize"}}));
    SubprocessResult submit = Cohort({"submit", "sweep.yaml"});
    ASSERT_EQ(submit.exit_code, 0) << submit.stderr_data;
    ASSERT_THAT(submit.stderr_data, HasSubstr("9 steps, 0 cached, 9 to run"));
    s.campaign = std::string(absl::StripAsciiWhitespace(submit.stdout_data));
    s.failed = WaitWhileRunning(s.campaign, absl::Seconds(120));
    ASSERT_EQ(s.failed.state(), v1::CAMPAIGN_STATE_FAILED)
        << s.failed.DebugString() << Log(*s.workers[0]);

    // Phase 2: the tool output of the failed step; the worker stops.
    s.logs_of_failed = Cohort({"logs", "quantize q8", "--campaign", s.campaign});
    s.status_of_failed = Cohort({"status", s.campaign});
    s.workers[0]->Terminate();

    // Phase 3: retry, watch, and the same worker (its store holds the
    // upstream outputs) back without the failure switch.
    // One by its display name in the campaign, one by the key prefix that
    // `status` prints (with no campaign given: found in the latest ones).
    std::vector<const v1::Step*> failed = StepsOfKind(s.failed, v1::STEP_KIND_QUANTIZE);
    ASSERT_EQ(failed.size(), 2u);
    s.retries.push_back(
        Cohort({"retry", failed[0]->display_name(), "--campaign", s.campaign}));
    s.retries.push_back(Cohort({"retry", failed[1]->key().substr(0, 19)}));
    Subprocess watch;
    SubprocessOptions options;
    options.argv = {Bin("cohort"), "--coordinator", s.cohortd->address(), "--token",
                    s.client_token, "watch", s.campaign};
    options.extra_env = {{"HOME", s.dir.path()}};
    options.stdout_path = s.dir.Join("watch.out");
    options.stderr_path = s.dir.Join("watch.err");
    ASSERT_OK(watch.Start(options));
    // The healthy worker starts only once watch shows its snapshot, so watch
    // sees every step of the rest of the campaign happen.
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline &&
           !absl::StrContains(ReadFileToString(s.dir.Join("watch.out")).value_or(""),
                              "benches:")) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_OK(StartWorker("w1", {"gpu", "fast"}));
    bool exited = watch.WaitFor(absl::Seconds(150));
    s.watch_output = ReadFileToString(s.dir.Join("watch.out")).value_or("");
    ASSERT_TRUE(exited) << "watch did not end:\n" << s.watch_output
                        << Get(s.campaign).DebugString();
    s.watch_exit = watch.term_signal() == 0 ? watch.exit_code() : 128 + watch.term_signal();
  }
};

TEST_F(CliCommandsTest, RetryRunsTheFailedStepsAgainUntilTheyComplete) {
  std::vector<const v1::Step*> quantize = StepsOfKind(shared->failed, v1::STEP_KIND_QUANTIZE);
  ASSERT_EQ(quantize.size(), 2u);
  for (const v1::Step* q : quantize) {
    EXPECT_EQ(q->state(), v1::STEP_STATE_FAILED) << q->display_name();
    EXPECT_EQ(q->attempts(), 1u);
    EXPECT_THAT(q->last_error(), HasSubstr("failed to quantize"));
  }
  for (const v1::Step* g : StepsOfKind(shared->failed, v1::STEP_KIND_GENERATE)) {
    EXPECT_EQ(g->state(), v1::STEP_STATE_BLOCKED) << g->display_name();
  }
  ASSERT_EQ(shared->retries.size(), 2u);
  for (const SubprocessResult& r : shared->retries) {
    EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
    EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("(waiting|ready) quantize q[68]"));
  }
  v1::Campaign done = Get(shared->campaign);
  EXPECT_EQ(done.state(), v1::CAMPAIGN_STATE_SUCCEEDED);
  for (const v1::Step* q : StepsOfKind(done, v1::STEP_KIND_QUANTIZE)) {
    EXPECT_EQ(q->state(), v1::STEP_STATE_SUCCEEDED);
    EXPECT_EQ(q->worker_id(), "w1");
  }
  // `status` of the failed campaign said so with its exit code.
  EXPECT_EQ(shared->status_of_failed.exit_code, 1) << shared->status_of_failed.stderr_data;
  EXPECT_THAT(shared->status_of_failed.stderr_data, HasSubstr("failed"));
  EXPECT_THAT(shared->status_of_failed.stdout_data, HasSubstr("quantize"));
  // A name that matches no step is refused, naming it.
  SubprocessResult nosuch = Cohort({"retry", "quantize q99", "--campaign", shared->campaign});
  EXPECT_EQ(nosuch.exit_code, 2);
  EXPECT_THAT(nosuch.stderr_data, HasSubstr("no step 'quantize q99'"));
  // Retrying a step that succeeded is refused, naming its state.
  SubprocessResult again = Cohort({"retry", quantize[0]->key()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.stderr_data, HasSubstr("succeeded"));
}

TEST_F(CliCommandsTest, LogsShowTheToolOutputOfAStep) {
  const SubprocessResult& failed = shared->logs_of_failed;
  EXPECT_EQ(failed.exit_code, 0) << failed.stderr_data;
  // The command line the worker ran, then what the fake tool printed.
  EXPECT_THAT(failed.stdout_data, ::testing::ContainsRegex("\\$ [^\n]*llama-quantize [^\n]*Q8_0"));
  EXPECT_THAT(failed.stdout_data, HasSubstr("main: failed to quantize model from"));

  v1::Campaign done = Get(shared->campaign);
  const v1::Step* convert = StepsOfKind(done, v1::STEP_KIND_CONVERT).at(0);
  SubprocessResult by_name = Cohort({"logs", convert->display_name(), "--campaign",
                                     shared->campaign});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.stderr_data;
  EXPECT_THAT(by_name.stdout_data, HasSubstr("INFO:hf-to-gguf:"));
  EXPECT_THAT(by_name.stdout_data, HasSubstr("Model successfully exported to"));
  // It ends with what the step produced.
  EXPECT_THAT(by_name.stdout_data,
              HasSubstr("cohort-worker: output gguf " + OutputDigest(shared->campaign, *convert)));
  // By key alone, the same log.
  SubprocessResult by_key = Cohort({"logs", convert->key()});
  EXPECT_EQ(by_key.stdout_data, by_name.stdout_data);
  // The retried quantize step's log is now its successful run.
  SubprocessResult quantize = Cohort({"logs", "quantize q8", "--campaign", shared->campaign});
  EXPECT_THAT(quantize.stdout_data, HasSubstr("quant size"));
  EXPECT_THAT(quantize.stdout_data, Not(HasSubstr("failed to quantize")));
  SubprocessResult unknown = Cohort({"logs", "quantize q7", "--campaign", shared->campaign});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.stderr_data, HasSubstr("no step 'quantize q7'"));
}

TEST_F(CliCommandsTest, WatchPrintsPlainStepAndBenchProgressUntilTheCampaignEnds) {
  const std::string& out = shared->watch_output;
  EXPECT_EQ(shared->watch_exit, 0) << out;
  EXPECT_THAT(out, Not(HasSubstr("\033[")));  // stdout is a file: no redraws
  EXPECT_THAT(out, HasSubstr("campaign " + shared->campaign));
  // The snapshot, then one line per change: each remaining step was leased
  // and then succeeded, in that order.
  v1::Campaign done = Get(shared->campaign);
  for (v1::StepKind kind : {v1::STEP_KIND_QUANTIZE, v1::STEP_KIND_GENERATE,
                            v1::STEP_KIND_SCORE}) {
    for (const v1::Step* step : StepsOfKind(done, kind)) {
      std::string name = step->display_name();
      size_t at_leased = out.find(" leased     " + name);
      size_t at_succeeded = out.find(" succeeded  " + name);
      ASSERT_NE(at_leased, std::string::npos) << name << "\n" << out;
      ASSERT_NE(at_succeeded, std::string::npos) << name << "\n" << out;
      EXPECT_LT(at_leased, at_succeeded) << name;
    }
  }
  // Per bench: the snapshot shows it waiting; the end shows problems scored
  // and the pass rate of the stored rows.
  EXPECT_THAT(out, ::testing::ContainsRegex("q8 gsm8k-3 +waiting, 0/3 problems scored"));
  for (const char* model : {"q8", "q6"}) {
    const v1::Step* score = StepNamed(done, absl::StrCat("score ", model, " gsm8k-3"));
    ASSERT_NE(score, nullptr);
    std::vector<v1::ProblemResult> rows = Results(shared->campaign, score->key());
    ASSERT_EQ(rows.size(), 3u);
    int passed = 0;
    for (const v1::ProblemResult& r : rows) passed += r.verdict() == v1::VERDICT_PASS;
    std::string line = absl::StrCat("bench ", model, " gsm8k-3: done, 3/3 problems scored");
    if (passed > 0) absl::StrAppend(&line, ", pass ");
    EXPECT_THAT(out, HasSubstr(line)) << out;
    std::string final_line = absl::StrCat("done, 3/3 problems scored");
    if (passed > 0) {
      absl::StrAppend(&final_line, absl::StrFormat(", pass %.1f%% (%d/3)", 100.0 * passed / 3,
                                                   passed));
    }
    EXPECT_THAT(out, ::testing::ContainsRegex(absl::StrCat("  bench ", model,
                                                           " gsm8k-3 +", final_line)));
  }
  EXPECT_THAT(out, HasSubstr("campaign " + shared->campaign + " finished: succeeded"));

  // On a finished campaign watch prints the end state and returns at once.
  SubprocessResult after = Cohort({"watch", shared->campaign}, absl::Seconds(30));
  EXPECT_EQ(after.exit_code, 0) << after.stderr_data;
  EXPECT_THAT(after.stdout_data, HasSubstr("finished: succeeded"));
}

TEST_F(CliCommandsTest, WorkersListsTheRegisteredWorkersWithTheirCapabilities) {
  SubprocessResult r = Cohort({"workers"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  v1::ListWorkersResponse listed;
  ASSERT_TRUE(Stub()->ListWorkers(CohortdProcess::Context(shared->client_token).get(),
                                  v1::ListWorkersRequest(), &listed).ok());
  ASSERT_GE(listed.workers_size(), 1);
  std::map<std::string, std::string> lines;
  for (absl::string_view line : absl::StrSplit(r.stdout_data, '\n')) {
    std::vector<std::string> cols = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!cols.empty()) lines[cols[0]] = std::string(line);
  }
  for (const v1::WorkerInfo& w : listed.workers()) {
    ASSERT_TRUE(lines.count(w.id())) << w.id() << "\n" << r.stdout_data;
    std::vector<std::string> cols = absl::StrSplit(lines[w.id()], ' ', absl::SkipEmpty());
    ASSERT_GE(cols.size(), 10u) << lines[w.id()];
    EXPECT_EQ(cols[1], w.state());
    EXPECT_EQ(cols[2], w.hostname());
    EXPECT_EQ(cols[3], std::to_string(w.gpus_size()));
    EXPECT_EQ(cols[4], std::to_string(w.max_concurrent_steps()));
    for (const v1::ToolInfo& t : w.tools()) EXPECT_THAT(cols.back(), HasSubstr(t.name()));
  }
  // What the test started them with.
  std::vector<std::string> good = absl::StrSplit(lines["w1"], ' ', absl::SkipEmpty());
  EXPECT_EQ(good[1], "live");
  EXPECT_EQ(good[3], "1");
  EXPECT_EQ(good[4], "2");
  EXPECT_EQ(good[5], "gpu,fast");
  EXPECT_THAT(good.back(), HasSubstr("llama-quantize"));
  EXPECT_THAT(good.back(), HasSubstr("llama-server"));
  SubprocessResult details = Cohort({"workers", "--long"});
  EXPECT_THAT(details.stdout_data, ::testing::ContainsRegex("\n    tool llama-quantize "));
  EXPECT_THAT(details.stdout_data, ::testing::ContainsRegex("\n    gpu 0: "));
}

TEST_F(CliCommandsTest, ArtifactsListDigestsProducersAndLocations) {
  SubprocessResult r = Cohort({"artifacts", "--campaign", shared->campaign});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  v1::Campaign done = Get(shared->campaign);
  std::map<std::string, std::string> lines;  // digest -> line
  for (absl::string_view line : absl::StrSplit(r.stdout_data, '\n')) {
    if (absl::StartsWith(line, "sha256:")) lines[std::string(line.substr(0, 71))] = std::string(line);
  }
  std::set<std::string> outputs;
  for (const v1::Step& step : done.steps()) {
    std::string digest = OutputDigest(shared->campaign, step);
    ASSERT_TRUE(lines.count(digest)) << step.display_name() << " " << digest << "\n"
                                     << r.stdout_data;
    const std::string& line = lines[digest];
    EXPECT_THAT(line, HasSubstr(step.display_name()));
    EXPECT_THAT(line, HasSubstr("worker:w1"));
    EXPECT_TRUE(Holds("w1", digest)) << step.display_name();
    outputs.insert(digest);
  }
  // One line per artifact: steps that made equal bytes (the fake server
  // answers both models alike, so both score steps) share it.
  EXPECT_EQ(lines.size(), outputs.size()) << r.stdout_data;
  EXPECT_GE(outputs.size(), 8u);
  // Without a campaign: the inputs the CLI registered too, at their paths.
  SubprocessResult all = Cohort({"artifacts"});
  EXPECT_THAT(all.stdout_data, ::testing::ContainsRegex("contribution +[0-9.]+[BKM] +- +" +
                                                        shared->dir.Join("contrib.json")));
  SubprocessResult gguf = Cohort({"artifacts", "--campaign", shared->campaign, "--kind", "gguf"});
  EXPECT_THAT(gguf.stdout_data, HasSubstr("quantize q6"));
  EXPECT_THAT(gguf.stdout_data, Not(HasSubstr("dropmap")));
  SubprocessResult bad = Cohort({"artifacts", "--kind", "tarball"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.stderr_data, HasSubstr("unknown artifact kind 'tarball'"));
}

// The one file of `dir` whose name starts with `prefix` ("" when none or
// several).
std::string OnlyFileStartingWith(const std::string& dir, const std::string& prefix) {
  std::string found;
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) {
      found = entry.path().string();
      ++count;
    }
  }
  return count == 1 ? found : "";
}

TEST_F(CliCommandsTest, ExportWritesLmEvalSamplesThatEqualTheStoredResults) {
  std::string out = shared->dir.Join("export");
  SubprocessResult r = Cohort({"export", shared->campaign, "--out", out, "--format", "lm-eval"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stderr_data, Not(HasSubstr("warning"))) << "requests rebuilt differ from sent";
  SubprocessResult csv = Cohort({"export", shared->campaign, "--out", out, "--format", "csv"});
  EXPECT_EQ(csv.exit_code, 2);
  EXPECT_THAT(csv.stderr_data, HasSubstr("expected lm-eval"));
  // A model the campaign does not have is an error naming the ones it has.
  SubprocessResult typo =
      Cohort({"export", shared->campaign, "--out", out, "--model", "nosuch"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.stderr_data, HasSubstr("no model 'nosuch'"));
  EXPECT_THAT(typo.stderr_data, HasSubstr("q6"));
  v1::Campaign done = Get(shared->campaign);
  for (const char* model : {"q8", "q6"}) {
    SCOPED_TRACE(model);
    // lm-eval's layout: <out>/<model>/samples_<task>_<date>.jsonl, whose task
    // lm-eval's get_file_task_name reads between the first and last "_".
    std::string file = OnlyFileStartingWith(absl::StrCat(out, "/", model), "samples_gsm8k_");
    ASSERT_FALSE(file.empty()) << r.stdout_data;
    std::string name = fs::path(file).filename().string();
    EXPECT_EQ(name.substr(name.find('_') + 1, name.rfind('_') - name.find('_') - 1), "gsm8k");
    const v1::Step* score = StepNamed(done, absl::StrCat("score ", model, " gsm8k-3"));
    ASSERT_NE(score, nullptr);
    std::map<std::string, v1::ProblemResult> stored;
    int passed = 0;
    for (const v1::ProblemResult& row : Results(shared->campaign, score->key())) {
      stored[row.problem_id()] = row;
      passed += row.verdict() == v1::VERDICT_PASS;
    }
    ASSERT_EQ(stored.size(), 3u);
    std::istringstream lines(ReadFileToString(file).value_or(""));
    std::string line;
    std::set<std::string> exported;
    std::map<std::string, int> last_doc;  // per filter
    std::vector<std::string> filters_seen;
    while (std::getline(lines, line)) {
      nlohmann::json sample = nlohmann::json::parse(line, nullptr, false);
      ASSERT_TRUE(sample.is_object()) << line;
      std::string filter = sample.value("filter", "");
      if (filters_seen.empty() || filters_seen.back() != filter) filters_seen.push_back(filter);
      int doc_id = sample["doc_id"];
      EXPECT_GT(doc_id, last_doc.count(filter) ? last_doc[filter] : -1) << "doc order";
      last_doc[filter] = doc_id;
      std::vector<std::string> keys;
      for (auto it = sample.begin(); it != sample.end(); ++it) keys.push_back(it.key());
      for (const char* key : {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps",
                              "filter", "metrics", "doc_hash", "prompt_hash", "target_hash",
                              "exact_match"}) {
        EXPECT_TRUE(sample.contains(key)) << key << " missing in " << line;
      }
      std::string id = sample["cohort"]["problem_id"];
      ASSERT_TRUE(stored.count(id)) << id;
      const v1::ProblemResult& row = stored[id];
      if (filter == "strict-match") continue;  // recomputed from the response (unit-tested)
      exported.insert(id);
      // The dataset row, the gold solution and the request as lm-eval logs them.
      EXPECT_TRUE(sample["doc"]["question"].is_string());
      EXPECT_THAT(sample["target"].get<std::string>(), HasSubstr("#### "));
      std::string arg0 = sample["arguments"]["gen_args_0"]["arg_0"][0];
      EXPECT_EQ(Sha256Hex(arg0), row.prompt_digest());
      EXPECT_THAT(arg0, HasSubstr("\"role\": \"assistant\""));  // 5-shot as turns
      EXPECT_EQ(sample["prompt_hash"], row.prompt_digest());
      std::string scored = row.completion().empty() ? row.reasoning() : row.completion();
      EXPECT_EQ(sample["resps"][0][0], scored);
      EXPECT_EQ(sample["filtered_resps"][0],
                row.extracted_answer().empty() ? "[invalid]" : row.extracted_answer());
      EXPECT_EQ(sample["filter"], "flexible-extract");
      EXPECT_EQ(sample["metrics"], nlohmann::json::array({"exact_match"}));
      EXPECT_EQ(sample["exact_match"], row.verdict() == v1::VERDICT_PASS ? 1.0 : 0.0);
      EXPECT_EQ(sample["cohort"]["finish_reason"], row.finish_reason());
      EXPECT_EQ(sample["cohort"]["completion_tokens"], row.completion_tokens());
      EXPECT_EQ(sample["cohort"]["reasoning"], row.reasoning());
    }
    EXPECT_EQ(exported.size(), stored.size());
    EXPECT_EQ(filters_seen, (std::vector<std::string>{"strict-match", "flexible-extract"}));
    std::string results_file = OnlyFileStartingWith(absl::StrCat(out, "/", model), "results_");
    ASSERT_FALSE(results_file.empty());
    nlohmann::json results =
        nlohmann::json::parse(ReadFileToString(results_file).value_or(""), nullptr, false);
    ASSERT_TRUE(results.is_object());
    EXPECT_DOUBLE_EQ(results["results"]["gsm8k"]["exact_match,flexible-extract"].get<double>(),
                     passed / 3.0);
    EXPECT_EQ(results["n-samples"]["gsm8k"]["effective"], 3);
    EXPECT_EQ(results["model_name"], model);
  }
  // --model narrows the export to one folder.
  std::string only = shared->dir.Join("export-q6");
  SubprocessResult one = Cohort({"export", shared->campaign, "--out", only, "--model", "q6"});
  ASSERT_EQ(one.exit_code, 0) << one.stderr_data;
  int folders = 0;
  for (const auto& entry : fs::directory_iterator(only)) {
    ++folders;
    EXPECT_EQ(entry.path().filename(), "q6");
  }
  EXPECT_EQ(folders, 1);
}

// Last: it replaces the workers. A fresh worker with an empty store runs the
// manifest's whole chain again; every pinned digest must come back, and must
// now be held by that worker (so it was produced again, not found).
TEST_F(CliCommandsTest, ManifestReproducesEveryDigestAndATamperedPinIsTheOnlyMismatch) {
  SubprocessResult manifest = Cohort({"manifest", shared->campaign, "--out", "m.yaml"});
  ASSERT_EQ(manifest.exit_code, 0) << manifest.stderr_data;
  std::string text = ReadFileToString(shared->dir.Join("m.yaml")).value_or("");
  EXPECT_THAT(text, HasSubstr("kind: \"cohort\""));
  v1::Campaign done = Get(shared->campaign);
  std::map<std::string, std::string> pinned;  // "q8 quantized" -> digest
  for (const char* model : {"q8", "q6"}) {
    std::string m = model;
    const v1::Step* dropmap = StepsOfKind(done, v1::STEP_KIND_DROPMAP).at(0);
    const v1::Step* prune = StepsOfKind(done, v1::STEP_KIND_PRUNE).at(0);
    const v1::Step* convert = StepsOfKind(done, v1::STEP_KIND_CONVERT).at(0);
    const v1::Step* quantize = StepNamed(done, "quantize " + m);
    ASSERT_NE(quantize, nullptr);
    pinned[m + " drop_map"] = OutputDigest(shared->campaign, *dropmap);
    pinned[m + " pruned"] = OutputDigest(shared->campaign, *prune);
    pinned[m + " gguf"] = OutputDigest(shared->campaign, *convert);
    pinned[m + " quantized"] = OutputDigest(shared->campaign, *quantize);
  }
  for (const auto& [what, digest] : pinned) {
    ASSERT_FALSE(digest.empty()) << what;
    EXPECT_THAT(text, HasSubstr(digest)) << what;
  }
  EXPECT_NE(pinned["q8 quantized"], pinned["q6 quantized"]);

  for (auto& w : shared->workers) w->Terminate();
  ASSERT_OK(StartWorker("w-repro", {"gpu"}));
  absl::Time start = absl::Now();
  SubprocessResult repro = Cohort({"reproduce", "m.yaml"}, absl::Minutes(3));
  absl::Duration took = absl::Now() - start;
  ASSERT_EQ(repro.exit_code, 0) << repro.stdout_data << repro.stderr_data;
  EXPECT_THAT(repro.stderr_data, HasSubstr("9 steps, 9 run again"));
  EXPECT_THAT(repro.stdout_data, HasSubstr("8 of 8 pinned artifacts match"));
  for (const auto& [what, digest] : pinned) {
    std::vector<std::string> parts = absl::StrSplit(what, ' ');
    EXPECT_THAT(repro.stdout_data,
                ::testing::ContainsRegex(parts[0] + " +" + parts[1] + " +match +" + digest))
        << what;
  }
  EXPECT_THAT(repro.stdout_data, ::testing::ContainsRegex("\\(input\\) +base_model +match"));
  std::string repro_id = std::string(absl::StripPrefix(
      std::vector<std::string>(absl::StrSplit(repro.stdout_data, '\n'))[0], "campaign "));
  ASSERT_NE(repro_id, shared->campaign);
  // Fresh executions: the new worker ran every step of the new campaign and
  // holds each pinned artifact.
  v1::Campaign again = Get(repro_id);
  EXPECT_EQ(again.state(), v1::CAMPAIGN_STATE_SUCCEEDED);
  for (const v1::Step& step : again.steps()) EXPECT_EQ(step.worker_id(), "w-repro");
  SubprocessResult artifacts = Cohort({"artifacts", "--campaign", repro_id});
  for (const auto& [what, digest] : pinned) {
    EXPECT_THAT(artifacts.stdout_data, ::testing::ContainsRegex(digest + "[^\n]*worker:w-repro"))
        << what;
    EXPECT_TRUE(Holds("w-repro", digest)) << what;
  }
  std::printf("[ measured ] reproduce of 9 steps (2 variants) took %.1f s; setup %.1f s\n",
              absl::ToDoubleSeconds(took), absl::ToDoubleSeconds(shared->setup_time));

  // One pin changed: exactly that artifact is reported, exit 1.
  std::string tampered = text;
  std::string wrong = "sha256:" + std::string(64, 'e');
  size_t at = tampered.find(pinned["q6 quantized"]);
  ASSERT_NE(at, std::string::npos);
  tampered.replace(at, pinned["q6 quantized"].size(), wrong);
  ASSERT_OK(WriteFileAtomically(shared->dir.Join("tampered.yaml"), tampered));
  SubprocessResult bad = Cohort({"reproduce", "tampered.yaml"}, absl::Minutes(3));
  EXPECT_EQ(bad.exit_code, 1) << bad.stdout_data << bad.stderr_data;
  EXPECT_THAT(bad.stdout_data, HasSubstr("7 of 8 pinned artifacts match"));
  std::vector<std::string> mismatches;
  for (absl::string_view line : absl::StrSplit(bad.stdout_data, '\n')) {
    if (absl::StrContains(line, "MISMATCH")) mismatches.emplace_back(line);
  }
  ASSERT_EQ(mismatches.size(), 1u) << bad.stdout_data;
  EXPECT_THAT(mismatches[0], ::testing::ContainsRegex("^q6 +quantized +MISMATCH +" +
                                                      pinned["q6 quantized"]));
  EXPECT_THAT(bad.stdout_data, ::testing::ContainsRegex("pinned +" + wrong));
  EXPECT_THAT(bad.stderr_data, HasSubstr("1 artifact(s) differ from their pinned digest: "
                                         "q6 quantized"));
  // verify compares without running anything: same answer.
  SubprocessResult verify = Cohort({"verify", repro_id, "--manifest", "tampered.yaml"});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_THAT(verify.stdout_data, HasSubstr("7 of 8 pinned artifacts match"));
  SubprocessResult own = Cohort({"verify", repro_id});
  EXPECT_EQ(own.exit_code, 0) << own.stdout_data << own.stderr_data;
}

TEST_F(CliCommandsTest, ManifestAndReproduceRefuseWhatTheyCannotUse) {
  SubprocessResult unknown = Cohort({"manifest", "c-no-such"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.stderr_data, HasSubstr("c-no-such"));
  SubprocessResult nopins = Cohort({"reproduce", "sweep.yaml"});
  EXPECT_EQ(nopins.exit_code, 2);
  EXPECT_THAT(nopins.stderr_data, HasSubstr("no variant pins a digest"));
}

}  // namespace
}  // namespace cohort
