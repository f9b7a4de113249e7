// File: agent.h
//
// The worker agent: registers with cohortd, then three loops, each small and
// each woken by what it waits for (absl conditions), never by polling:
//
//   lease loop      waits for a free slot (RunningSteps), long-polls cohortd
//                   for leases, runs each on its own thread through the
//                   StepExecutor after its inputs are resolved
//                   (InputResolver: the store, a shared path or a peer);
//   heartbeat loop  every heartbeat interval renews the leases, carries
//                   progress and cancels the steps cohortd revoked;
//   outbox          ships what steps produced (results, completions,
//                   failures) from the crash-safe spool, in order (Outbox).
//
// cohortd is reached through a Gateway (gateway.h): gRPC in the binary, a
// fake in agent_test.cc, so these loops are tested without processes. The
// agent also serves its artifact store to peers.
//
//   Agent agent(options, executor);
//   COHORT_RETURN_IF_ERROR(agent.Start());
//   ... SIGTERM ...
//   agent.Drain(absl::Seconds(60));   // finish or hand back, flush the spool
//
// Thread-safe. Owns its loops' threads and the steps' threads; Drain (or the
// destructor) joins them. One instance per state folder.
#ifndef COHORT_WORKER_AGENT_AGENT_H_
#define COHORT_WORKER_AGENT_AGENT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cohort/v1/worker.pb.h"
#include "worker/agent/gateway.h"
#include "worker/agent/input_resolver.h"
#include "worker/agent/outbox.h"
#include "worker/agent/running_steps.h"
#include "worker/agent/spool.h"
#include "worker/artifacts/artifact_store.h"
#include "worker/artifacts/shared_inputs.h"
#include "worker/exec/executor.h"

namespace grpc {
class ChannelCredentials;
class Server;
}  // namespace grpc

namespace cohort::worker {

struct AgentOptions {
  std::string coordinator = "127.0.0.1:7400";
  std::string token;
  std::string state_dir = "cohort-worker-state";
  std::string worker_id;  // empty: the one saved in state_dir, else new
  uint32_t slots = 2;
  uint32_t gpus = 0;
  uint64_t gpu_memory_bytes = 0;
  std::string gpu_model;
  std::vector<std::string> labels;
  std::vector<std::string> tools;
  std::map<std::string, std::string> tool_versions;  // name -> version line
  std::string artifact_listen = "127.0.0.1:0";
  std::string artifact_advertise_host = "127.0.0.1";
  // Peers send only a digest and a path (at most 4 KiB): a larger request to
  // the artifact service is refused with RESOURCE_EXHAUSTED before parsing.
  int artifact_max_request_bytes = 64 << 10;
  uint64_t disk_limit_bytes = 0;  // artifact store capacity; 0 unlimited
  absl::Duration poll_wait = absl::Seconds(10);
  // TLS: with tls_ca_file the coordinator and peers are reached over TLS
  // (that CA verifies them); tls_cert_file/tls_key_file are this worker's
  // certificate, presented to cohortd (mTLS) and served on the artifact
  // listener. All empty: plaintext (one trusted machine or network).
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // The name cohortd's certificate must carry; empty: the coordinator's
  // host. A role name that only cohortd's certificate carries keeps a
  // worker certificate of the same CA from standing in for cohortd.
  std::string tls_server_name;
  // Folders whose files steps may read as shared-path inputs (each checked
  // against its digest first: artifacts/shared_inputs.h); none: no shared
  // paths.
  std::vector<std::string> shared_roots;
  // What GPU slot i stands for when the worker was started with a
  // CUDA_VISIBLE_DEVICES of its own (gpu_slots.h VisibleDevices); empty:
  // device i.
  std::vector<std::string> cuda_devices;
  // Zero: serve until told to stop. Otherwise, once the worker has held no
  // step, been offered none and cohortd has had no unfinished step (in any
  // campaign) for this long, `on_idle` is called (once, on
  // the lease thread; it should make the owner Drain). A Slurm array task
  // frees its GPU when the sweep is over instead of running to its time
  // limit.
  absl::Duration exit_when_idle = absl::ZeroDuration();
  std::function<void()> on_idle;
};

// kInvalidArgument naming what is missing when the worker's TLS flags would
// do less than they ask: a certificate without its key (or the reverse), or
// a certificate with no --tls-ca, which talked plaintext to cohortd.
absl::Status CheckTlsFlags(const AgentOptions& options);

// Channel credentials for `options` (plaintext when no TLS flag is given);
// CheckTlsFlags first.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials(
    const AgentOptions& options);

// The batch that carries one scored problem of a step to cohortd: the one
// place the worker's result row (eval::ProblemResult) becomes the proto.
v1::ReportResultsRequest ResultBatch(const v1::Lease& lease, const eval::ProblemResult& row);

class Agent {
 public:
  // `gateway`: how cohortd is reached; null: gRPC to options.coordinator
  // with the options' TLS files (NewGrpcGateway), made by Start.
  Agent(AgentOptions options, StepExecutor& executor, std::unique_ptr<Gateway> gateway = nullptr);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Opens the spool and store, serves artifacts, registers (retrying until
  // the coordinator answers) and starts the loops. kCancelled when
  // CancelStart() ended the registering.
  absl::Status Start();
  // Thread-safe, from any thread (the signal waiter): ends Start()'s register
  // loop at once, cancelling a Register call in flight, so a worker that
  // cannot reach cohortd still stops on SIGTERM. Later re-registrations are
  // refused too: call it only to stop.
  void CancelStart() ABSL_LOCKS_EXCLUDED(stop_mu_);
  // Stops leasing; waits up to `grace` for running steps, hands back the
  // rest, flushes the spool for at most `grace` (at least 2 s), stops.
  void Drain(absl::Duration grace) ABSL_LOCKS_EXCLUDED(stop_mu_);
  const std::string& worker_id() const { return worker_id_; }
  int artifact_port() const { return artifact_port_; }

 private:
  absl::Status OpenState();
  absl::Status ServeArtifacts();
  absl::Status ConnectGateway() ABSL_LOCKS_EXCLUDED(stop_mu_);
  absl::Status RegisterUntilAccepted() ABSL_LOCKS_EXCLUDED(stop_mu_);
  absl::Status Register();
  void LeaseLoop();
  void HeartbeatLoop() ABSL_LOCKS_EXCLUDED(stop_mu_);
  void Heartbeat();
  // The body of a step's thread; ends with steps_.Finish(step).
  void RunStep(RunningSteps::Step* step);
  absl::StatusOr<StepResult> Execute(RunningSteps::Step* step, const ResolvedInputs& inputs,
                                     const std::string& scratch, const std::string& work_dir,
                                     const std::string& log_path);
  void SpoolComplete(const v1::Lease& lease, const StepResult& result,
                     const std::string& log_path);
  // `input_unavailable`: the step never started, an input could not be
  // fetched (FailStepRequest.input_unavailable).
  void SpoolFail(const v1::Lease& lease, const absl::Status& status,
                 const std::string& log_path, bool input_unavailable = false);
  absl::StatusOr<StoredArtifact> FetchFromPeer(const v1::ArtifactLocation& where,
                                               const std::string& digest, uint64_t size_bytes);
  // Why a TLS connection to cohortd fails, from a handshake of our own
  // (common/tls_inspect.h); "" without TLS or when it works.
  std::string DiagnoseTls() const;
  v1::WorkerInfo Info() const;

  AgentOptions options_;
  StepExecutor& executor_;
  std::string worker_id_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<ArtifactStore> store_;
  SharedInputVerifier shared_inputs_{options_.shared_roots};
  // Set before the loops start (Start publishes it under stop_mu_, where
  // CancelStart reads it); the loops use it without the lock.
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<InputResolver> inputs_;
  std::unique_ptr<Outbox> outbox_;
  RunningSteps steps_{options_.gpus};
  std::unique_ptr<class ArtifactServiceImpl> artifact_service_;
  std::unique_ptr<grpc::Server> artifact_server_;  // serves artifact_service_
  int artifact_port_ = 0;
  absl::Duration heartbeat_interval_ = absl::Seconds(5);
  std::thread lease_thread_, heartbeat_thread_;

  absl::Mutex stop_mu_;
  bool cancel_start_ ABSL_GUARDED_BY(stop_mu_) = false;
  bool drained_ ABSL_GUARDED_BY(stop_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;  // the heartbeat loop ends
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_AGENT_H_
