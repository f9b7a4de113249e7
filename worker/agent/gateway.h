// File: gateway.h
//
// What the worker agent says to cohortd, one blocking method per
// cohort.v1.WorkerGateway call. The agent's loops speak only this interface,
// so they are unit-tested with a fake gateway and no process
// (agent_test.cc); NewGrpcGateway is the real one. Errors carry the call's
// status code, so callers decide on retry by code (a superseded lease is
// kFailedPrecondition and never accepted later; kUnavailable is retried).
//
//   std::unique_ptr<Gateway> gateway = NewGrpcGateway(address, token, creds, "");
//   v1::LeaseResponse leases;
//   COHORT_RETURN_IF_ERROR(gateway->Lease(request, absl::Seconds(15), &leases));
//
// Implementations are thread-safe: each loop calls from its own thread.
#ifndef COHORT_WORKER_AGENT_GATEWAY_H_
#define COHORT_WORKER_AGENT_GATEWAY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cohort/v1/worker.pb.h"

namespace grpc {
class ChannelCredentials;
}  // namespace grpc

namespace cohort::worker {

class Gateway {
 public:
  virtual ~Gateway() = default;

  virtual absl::Status Register(const v1::RegisterRequest& request,
                                v1::RegisterResponse* response) = 0;
  // Ends a Register call in flight at once (kCancelled) and refuses every
  // later one: a worker that cannot reach cohortd still stops on SIGTERM.
  virtual void StopRegistering() = 0;
  // A long poll: `timeout` bounds the whole call (the request's wait_ms
  // plus the time to answer).
  virtual absl::Status Lease(const v1::LeaseRequest& request, absl::Duration timeout,
                             v1::LeaseResponse* response) = 0;
  virtual absl::Status Heartbeat(const v1::HeartbeatRequest& request,
                                 v1::HeartbeatResponse* response) = 0;
  // One batch, acknowledged before it returns OK.
  virtual absl::Status ReportResults(const v1::ReportResultsRequest& batch) = 0;
  virtual absl::Status CompleteStep(const v1::CompleteStepRequest& request) = 0;
  virtual absl::Status FailStep(const v1::FailStepRequest& request) = 0;
};

// cohortd at `address` over `credentials`, each call carrying `token`;
// `tls_server_name`, when not empty, is the name cohortd's certificate must
// carry. Connects lazily (the first call).
std::unique_ptr<Gateway> NewGrpcGateway(const std::string& address, const std::string& token,
                                        std::shared_ptr<grpc::ChannelCredentials> credentials,
                                        const std::string& tls_server_name);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_AGENT_GATEWAY_H_
