// Coordinator benchmark against a real cohortd process over loopback gRPC.
//
//   coordinator_perf <empty folder> [full|normal] [workers] [result rows]
//
// With 1,000 simulated workers (registered, heartbeating every 5 s from one
// client thread, each keeping one lease long poll parked) it measures, in
// order:
//   1. dispatch latency: a one-step campaign is submitted while every worker
//      waits; time from sending SubmitCampaign to a waiting worker receiving
//      the lease (so it includes the submit's commit: an upper bound on
//      ready-step -> lease), p50/p99 over 200 campaigns; also heartbeat RPC
//      latency and cohortd's CPU use while idle with 1,000 workers;
//   2. result ingest: a 10^4-step campaign, then 10^6 result rows through
//      ReportResults streams (4 streams, 1,000-row batches, ~600-byte rows);
//   3. kill -9 with that database (10^6 rows, ~10^4 steps), restart on the
//      same folder: time until health is SERVING;
//   4. a 100,000-step campaign (50,000 dropmap -> prune chains) in one
//      SubmitCampaign call: round-trip time, the steps persisted.
// Prints one line per number with its target. Durability: FULL unless
// "normal" (then cohortd runs with --durability-normal). Workers 0: only the
// in-process breakdown of step 4; workers -N: only step 4, N times.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/clock.h"
#include "server/coordinator/coordinator.h"
#include "server/jobgraph/plan.h"
#include "server/store/coordinator_store.h"
#include "tests/integration/cohortd_process.h"
#include "tests/perf/perf_support.h"

namespace cohort {
namespace {

using testing::CohortdProcess;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}


std::shared_ptr<grpc::Channel> BigChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

v1::StepSpec* AddDropmap(v1::CampaignSpec* spec, const std::string& node,
                         const std::string& params) {
  v1::StepSpec* dm = spec->add_steps();
  dm->set_node_id(node);
  dm->set_kind(v1::STEP_KIND_DROPMAP);
  dm->set_params_json(params);
  v1::StepSpecInput* in = dm->add_inputs();
  in->set_name("contrib");
  in->set_artifact_digest("sha256:" + std::string(64, 'b'));
  return dm;
}

// `pairs` dropmap -> prune chains (2 * pairs steps), all new keys.
v1::SubmitCampaignRequest ChainsRequest(const std::string& name, int pairs) {
  v1::SubmitCampaignRequest request;
  v1::CampaignSpec* spec = request.mutable_spec();
  spec->set_name(name);
  for (int i = 0; i < pairs; ++i) {
    std::string dm = absl::StrCat("dm", i);
    AddDropmap(spec, dm, absl::StrCat(R"({"target": 98, "run": ")", name, "/", i, "\"}"));
    v1::StepSpec* pr = spec->add_steps();
    pr->set_node_id(absl::StrCat("pr", i));
    pr->set_kind(v1::STEP_KIND_PRUNE);
    v1::StepSpecInput* base = pr->add_inputs();
    base->set_name("checkpoint");
    base->set_artifact_digest("sha256:" + std::string(64, 'a'));
    v1::StepSpecInput* map = pr->add_inputs();
    map->set_name("drop_map");
    map->mutable_node_output()->set_node_id(dm);
    map->mutable_node_output()->set_output("drop_map");
  }
  return request;
}


void Report(const std::string& what, double value, const std::string& unit,
            const std::string& target);

// Where a big submit spends its time, in process (no gRPC): planning, then
// planning and the store transaction.
void SubmitBreakdown(const std::string& folder, bool normal, int pairs) {
  using namespace ::cohort::server;  // NOLINT: benchmark-local
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < pairs; ++i) {
    NodeSpec dm;
    dm.node_id = absl::StrCat("dm", i);
    dm.kind = StepKind::kDropmap;
    dm.params_json = absl::StrCat(R"({"target": 98, "run": "breakdown/)", i, "\"}");
    dm.inputs.push_back({"contrib", "sha256:" + std::string(64, 'b'), "", ""});
    NodeSpec pr;
    pr.node_id = absl::StrCat("pr", i);
    pr.kind = StepKind::kPrune;
    pr.inputs.push_back({"checkpoint", "sha256:" + std::string(64, 'a'), "", ""});
    pr.inputs.push_back({"drop_map", "", dm.node_id, "drop_map"});
    nodes.push_back(std::move(dm));
    nodes.push_back(std::move(pr));
  }
  DatabaseOptions db;
  db.durability = normal ? Durability::kNormal : Durability::kFull;
  auto store = CoordinatorStore::Open(folder + "/breakdown.db", db);
  if (!store.ok()) return;
  auto coordinator = Coordinator::Create(std::move(*store), RealClock(), {});
  if (!coordinator.ok()) return;
  absl::Time t = absl::Now();
  absl::StatusOr<std::unique_ptr<CampaignPlanner>> checked = CampaignPlanner::Create(nodes, 3);
  Report("  in-process: validation and order (Create)", absl::ToDoubleSeconds(absl::Now() - t),
         "s", "-");
  t = absl::Now();
  absl::StatusOr<std::vector<PlannedStep>> planned = PlanCampaign(nodes, 3);
  Report(absl::StrCat("  in-process: PlanCampaign ", 2 * pairs, " steps"),
         absl::ToDoubleSeconds(absl::Now() - t), "s", "-");
  t = absl::Now();
  absl::StatusOr<SubmitOutcome> outcome =
      (*coordinator)->Submit("breakdown", "{}", 0, "", nodes, false, nullptr);
  Report("  in-process: Coordinator::Submit (plan + store)",
         absl::ToDoubleSeconds(absl::Now() - t), "s", "-");
  if (!outcome.ok()) {
    std::fprintf(stderr, "submit: %s\n", std::string(outcome.status().message()).c_str());
    return;
  }
}

void Report(const std::string& what, double value, const std::string& unit,
            const std::string& target) {
  std::printf("%-44s %12.2f %-6s (target %s)\n", what.c_str(), value, unit.c_str(),
              target.c_str());
  std::fflush(stdout);
}

// One SubmitCampaign of 50,000 dropmap -> prune chains (all keys new):
// the round trip as the client sees it, then the stored campaign.
void SubmitHundredThousand(CohortdProcess& cohortd, const std::string& client_token,
                           const std::string& name) {
  auto big = v1::Coordinator::NewStub(BigChannel(cohortd.address()));
  v1::SubmitCampaignRequest request = ChainsRequest(name, 50000);
  v1::SubmitCampaignResponse response;
  absl::Time t = absl::Now();
  grpc::Status s = big->SubmitCampaign(
      CohortdProcess::Context(client_token, absl::Seconds(120)).get(), request, &response);
  double submit_s = absl::ToDoubleSeconds(absl::Now() - t);
  if (!s.ok()) std::fprintf(stderr, "submit 100k: %s\n", s.error_message().c_str());
  Report(absl::StrCat("submit 100,000 steps (", response.steps_total(), " stored, ",
                      request.ByteSizeLong() >> 20, " MiB request)"),
         submit_s, "s", "< 2");
  v1::GetCampaignRequest get;
  get.set_campaign_id(response.campaign_id());
  v1::Campaign campaign;
  s = big->GetCampaign(CohortdProcess::Context(client_token, absl::Seconds(60)).get(),
                       get, &campaign);
  std::printf("campaign %s: %s\n", response.campaign_id().c_str(),
              s.ok() ? campaign.ShortDebugString().substr(0, 200).c_str()
                     : s.error_message().c_str());
}

// After the big submits: 200 Lease calls of one worker, each taking a new
// READY step out of the 50,000 each submit left queued (the lease order
// must come from an index, not from sorting the queue per call).
void LeaseFromABigQueue(CohortdProcess& cohortd, const std::string& worker_token) {
  auto gateway = v1::WorkerGateway::NewStub(BigChannel(cohortd.address()));
  v1::RegisterRequest reg;
  reg.mutable_worker()->set_id("big-queue");
  reg.mutable_worker()->set_hostname("sim");
  v1::RegisterResponse registered;
  grpc::Status s = gateway->Register(CohortdProcess::Context(worker_token).get(), reg,
                                     &registered);
  if (!s.ok()) std::fprintf(stderr, "register: %s\n", s.error_message().c_str());
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    v1::LeaseRequest request;
    request.set_worker_id("big-queue");
    request.set_free_slots(1);
    request.set_free_disk_bytes(1ull << 40);
    v1::LeaseResponse response;
    absl::Time t = absl::Now();
    s = gateway->Lease(CohortdProcess::Context(worker_token).get(), request, &response);
    if (s.ok() && response.leases_size() == 1) {
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
    }
  }
  Report(absl::StrCat("lease, big campaigns queued (", ms.size(), "/200)"),
         Percentile(ms, 0.5), "ms", "-");
  Report("lease p99, big campaigns queued", Percentile(ms, 0.99), "ms", "-");
}

// Only the 100,000-step submit, `times` times into one cohortd (each a new
// campaign with new keys; the graph grows by 10^5 steps each time).
int SubmitOnly(const std::string& folder, bool normal, int times) {
  std::vector<std::string> flags;
  if (normal) flags.push_back("--durability-normal");
  CohortdProcess cohortd(folder, flags);
  if (absl::Status s = cohortd.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::string client_token = *cohortd.CreateToken("client");
  std::string worker_token = *cohortd.CreateToken("worker");
  {
    // The same 13 MiB request refused twice: from its headers (a worker
    // token may not submit; cohortd never reads the request) and, as the
    // baseline, by a client token right after it is received and parsed
    // (its name is over the 256-byte limit, the first field checked).
    auto big = v1::Coordinator::NewStub(BigChannel(cohortd.address()));
    v1::SubmitCampaignRequest request = ChainsRequest("transport", 50000);
    for (const auto& [label, token] : {std::pair<std::string, std::string>{
                                           "from its headers", worker_token},
                                       {"after parsing", client_token}}) {
      if (token == client_token) request.mutable_spec()->set_name(std::string(300, 'n'));
      v1::SubmitCampaignResponse response;
      absl::Time t = absl::Now();
      grpc::Status s = big->SubmitCampaign(
          CohortdProcess::Context(token, absl::Seconds(60)).get(), request, &response);
      Report(absl::StrCat("13 MiB request refused ", label, " (", s.error_code(), ")"),
             absl::ToDoubleSeconds(absl::Now() - t), "s", "-");
    }
  }
  for (int i = 0; i < times; ++i) {
    SubmitHundredThousand(cohortd, client_token, absl::StrCat("steps-100k-", i));
    absl::SleepFor(absl::Seconds(2));  // as a client would: not back to back
  }
  LeaseFromABigQueue(cohortd, worker_token);
  cohortd.Stop();
  return 0;
}

int Run(const std::string& folder, bool normal, int workers, int64_t result_rows) {
  if (workers == 0) {  // only the in-process breakdown of a 100k-step submit
    SubmitBreakdown(folder, normal, 50000);
    return 0;
  }
  if (workers < 0) return SubmitOnly(folder, normal, -workers);
  std::vector<std::string> flags = {"--lease-seconds", "3600"};
  if (normal) flags.push_back("--durability-normal");
  auto cohortd = std::make_unique<CohortdProcess>(folder, flags);
  if (absl::Status s = cohortd->Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::string client_token = *cohortd->CreateToken("client");
  std::string worker_token = *cohortd->CreateToken("worker");
  std::printf("durability %s, %d simulated workers, cohortd on %s\n",
              normal ? "NORMAL" : "FULL", workers, cohortd->address().c_str());
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("perf.channel", i);  // distinct connections
    args.SetMaxReceiveMessageSize(-1);
    channels.push_back(grpc::CreateCustomChannel(
        cohortd->address(), grpc::InsecureChannelCredentials(), args));
  }
  auto client = v1::Coordinator::NewStub(channels[0]);

  // --- 1. workers, heartbeats, dispatch ------------------------------------
  WorkerSwarm swarm(channels, worker_token, workers);
  absl::Time t = absl::Now();
  swarm.Register();
  Report(absl::StrCat("register ", workers, " workers (sequential)"),
         absl::ToDoubleSeconds(absl::Now() - t), "s", "-");
  swarm.StartHeartbeats(absl::Seconds(5));
  swarm.StartPolling();
  for (int i = 0; i < 500 && swarm.parked() < workers; ++i) absl::SleepFor(absl::Milliseconds(20));
  absl::SleepFor(absl::Seconds(1));  // let the polls park in cohortd
  // Idle cost of 1,000 heartbeating, polling workers.
  double cpu0 = CohortdCpuSeconds(folder);
  absl::Time idle0 = absl::Now();
  absl::SleepFor(absl::Seconds(10));
  double cpu1 = CohortdCpuSeconds(folder);
  double idle_s = absl::ToDoubleSeconds(absl::Now() - idle0);
  Report("cohortd CPU, idle with all workers", 100 * (cpu1 - cpu0) / idle_s, "% core",
         "< 50");

  absl::Mutex mu;
  std::map<std::string, absl::Time> sent;  // campaign name -> submit sent
  std::vector<double> dispatch_ms;
  swarm.OnLease([&](const v1::Lease& lease) {
    absl::Time now = absl::Now();
    absl::MutexLock lock(&mu);
    // The step's params carry its campaign name.
    for (const auto& [name, at] : sent) {
      if (lease.step().params_json().find(name) != std::string::npos) {
        dispatch_ms.push_back(absl::ToDoubleMilliseconds(now - at));
        sent.erase(name);
        break;
      }
    }
  });
  const int kDispatches = std::min(200, workers / 2);
  for (int i = 0; i < kDispatches; ++i) {
    v1::SubmitCampaignRequest request;
    std::string name = absl::StrCat("dispatch-", i, "-");
    request.mutable_spec()->set_name(name);
    AddDropmap(request.mutable_spec(), "dm",
               absl::StrCat(R"({"target": 98, "run": ")", name, "\"}"));
    {
      absl::MutexLock lock(&mu);
      sent[name] = absl::Now();
    }
    v1::SubmitCampaignResponse response;
    grpc::Status s = client->SubmitCampaign(CohortdProcess::Context(client_token).get(),
                                            request, &response);
    if (!s.ok()) std::fprintf(stderr, "submit: %s\n", s.error_message().c_str());
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::SleepFor(absl::Seconds(1));
  {
    absl::MutexLock lock(&mu);
    Report(absl::StrCat("dispatch p50 (", dispatch_ms.size(), "/", kDispatches, ")"),
           Percentile(dispatch_ms, 0.5), "ms", "< 5");
    Report("dispatch p99", Percentile(dispatch_ms, 0.99), "ms", "< 50");
    Report("dispatch max", Percentile(dispatch_ms, 1.0), "ms", "-");
  }
  swarm.OnLease(nullptr);
  std::vector<double> hb = swarm.TakeHeartbeatMillis();
  Report(absl::StrCat("heartbeat RPC p50 (", hb.size(), " calls)"), Percentile(hb, 0.5),
         "ms", "-");
  Report("heartbeat RPC p99", Percentile(hb, 0.99), "ms", "-");

  // --- 2. result ingest ------------------------------------------------------
  // ~10^4 steps in the graph; the parked polls lease some of them.
  {
    v1::SubmitCampaignResponse response;
    t = absl::Now();
    grpc::Status s = client->SubmitCampaign(CohortdProcess::Context(client_token).get(),
                                            ChainsRequest("steps-10k", 5000), &response);
    if (!s.ok()) std::fprintf(stderr, "submit 10k: %s\n", s.error_message().c_str());
    Report("submit a 10,000-step campaign", absl::ToDoubleSeconds(absl::Now() - t), "s",
           "-");
  }
  absl::SleepFor(absl::Seconds(2));
  std::vector<v1::Lease> leases = swarm.Leases();
  if (leases.empty()) {
    std::fprintf(stderr, "no lease to report results under\n");
    return 1;
  }
  constexpr int kStreams = 4;
  constexpr int kBatch = 1000;
  const std::string completion(480, 'x');
  std::atomic<int64_t> inserted{0};
  t = absl::Now();
  std::vector<std::thread> streams;
  for (int k = 0; k < kStreams; ++k) {
    streams.emplace_back([&, k] {
      auto stub = v1::WorkerGateway::NewStub(channels[k % channels.size()]);
      const v1::Lease& lease = leases[k % leases.size()];
      auto context = CohortdProcess::Context(worker_token, absl::Seconds(600));
      auto stream = stub->ReportResults(context.get());
      int64_t rows = result_rows / kStreams;
      for (int64_t first = 0; first < rows; first += kBatch) {
        v1::ReportResultsRequest batch;
        batch.set_lease_id(lease.lease_id());
        batch.set_epoch(lease.epoch());
        batch.set_batch_id(static_cast<uint64_t>(first));
        for (int64_t i = first; i < std::min(rows, first + kBatch); ++i) {
          v1::ProblemResult* r = batch.add_results();
          r->set_problem_id(absl::StrCat("bench/s", k, "/", i));
          r->set_completion(completion);
          r->set_completion_chars(completion.size());
          r->set_completion_tokens(120);
          r->set_finish_reason("stop");
          r->set_extracted_answer("42");
          r->set_verdict(v1::VERDICT_PASS);
        }
        if (!stream->Write(batch)) break;
        v1::ReportResultsResponse ack;
        if (!stream->Read(&ack)) break;
        inserted += ack.inserted();
      }
      stream->WritesDone();
      grpc::Status s = stream->Finish();
      if (!s.ok()) std::fprintf(stderr, "report: %s\n", s.error_message().c_str());
    });
  }
  for (std::thread& th : streams) th.join();
  double ingest_s = absl::ToDoubleSeconds(absl::Now() - t);
  Report(absl::StrCat("ingest (", inserted.load(), " rows, ", kStreams, "x", kBatch,
                      "-row batches)"),
         static_cast<double>(inserted.load()) / ingest_s, "rows/s",
         normal ? ">= 20000" : ">= 5000 (FULL)");

  // --- 3. kill -9 and restart -------------------------------------------------
  std::printf("client errors before the kill: %d\n", swarm.errors());
  cohortd->Kill9();
  swarm.Stop();
  t = absl::Now();
  if (absl::Status s = cohortd->Start(); !s.ok()) {
    std::fprintf(stderr, "restart: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  Report("kill -9 -> health SERVING (1e6 rows)", absl::ToDoubleSeconds(absl::Now() - t),
         "s", "< 2");

  // --- 4. a 100,000-step campaign ---------------------------------------------
  SubmitBreakdown(folder, normal, 50000);
  SubmitHundredThousand(*cohortd, client_token, "steps-100k");
  // Once more, a few seconds on (the first comes right after the restart,
  // while cohortd may still be copying the recovered log into its file).
  absl::SleepFor(absl::Seconds(3));
  SubmitHundredThousand(*cohortd, client_token, "steps-100k-again");
  LeaseFromABigQueue(*cohortd, worker_token);
  cohortd->Stop();
  return 0;
}

}  // namespace
}  // namespace cohort

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: coordinator_perf <empty folder> [full|normal] [workers] "
                 "[result rows]\n");
    return 2;
  }
  bool normal = argc > 2 && std::string(argv[2]) == "normal";
  int workers = argc > 3 ? std::atoi(argv[3]) : 1000;
  int64_t rows = argc > 4 ? std::atoll(argv[4]) : 1000000;
  return cohort::Run(argv[1], normal, workers, rows);
}
