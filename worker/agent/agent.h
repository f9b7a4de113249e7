// File: agent.h
//
// The worker agent: registers with cohortd, leases steps (long poll) while it
// has free slots, runs each on its own thread through a StepExecutor,
// heartbeats every lease (renewing them, carrying progress, obeying
// revocations), and ships outcomes through the spool. It serves its artifact
// store to peers and fetches inputs it lacks from them (or reads them from
// a shared path).
//
//   Agent agent(options, executor);
//   COHORT_RETURN_IF_ERROR(agent.Start());
//   ... SIGTERM ...
//   agent.Drain(absl::Seconds(60));   // finish or hand back, flush the spool
//
// Thread-safe; one instance per process.
#ifndef COHORT_WORKER_AGENT_AGENT_H_
#define COHORT_WORKER_AGENT_AGENT_H_

#include <atomic>
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
#include "cohort/v1/worker.grpc.pb.h"
#include "worker/agent/spool.h"
#include "worker/artifacts/artifact_store.h"
#include "worker/artifacts/shared_inputs.h"
#include "worker/agent/gpu_slots.h"
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

// The names in a lease that become paths on this worker: input names (plain
// names) and shared paths (absolute, no ".."). kInvalidArgument naming the
// problem; the agent fails such a step before it pins, fetches or opens
// anything.
absl::Status CheckLeaseNames(const v1::Lease& lease);

class Agent {
 public:
  Agent(AgentOptions options, StepExecutor& executor);
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
  void CancelStart();
  // Stops leasing; waits up to `grace` for running steps, hands back the
  // rest, flushes the spool for at most `grace`, stops.
  void Drain(absl::Duration grace);
  const std::string& worker_id() const { return worker_id_; }
  int artifact_port() const { return artifact_port_; }

 private:
  struct Running {
    v1::Lease lease;
    std::atomic<bool> cancel{false};
    std::atomic<bool> done{false};
    TaskProgress progress;  // guarded by mu_
    // The worker's GPUs this step holds (set before the step's thread
    // starts, released when it is reaped).
    std::vector<uint32_t> gpus;
    std::thread thread;
  };

  absl::Status Register();
  void LeaseLoop();
  void HeartbeatLoop();
  void ShipLoop();
  void RunStep(Running* running);
  // Cancels other attempts of the same step still running on this worker
  // and returns once they have ended (or the agent stops).
  void WaitForEarlierAttempts(Running* running);
  absl::StatusOr<std::map<std::string, std::string>> ResolveInputs(
      const v1::Lease& lease);
  void SpoolComplete(const v1::Lease& lease, const StepResult& result,
                     const std::string& log_path);
  // `input_unavailable`: the step never started, an input could not be
  // fetched (FailStepRequest.input_unavailable).
  void SpoolFail(const v1::Lease& lease, const absl::Status& status,
                 const std::string& log_path, bool input_unavailable = false);
  // Appends to the durable outbox; a failure (a full or broken disk) is
  // logged as an error naming what was lost and what happens next, never
  // dropped in silence.
  void AppendToSpool(SpoolKind kind, const v1::Lease& lease, const std::string& payload,
                     const char* what);
  // Sends one spooled entry; returns true when it may be removed.
  bool Ship(const SpoolEntry& entry);
  void ReapFinished() ABSL_LOCKS_EXCLUDED(mu_);
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const;
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
  std::unique_ptr<v1::WorkerGateway::Stub> gateway_;
  std::unique_ptr<grpc::Server> artifact_server_;
  std::unique_ptr<class ArtifactServiceImpl> artifact_service_;
  int artifact_port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_start_{false};
  // The Register call in flight, for CancelStart to cancel.
  absl::Mutex register_mu_;
  grpc::ClientContext* register_context_ ABSL_GUARDED_BY(register_mu_) = nullptr;
  absl::Duration heartbeat_interval_ = absl::Seconds(5);
  std::thread lease_thread_, heartbeat_thread_, ship_thread_;

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  GpuSlots gpu_slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_AGENT_H_
