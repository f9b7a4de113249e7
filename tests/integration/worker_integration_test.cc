// cohortd and cohort-worker agents as real processes on loopback, running a
// dropmap -> prune -> convert -> quantize chain with the llama.cpp fakes.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
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
#include "worker/llama/fake_server.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_summary.h"

namespace cohort {
namespace {

using testing::CohortdProcess;
using testing::WorkerProcess;
using testing::WorkerSpec;
namespace fs = std::filesystem;

v1::StepSpec* AddStep(v1::CampaignSpec* spec, const std::string& id, v1::StepKind kind,
                      const std::string& params, const std::vector<std::string>& labels) {
  v1::StepSpec* step = spec->add_steps();
  step->set_node_id(id);
  step->set_kind(kind);
  step->set_params_json(params);
  step->set_display_name(id);
  for (const std::string& l : labels) step->mutable_requirements()->add_labels(l);
  return step;
}

void FromArtifact(v1::StepSpec* step, const std::string& name, const std::string& digest) {
  v1::StepSpecInput* in = step->add_inputs();
  in->set_name(name);
  in->set_artifact_digest(digest);
}

void FromNode(v1::StepSpec* step, const std::string& name, const std::string& node,
              const std::string& output) {
  v1::StepSpecInput* in = step->add_inputs();
  in->set_name(name);
  in->mutable_node_output()->set_node_id(node);
  in->mutable_node_output()->set_output(output);
}

class WorkerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Heartbeats every second, so a step's progress is seen while it runs.
    cohortd_ = std::make_unique<CohortdProcess>(
        dir_.Join("cohortd"), std::vector<std::string>{"--heartbeat-seconds", "1"});
    fs::create_directories(dir_.Join("cohortd"));
    ASSERT_OK(cohortd_->Start());
    ASSERT_OK_AND_ASSIGN(client_token_, cohortd_->CreateToken("client"));
    ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd_->CreateToken("worker"));
    ASSERT_OK(WriteFileAtomically(dir_.Join("worker.token"), worker_token));
    client_ = v1::Coordinator::NewStub(cohortd_->Channel());
    std::string bin = testing::BinDir() + "/cohort-worker";
    Run({bin, "synth-model", "--layout", "gemma4", "--output-dir", dir_.Join("base"),
         "--layers", "2", "--experts", "8"});
    Run({bin, "synth-contrib", "--layers", "2", "--experts", "8", "--output",
         dir_.Join("contrib.json")});
    base_ = Register(dir_.Join("base"), true);
    contrib_ = Register(dir_.Join("contrib.json"), false);
  }

  static void Run(std::vector<std::string> argv) {
    SubprocessOptions options;
    options.argv = std::move(argv);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
  }

  std::string Register(const std::string& path, bool folder) {
    std::string hex = folder ? Sha256Folder(path).value() : Sha256File(path).value();
    v1::RegisterArtifactsRequest request;
    v1::Artifact* a = request.add_artifacts();
    a->set_digest("sha256:" + hex);
    a->set_is_folder(folder);
    a->add_locations()->set_shared_path(path);
    v1::RegisterArtifactsResponse response;
    grpc::Status s = client_->RegisterArtifacts(CohortdProcess::Context(client_token_).get(),
                                                request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return "sha256:" + hex;
  }

  // GSM8K's splits registered as shared paths, and the card's profile cut
  // to gsm8k's first `limit` problems.
  struct Gsm8kRun {
    std::string dataset;
    std::string fewshot;
    nlohmann::json profile;
  };
  Gsm8kRun RegisterGsm8k(int limit) {
    Gsm8kRun run;
    fs::copy_file(cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl", dir_.Join("gsm8k.jsonl"));
    fs::copy_file(cohort::testing::DatasetsDir() + "/gsm8k/train.jsonl", dir_.Join("train.jsonl"));
    run.dataset = Register(dir_.Join("gsm8k.jsonl"), false);
    run.fewshot = Register(dir_.Join("train.jsonl"), false);
    absl::StatusOr<std::string> text = ReadFileToString(
        cohort::testing::SourceDir() + "/worker/eval/profiles/omk-card-2026-07.json");
    EXPECT_OK(text.status());
    run.profile = nlohmann::json::parse(text.value_or("{}"));
    nlohmann::json bench = run.profile["benches"]["gsm8k"];
    bench["limit"] = limit;
    run.profile["benches"] = {{"gsm8k", bench}};
    return run;
  }

  // A campaign of one gsm8k generate step (with `extra` params, needing
  // `tool`) and its score step.
  static v1::CampaignSpec Gsm8kCampaign(const std::string& name, const Gsm8kRun& run,
                                        const nlohmann::json& extra, const std::string& tool) {
    v1::CampaignSpec spec;
    spec.set_name(name);
    nlohmann::json params = {{"bench", "gsm8k"}, {"profile", run.profile},
                             {"shard", {{"index", 0}, {"count", 1}}}};
    params.update(extra);
    auto* gen = AddStep(&spec, "generate", v1::STEP_KIND_GENERATE, params.dump(), {});
    gen->mutable_requirements()->add_tools(tool);
    FromArtifact(gen, "dataset", run.dataset);
    FromArtifact(gen, "fewshot", run.fewshot);
    nlohmann::json score_params = {{"bench", "gsm8k"}, {"profile", run.profile}};
    auto* score = AddStep(&spec, "score", v1::STEP_KIND_SCORE, score_params.dump(), {});
    FromNode(score, "completions", "generate", "completions");
    FromArtifact(score, "dataset", run.dataset);
    FromArtifact(score, "fewshot", run.fewshot);
    return spec;
  }

  std::unique_ptr<WorkerProcess> StartWorker(const std::string& id,
                                             std::vector<std::string> labels,
                                             std::map<std::string, std::string> env = {},
                                             std::vector<std::string> flags = {}) {
    WorkerSpec spec;
    spec.id = id;
    spec.state_dir = dir_.Join(id);
    spec.coordinator = cohortd_->address();
    spec.token_file = dir_.Join("worker.token");
    spec.labels = std::move(labels);
    spec.env = std::move(env);
    spec.extra_flags = std::move(flags);
    auto worker = std::make_unique<WorkerProcess>(spec);
    EXPECT_OK(worker->Start());
    return worker;
  }

  std::string Submit(const v1::CampaignSpec& spec) {
    v1::SubmitCampaignRequest request;
    *request.mutable_spec() = spec;
    v1::SubmitCampaignResponse response;
    grpc::Status s = client_->SubmitCampaign(CohortdProcess::Context(client_token_).get(),
                                             request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.campaign_id();
  }

  v1::Campaign Get(const std::string& id) {
    v1::GetCampaignRequest request;
    request.set_campaign_id(id);
    request.set_include_steps(true);
    v1::Campaign campaign;
    client_->GetCampaign(CohortdProcess::Context(client_token_).get(), request, &campaign);
    return campaign;
  }

  // A one-step campaign: convert the synthetic checkpoint.
  std::string SubmitConvert() {
    v1::CampaignSpec spec;
    spec.set_name("convert");
    auto* cv = AddStep(&spec, "convert", v1::STEP_KIND_CONVERT, "{}", {});
    FromArtifact(cv, "checkpoint", base_);
    return Submit(spec);
  }

  // Polls until the campaign's first step is LEASED or 30 s pass.
  void WaitLeased(const std::string& id) {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline && Get(id).steps(0).state() != v1::STEP_STATE_LEASED) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  // Polls until the campaign leaves RUNNING or `timeout` passes.
  v1::Campaign WaitFinished(const std::string& id, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    v1::Campaign campaign = Get(id);
    while (campaign.state() == v1::CAMPAIGN_STATE_RUNNING && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      campaign = Get(id);
    }
    return campaign;
  }

  const v1::Step* StepNamed(const v1::Campaign& campaign, const std::string& name) {
    for (const v1::Step& s : campaign.steps()) {
      if (s.display_name() == name) return &s;
    }
    return nullptr;
  }

  cohort::testing::TempDir dir_;
  std::unique_ptr<CohortdProcess> cohortd_;
  std::string client_token_;
  std::unique_ptr<v1::Coordinator::Stub> client_;
  std::string base_, contrib_;
};

TEST_F(WorkerIntegrationTest, ChainRunsAcrossTwoWorkersWithPeerTransfer) {
  // Pruning runs on worker A only, GGUF work on worker B only, so B must
  // fetch the pruned checkpoint from A.
  auto a = StartWorker("wa", {"prune"});
  auto b = StartWorker("wb", {"gguf"});
  v1::CampaignSpec spec;
  spec.set_name("chain");
  auto* dm = AddStep(&spec, "dropmap", v1::STEP_KIND_DROPMAP,
                     R"({"flags": {"target": 6, "protect_top": 1}})", {"prune"});
  FromArtifact(dm, "contrib", contrib_);
  auto* pr = AddStep(&spec, "prune", v1::STEP_KIND_PRUNE, "{}", {"prune"});
  FromArtifact(pr, "checkpoint", base_);
  FromNode(pr, "drop_map", "dropmap", "drop_map");
  auto* up = AddStep(&spec, "upweight", v1::STEP_KIND_UPWEIGHT,
                     R"({"alpha": 1.2, "target": "mlp.down_proj.weight"})", {"prune"});
  FromNode(up, "checkpoint", "prune", "checkpoint");
  auto* cv = AddStep(&spec, "convert", v1::STEP_KIND_CONVERT, R"({"outtype": "bf16"})", {"gguf"});
  FromNode(cv, "checkpoint", "upweight", "checkpoint");
  auto* qz = AddStep(&spec, "quantize", v1::STEP_KIND_QUANTIZE, R"({"type": "Q6_K"})", {"gguf"});
  FromNode(qz, "gguf", "convert", "gguf");
  std::string id = Submit(spec);
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(90));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << campaign.DebugString() << ReadFileToString(b->LogPath()).value_or("");
  EXPECT_EQ(StepNamed(campaign, "prune")->worker_id(), "wa");
  EXPECT_EQ(StepNamed(campaign, "convert")->worker_id(), "wb");
  // B holds a verified copy of A's upweighted checkpoint, fetched by digest.
  v1::ListArtifactsRequest list;
  list.set_campaign_id(id);
  list.set_kind(v1::ARTIFACT_KIND_CHECKPOINT);
  v1::ListArtifactsResponse artifacts;
  ASSERT_TRUE(client_->ListArtifacts(CohortdProcess::Context(client_token_).get(), list,
                                     &artifacts).ok());
  ASSERT_EQ(artifacts.artifacts_size(), 2);  // pruned, then upweighted
  int fetched = 0;
  for (const v1::Artifact& a : artifacts.artifacts()) {
    std::string copy = dir_.Join("wb/artifacts/objects/" + a.digest().substr(7));
    if (!fs::exists(copy)) continue;
    EXPECT_EQ("sha256:" + Sha256Folder(copy).value(), a.digest());
    ++fetched;
  }
  EXPECT_EQ(fetched, 1);
  EXPECT_NE(ReadFileToString(b->LogPath()).value_or("").find("fetched"), std::string::npos);
  // The quantized model has the pruned expert count.
  list.set_kind(v1::ARTIFACT_KIND_GGUF);
  ASSERT_TRUE(client_->ListArtifacts(CohortdProcess::Context(client_token_).get(), list,
                                     &artifacts).ok());
  bool checked = false;
  for (const v1::Artifact& g : artifacts.artifacts()) {
    std::string model = dir_.Join("wb/artifacts/objects/" + g.digest().substr(7) +
                                  "/model-Q6_K.gguf");
    if (!fs::exists(model)) continue;
    auto summary = worker::quant::SummarizeGguf(worker::quant::ReadGgufFile(model).value()).value();
    EXPECT_EQ(summary.expert_count, 6u);
    checked = true;
  }
  EXPECT_TRUE(checked);
}

// Two generate steps leased at once by a worker with two GPUs each get a
// card of their own (what their tools then see: ToolExecutorTest.
// StepToolsSeeOnlyTheGpusTheStepHolds), shown in the heartbeat progress and
// the step log.
TEST_F(WorkerIntegrationTest, ConcurrentGpuStepsGetDistinctCards) {
  // The worker's log of a step: <state>/logs/<first 16 hex of the key>-<epoch>.log.
  auto StepLogPath = [&](const v1::Step& step) {
    std::string prefix = step.key().substr(7, 16);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_.Join("wg/logs"), ec)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0) return entry.path().string();
    }
    return std::string();
  };
  WorkerSpec spec;
  spec.id = "wg";
  spec.state_dir = dir_.Join("wg");
  spec.coordinator = cohortd_->address();
  spec.token_file = dir_.Join("worker.token");
  spec.labels = {"gguf", "eval"};
  spec.slots = 2;
  spec.gpus = 2;
  // Slow enough (about 3 s a step) that heartbeats carry its progress.
  spec.env = {{"FAKE_LLAMA_TOKEN_LATENCY_MS", "60"}};
  WorkerProcess worker(spec);
  ASSERT_OK(worker.Start());
  std::string data = cohort::testing::DatasetsDir() + "/gsm8k";
  std::string test = Register(data + "/test.jsonl", false);
  std::string train = Register(data + "/train.jsonl", false);
  absl::StatusOr<std::string> profile_text = ReadFileToString(
      cohort::testing::SourceDir() + "/worker/eval/profiles/omk-card-2026-07.json");
  ASSERT_OK(profile_text.status());
  nlohmann::json profile = nlohmann::json::parse(*profile_text);
  profile["benches"] = {{"gsm8k", profile["benches"]["gsm8k"]}};
  profile["benches"]["gsm8k"]["limit"] = 8;
  v1::CampaignSpec campaign_spec;
  campaign_spec.set_name("gpus");
  auto* cv = AddStep(&campaign_spec, "convert", v1::STEP_KIND_CONVERT, R"({"outtype": "bf16"})",
                     {"gguf"});
  FromArtifact(cv, "checkpoint", base_);
  for (int shard = 0; shard < 2; ++shard) {
    nlohmann::json params = {{"bench", "gsm8k"}, {"profile", profile},
                             {"shard", {{"index", shard}, {"count", 2}}},
                             {"server", {{"parallel", 1}, {"ctx_size", 65536}}}};
    auto* gen = AddStep(&campaign_spec, absl::StrCat("generate-", shard), v1::STEP_KIND_GENERATE,
                        params.dump(), {"eval"});
    gen->mutable_requirements()->set_gpus(1);
    FromNode(gen, "gguf", "convert", "gguf");
    FromArtifact(gen, "dataset", test);
    FromArtifact(gen, "fewshot", train);
  }
  std::string id = Submit(campaign_spec);
  // While both run, their progress names two different cards.
  std::set<uint32_t> cards_in_progress;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  v1::Campaign campaign = Get(id);
  while (campaign.state() == v1::CAMPAIGN_STATE_RUNNING && absl::Now() < deadline) {
    int leased = 0;
    std::set<uint32_t> cards;
    for (const v1::Step& s : campaign.steps()) {
      if (s.kind() != v1::STEP_KIND_GENERATE || s.state() != v1::STEP_STATE_LEASED) continue;
      ++leased;
      for (uint32_t g : s.progress().gpus()) cards.insert(g);
    }
    if (leased == 2 && cards.size() == 2) cards_in_progress = cards;  // both at once
    absl::SleepFor(absl::Milliseconds(100));
    campaign = Get(id);
  }
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << ReadFileToString(worker.LogPath()).value_or("");
  EXPECT_EQ(cards_in_progress, (std::set<uint32_t>{0, 1}));
  // Each step's log shows the card its tools were given.
  std::set<std::string> seen;
  for (const v1::Step& s : campaign.steps()) {
    if (s.kind() != v1::STEP_KIND_GENERATE) continue;
    absl::StatusOr<std::string> log = ReadFileToString(StepLogPath(s));
    ASSERT_OK(log.status());
    for (const char* devices : {"0", "1"}) {
      if (log->find(absl::StrCat("$ CUDA_VISIBLE_DEVICES=", devices, " ")) != std::string::npos) {
        seen.insert(devices);
      }
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0", "1"}));
}

// A slow quantize reports "[ n/ N]" progress through heartbeats. Stored as
// protobuf JSON strings, that progress made the campaign unreadable for good
// once read back; now it is served while the step runs and gone when it ends,
// and the finished campaign reads (also through `cohort status`).
TEST_F(WorkerIntegrationTest, SlowQuantizeReportsProgressAndTheCampaignStaysReadable) {
  auto w = StartWorker("w1", {}, {{"COHORT_FAKE_FAIL", "slow"},
                                  {"COHORT_FAKE_FAIL_ONLY", "llama-quantize"},
                                  {"COHORT_FAKE_SLOW_MS", "150"}});
  v1::CampaignSpec spec;
  spec.set_name("slow-quantize");
  auto* cv = AddStep(&spec, "convert", v1::STEP_KIND_CONVERT, R"({"outtype": "bf16"})", {});
  FromArtifact(cv, "checkpoint", base_);
  auto* qz = AddStep(&spec, "quantize", v1::STEP_KIND_QUANTIZE, R"({"type": "Q8_0"})", {});
  FromNode(qz, "gguf", "convert", "gguf");
  std::string id = Submit(spec);
  // The condition, not a clock: progress of the running quantize is served.
  uint64_t seen_total = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(90);
  while (absl::Now() < deadline && seen_total == 0) {
    v1::Campaign c = Get(id);
    const v1::Step* q = StepNamed(c, "quantize");
    if (q != nullptr && q->state() == v1::STEP_STATE_LEASED && q->progress().total() > 0) {
      seen_total = q->progress().total();
      EXPECT_LE(q->progress().done(), q->progress().total());
      EXPECT_EQ(q->progress().unit(), "tensors");
    }
    if (c.state() != v1::CAMPAIGN_STATE_RUNNING) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GT(seen_total, 0u) << "no progress was ever served";
  v1::Campaign done = WaitFinished(id, absl::Seconds(120));
  ASSERT_EQ(done.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << done.DebugString() << ReadFileToString(w->LogPath()).value_or("");
  EXPECT_FALSE(StepNamed(done, "quantize")->has_progress()) << "progress outlived its step";
  SubprocessOptions status;
  status.argv = {testing::BinDir() + "/cohort", "status", id};
  status.extra_env = {{"COHORT_COORDINATOR", cohortd_->address()},
                      {"COHORT_TOKEN", client_token_},
                      {"HOME", dir_.path()}};
  absl::StatusOr<SubprocessResult> shown = RunSubprocess(status);
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->exit_code, 0) << shown->stderr_data;
  EXPECT_NE(shown->stdout_data.find("succeeded"), std::string::npos) << shown->stdout_data;
}

// Worker A's converter hangs; A is killed mid-step; B takes the step over once
// A's lease lapses (the time it takes is a chaos-harness measurement,
// docs/RELIABILITY.md, not an assertion here).
TEST_F(WorkerIntegrationTest, KilledWorkersStepIsReleasedToTheOther) {
  auto a = StartWorker("wa", {}, {{"COHORT_FAKE_FAIL", "hang"}});
  std::string id = SubmitConvert();
  WaitLeased(id);
  ASSERT_EQ(Get(id).steps(0).worker_id(), "wa");
  absl::SleepFor(absl::Seconds(1));  // in the middle of the step
  auto b = StartWorker("wb", {});
  a->Kill9();
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(90));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  EXPECT_EQ(campaign.steps(0).worker_id(), "wb");
  EXPECT_EQ(campaign.steps(0).lease_epoch(), 2u);
}

// --exit-when-idle: a worker (a Slurm array task) runs the campaign's step,
// then, offered nothing for the idle time, drains and exits 0 by itself.
TEST_F(WorkerIntegrationTest, AWorkerWithExitWhenIdleStopsOnceTheWorkIsDone) {
  auto worker = StartWorker("idle", {}, {}, {"--exit-when-idle", "2"});
  std::string id = SubmitConvert();
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(90));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  EXPECT_EQ(campaign.steps(0).worker_id(), "idle");
  ASSERT_TRUE(worker->WaitForExit(absl::Seconds(60)))
      << ReadFileToString(worker->LogPath()).value_or("");
  EXPECT_EQ(worker->exit_code(), 0);
  EXPECT_THAT(ReadFileToString(worker->LogPath()).value_or(""),
              ::testing::HasSubstr("stopping (--exit-when-idle)"));
}

// An idle worker with --exit-when-idle stays while the sweep still has a
// step, even one another worker holds: when that worker dies, the idle one
// takes the step over. (It left at once in the first version, found by
// tests/deploy/slurm_test.sh: the array emptied mid-sweep.)
TEST_F(WorkerIntegrationTest, AnIdleWorkerStaysWhileAnotherHoldsTheSweepsStep) {
  auto a = StartWorker("wa", {}, {{"COHORT_FAKE_FAIL", "hang"}});
  std::string id = SubmitConvert();
  WaitLeased(id);
  ASSERT_EQ(Get(id).steps(0).worker_id(), "wa");
  auto b = StartWorker("wb", {}, {}, {"--exit-when-idle", "1"});
  a->Kill9();  // its lease runs out; only b is left to take the step
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(90));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << campaign.DebugString() << ReadFileToString(b->LogPath()).value_or("");
  EXPECT_EQ(campaign.steps(0).worker_id(), "wb");
  ASSERT_TRUE(b->WaitForExit(absl::Seconds(60)));
  EXPECT_EQ(b->exit_code(), 0);
}

// A worker killed while its lease poll is parked leaves that poll behind in
// cohortd. Work that arrives next must not be granted into the void (and
// cost an attempt when the lease expires): it goes to a live worker at once.
TEST_F(WorkerIntegrationTest, WorkArrivingAfterAWorkerDiedParkedGoesToALiveOne) {
  auto a = StartWorker("wa", {});
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool registered = false;
  while (!registered && absl::Now() < deadline) {
    v1::ListWorkersResponse workers;
    client_->ListWorkers(CohortdProcess::Context(client_token_).get(), {}, &workers);
    for (const v1::WorkerInfo& w : workers.workers()) registered |= w.id() == "wa";
    if (!registered) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(registered);
  absl::SleepFor(absl::Seconds(1));  // its lease poll is parked
  a->Kill9();
  absl::SleepFor(absl::Milliseconds(500));
  auto b = StartWorker("wb", {});
  v1::CampaignSpec spec;
  spec.set_name("after a death");
  auto* dm = AddStep(&spec, "dropmap", v1::STEP_KIND_DROPMAP, R"({"flags": {"target": 6}})", {});
  FromArtifact(dm, "contrib", contrib_);
  absl::Time submitted = absl::Now();
  v1::Campaign campaign = WaitFinished(Submit(spec), absl::Seconds(60));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  EXPECT_EQ(campaign.steps(0).worker_id(), "wb");
  EXPECT_EQ(campaign.steps(0).attempts(), 1u) << campaign.DebugString();
  EXPECT_LT(absl::Now() - submitted, absl::Seconds(20)) << "waited for a lease to expire";
}

TEST_F(WorkerIntegrationTest, QuantizeWithWrongExpertCountFailsTheStep) {
  auto a = StartWorker("wa", {}, {{"COHORT_FAKE_FAIL", "wrong_expert_count"},
                                  {"COHORT_FAKE_FAIL_ONLY", "llama-quantize"}});
  v1::CampaignSpec spec;
  spec.set_name("bad quantize");
  auto* cv = AddStep(&spec, "convert", v1::STEP_KIND_CONVERT, "{}", {});
  FromArtifact(cv, "checkpoint", base_);
  auto* qz = AddStep(&spec, "quantize", v1::STEP_KIND_QUANTIZE, R"({"type": "Q6_K"})", {});
  FromNode(qz, "gguf", "convert", "gguf");
  v1::Campaign campaign = WaitFinished(Submit(spec), absl::Seconds(60));
  EXPECT_EQ(campaign.state(), v1::CAMPAIGN_STATE_FAILED);
  const v1::Step* quantize = StepNamed(campaign, "quantize");
  ASSERT_NE(quantize, nullptr);
  EXPECT_EQ(quantize->state(), v1::STEP_STATE_FAILED);
  EXPECT_EQ(quantize->attempts(), 1u);  // a verification mismatch is not retried
  EXPECT_NE(quantize->last_error().find("expert_count is 9, expected 8"), std::string::npos)
      << quantize->last_error();
}

// The poisoning probe: a client registers a digest at a path whose bytes
// are not those bytes (here: changed after registering). The worker checks
// the digest before the step reads the file, and the step fails naming both
// digests instead of running on the doctored copy.
TEST_F(WorkerIntegrationTest, ASharedInputWhoseBytesDoNotMatchItsDigestFailsTheStep) {
  std::string copy = dir_.Join("contrib-copy.json");
  fs::copy_file(dir_.Join("contrib.json"), copy);
  std::ofstream(copy, std::ios::app) << " ";
  std::string registered = Register(copy, false);
  std::ofstream(copy, std::ios::app) << " ";  // doctored after registering
  auto a = StartWorker("wa", {});
  v1::CampaignSpec spec;
  spec.set_name("poisoned");
  auto* dm = AddStep(&spec, "dropmap", v1::STEP_KIND_DROPMAP,
                     R"({"flags": {"target": 6, "protect_top": 1}})", {});
  FromArtifact(dm, "contrib", registered);
  v1::Campaign campaign = WaitFinished(Submit(spec), absl::Seconds(60));
  EXPECT_EQ(campaign.state(), v1::CAMPAIGN_STATE_FAILED);
  const v1::Step* step = StepNamed(campaign, "dropmap");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->state(), v1::STEP_STATE_FAILED);
  EXPECT_THAT(step->last_error(), ::testing::HasSubstr("contrib-copy.json has digest sha256:"));
  EXPECT_THAT(step->last_error(), ::testing::HasSubstr(registered));
}

TEST_F(WorkerIntegrationTest, WorkerKilledAfterFinishingShipsItsSpoolOnRestart) {
  // The coordinator is down while the worker finishes: the completion waits
  // in the spool, survives a kill -9 of the worker, and lands after both
  // come back.
  auto a = StartWorker("wa", {});
  v1::CampaignSpec spec;
  spec.set_name("spool");
  auto* dm = AddStep(&spec, "dropmap", v1::STEP_KIND_DROPMAP, R"({"flags": {"target": 6}})", {});
  FromArtifact(dm, "contrib", contrib_);
  std::string id = Submit(spec);
  WaitLeased(id);
  cohortd_->Kill9();
  // Once the worker says the completion is in its spool, kill it too (a
  // condition, not a clock: under load the step took longer than the 2 s
  // once waited here).
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline &&
         ReadFileToString(a->LogPath()).value_or("").find("spooled the completion") ==
             std::string::npos) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_NE(ReadFileToString(a->LogPath()).value_or("").find("spooled the completion"),
            std::string::npos)
      << ReadFileToString(a->LogPath()).value_or("");
  a->Kill9();
  ASSERT_OK(cohortd_->Start());
  client_ = v1::Coordinator::NewStub(cohortd_->Channel());
  auto again = StartWorker("wa", {});
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(60));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  EXPECT_EQ(campaign.steps(0).attempts(), 1u);  // shipped, not re-run
}

// The only holder of a step's input is down for longer than a step's whole
// retry budget (3 attempts, 5 s + 10 s backoff): the step must wait for it,
// not fail. Each failed fetch hands the attempt back; once the holder is
// back, the step runs, on its first counted attempt.
TEST_F(WorkerIntegrationTest, StepWaitsForItsInputsHolderInsteadOfFailing) {
  auto a = StartWorker("wa", {"a"});
  v1::CampaignSpec spec;
  spec.set_name("holder restarts");
  auto* dm = AddStep(&spec, "dropmap", v1::STEP_KIND_DROPMAP, R"({"flags": {"target": 6}})",
                     {"a"});
  FromArtifact(dm, "contrib", contrib_);
  auto* pr = AddStep(&spec, "prune", v1::STEP_KIND_PRUNE, "{}", {"b"});
  FromArtifact(pr, "checkpoint", base_);
  FromNode(pr, "drop_map", "dropmap", "drop_map");
  std::string id = Submit(spec);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline &&
         StepNamed(Get(id), "dropmap")->state() != v1::STEP_STATE_SUCCEEDED) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  a->Kill9();
  auto b = StartWorker("wb", {"b"});
  // Until B has tried the fetch and handed the attempt back (a condition,
  // with a backstop), then the state it left.
  v1::Campaign waiting = Get(id);
  deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    waiting = Get(id);
    const v1::Step* p = StepNamed(waiting, "prune");
    if (p != nullptr && p->lease_epoch() >= 2 &&
        p->last_error().find("drop_map") != std::string::npos) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  const v1::Step* prune = StepNamed(waiting, "prune");
  ASSERT_NE(prune, nullptr);
  EXPECT_NE(prune->state(), v1::STEP_STATE_FAILED) << waiting.DebugString();
  EXPECT_LE(prune->attempts(), 1u) << waiting.DebugString();
  EXPECT_GE(prune->lease_epoch(), 2u) << "B never tried the fetch";
  EXPECT_NE(prune->last_error().find("drop_map"), std::string::npos) << waiting.DebugString();

  auto a_again = StartWorker("wa", {"a"});
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(60));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  EXPECT_EQ(StepNamed(campaign, "prune")->worker_id(), "wb");
  EXPECT_EQ(StepNamed(campaign, "prune")->attempts(), 1u);
}

// A reference on a running OpenAI-compatible server (the fake in vLLM's
// shapes): the generate step asks for the tool endpoint:URL, so it goes to
// the worker whose operator listed that server, and runs with its key; the
// worker that did not list it never takes it.
TEST_F(WorkerIntegrationTest, AnEndpointStepGoesToTheWorkerThatListsTheServer) {
  ASSERT_OK(WriteFileAtomically(dir_.Join("key"), "sekrit\n"));
  ASSERT_OK_AND_ASSIGN(auto fake, worker::llama::testing::FakeLlamaServer::Start(
      {"--flavor", "vllm", "--no-model-check", "-m", "/models/nvfp4",
       "--served-model-name", "gemma-nvfp4", "--max-model-len", "40960",
       "--reasoning-parser", "deepseek_r1", "--api-key", "sekrit", "--token-latency-ms", "0"}));
  Gsm8kRun run = RegisterGsm8k(4);
  auto plain = StartWorker("plain", {});
  auto listed = StartWorker("listed", {}, {},
                            {"--endpoint", fake->url(), "--endpoint-key-file", dir_.Join("key")});
  v1::CampaignSpec spec = Gsm8kCampaign(
      "vllm-reference", run,
      {{"endpoint", {{"url", fake->url()}, {"model", "gemma-nvfp4"}, {"parallel", 2}}}},
      "endpoint:" + fake->url());
  std::string id = Submit(spec);
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(60));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  for (const v1::Step& step : campaign.steps()) {
    if (step.kind() == v1::STEP_KIND_GENERATE) {
      EXPECT_EQ(step.worker_id(), "listed");
    }
  }
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["served"], 4);
  EXPECT_EQ(stats["status_counts"].value("401", 0), 0);
}

// A reference a worker serves with vLLM from a checkpoint folder: the
// generate step needs the tool "vllm", so only the worker started with
// --vllm takes it; it runs `vllm serve` (the fake) on the step's checkpoint,
// and the score step scores what it generated.
TEST_F(WorkerIntegrationTest, AVllmStepGoesToTheWorkerWithVllm) {
  fs::create_directories(dir_.Join("nvfp4"));
  ASSERT_OK(WriteFileAtomically(dir_.Join("nvfp4/config.json"),
                                R"({"max_position_embeddings": 131072})"));
  const std::string checkpoint = Register(dir_.Join("nvfp4"), true);
  Gsm8kRun run = RegisterGsm8k(4);
  auto plain = StartWorker("plain", {});
  auto served = StartWorker("served", {}, {{"FAKE_LLAMA_TOKEN_LATENCY_MS", "0"}},
                            {"--vllm", worker::llama::testing::FakeVllmPath()});
  v1::CampaignSpec spec = Gsm8kCampaign(
      "vllm-served-reference", run,
      {{"vllm", {{"parallel", 2}, {"reasoning_parser", "deepseek_r1"}}}}, "vllm");
  FromArtifact(spec.mutable_steps(0), "checkpoint", checkpoint);
  std::string id = Submit(spec);
  v1::Campaign campaign = WaitFinished(id, absl::Seconds(90));
  ASSERT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED) << campaign.DebugString();
  bool generated = false;
  for (const v1::Step& step : campaign.steps()) {
    if (step.kind() != v1::STEP_KIND_GENERATE) continue;
    generated = true;
    EXPECT_EQ(step.worker_id(), "served");
  }
  EXPECT_TRUE(generated);
  // The worker said it serves with vLLM, and its step log has the command.
  std::string logs;
  for (const auto& entry : fs::recursive_directory_iterator(dir_.Join("served"))) {
    if (entry.is_regular_file() && entry.path().extension() == ".log") {
      logs += ReadFileToString(entry.path().string()).value_or("");
    }
  }
  EXPECT_THAT(logs, ::testing::HasSubstr("starting vllm: "));
  EXPECT_THAT(logs, ::testing::HasSubstr("--generation-config vllm"));
}

// A worker that cannot register (nothing listens at --coordinator) stops on
// SIGTERM; it used to block the signal until it registered (617 s alive
// after SIGTERM). Waits for the condition (the register failure in the log),
// not for a time; the exit wait is only a backstop.
TEST(WorkerSignalTest, StopsOnSigtermWhileItCannotRegister) {
  cohort::testing::TempDir dir;
  ASSERT_OK(WriteFileAtomically(dir.Join("token"), "not-a-real-token\n"));
  const std::string log = dir.Join("worker.log");
  SubprocessOptions options;
  options.argv = {testing::BinDir() + "/cohort-worker", "run", "--coordinator",
                  "127.0.0.1:" + std::to_string(testing::FreePort()), "--token-file",
                  dir.Join("token"), "--state-dir", dir.Join("state"), "--gpus", "0"};
  options.stdout_path = log;
  options.stderr_path = log;
  Subprocess worker;
  ASSERT_OK(worker.Start(options));
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline &&
         ReadFileToString(log).value_or("").find("register:") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(ReadFileToString(log).value_or("").find("register:"), std::string::npos)
      << ReadFileToString(log).value_or("");
  ASSERT_EQ(::kill(worker.pid(), SIGTERM), 0);
  ASSERT_TRUE(worker.WaitFor(absl::Seconds(30))) << "still running after SIGTERM";
  EXPECT_EQ(worker.exit_code(), 0);
  EXPECT_NE(ReadFileToString(log).value_or("").find("stopped before registering"),
            std::string::npos)
      << ReadFileToString(log).value_or("");
}

}  // namespace
}  // namespace cohort
