// File: services.h
//
// The gRPC callback services of cohortd: Coordinator (for the CLI, roles
// client/admin) and WorkerGateway (for workers, roles worker/admin). Every
// method authenticates the bearer token first. Handlers never block on
// anything but a short SQLite transaction: long polls park in the
// Coordinator, streams keep one read and one write in flight.
#ifndef COHORT_SERVER_SERVICE_SERVICES_H_
#define COHORT_SERVER_SERVICE_SERVICES_H_

#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "server/coordinator/coordinator.h"

namespace cohort::server {

// Checks the call's "authorization: Bearer <token>" against `roles`:
// kUnauthenticated for a missing/unknown token, kPermissionDenied for a
// token of another role.
absl::Status Authorize(Coordinator& coordinator,
                       const grpc::CallbackServerContext* context,
                       std::initializer_list<const char*> roles);
// Authorize, returning the caller's role and identity.
absl::StatusOr<Coordinator::Caller> AuthorizeCaller(Coordinator& coordinator,
                                                    const grpc::CallbackServerContext* context,
                                                    std::initializer_list<const char*> roles);

// OK when a caller of `role` may register an artifact readable at the
// absolute `path` of a shared filesystem: an admin anywhere, a client only
// under one of `roots` (cohortd --shared-root; none: admins only). A client
// could otherwise point workers at any file of their machines; the workers
// check every path against their own roots and the digest as well.
absl::Status CheckSharedPathRegistration(const std::string& role, const std::string& path,
                                         const std::vector<std::string>& roots);

// Gives each call of one method its request and response on a protobuf
// arena of their own, freed whole when the call ends. A 10^5-step campaign
// is 10^5 nested messages and 4 * 10^5 strings: parsed into an arena it
// takes a third less time, and frees in one go instead of one by one.
template <typename Request, typename Response>
class ArenaMessageAllocator : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions options;
      options.max_block_size = 1 << 20;  // blocks still start small
      return options;
    }
    google::protobuf::Arena arena_;
  };
};

class SubmitCall;  // one SubmitCampaign call's reactor

class CoordinatorService final : public v1::Coordinator::CallbackService {
 public:
  // `shared_roots`: where clients may register shared-path artifacts.
  CoordinatorService(Coordinator& coordinator, std::vector<std::string> shared_roots)
      : coordinator_(coordinator), shared_roots_(std::move(shared_roots)) {
    SetMessageAllocatorFor_SubmitCampaign(&submit_messages_);
  }

  grpc::ServerUnaryReactor* SubmitCampaign(
      grpc::CallbackServerContext* context, const v1::SubmitCampaignRequest* request,
      v1::SubmitCampaignResponse* response) override;
  grpc::ServerUnaryReactor* GetCampaign(grpc::CallbackServerContext* context,
                                        const v1::GetCampaignRequest* request,
                                        v1::Campaign* response) override;
  grpc::ServerUnaryReactor* ListCampaigns(
      grpc::CallbackServerContext* context, const v1::ListCampaignsRequest* request,
      v1::ListCampaignsResponse* response) override;
  grpc::ServerUnaryReactor* CancelCampaign(grpc::CallbackServerContext* context,
                                           const v1::CampaignRef* request,
                                           v1::Campaign* response) override;
  grpc::ServerUnaryReactor* ResumeCampaign(grpc::CallbackServerContext* context,
                                           const v1::CampaignRef* request,
                                           v1::Campaign* response) override;
  grpc::ServerUnaryReactor* RetryStep(grpc::CallbackServerContext* context,
                                      const v1::RetryStepRequest* request,
                                      v1::Step* response) override;
  grpc::ServerWriteReactor<v1::Event>* Watch(
      grpc::CallbackServerContext* context, const v1::WatchRequest* request) override;
  grpc::ServerWriteReactor<v1::ProblemResult>* QueryResults(
      grpc::CallbackServerContext* context,
      const v1::QueryResultsRequest* request) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;
  grpc::ServerUnaryReactor* GetStepLog(grpc::CallbackServerContext* context,
                                       const v1::GetStepLogRequest* request,
                                       v1::GetStepLogResponse* response) override;
  grpc::ServerUnaryReactor* RegisterArtifacts(
      grpc::CallbackServerContext* context,
      const v1::RegisterArtifactsRequest* request,
      v1::RegisterArtifactsResponse* response) override;
  grpc::ServerUnaryReactor* ListArtifacts(
      grpc::CallbackServerContext* context, const v1::ListArtifactsRequest* request,
      v1::ListArtifactsResponse* response) override;

 private:
  // SubmitCampaign's work; what it builds is kept in `call`.
  absl::Status Submit(grpc::CallbackServerContext* context,
                      const v1::SubmitCampaignRequest& request, SubmitCall& call,
                      v1::SubmitCampaignResponse* response);
  grpc::ServerUnaryReactor* FinishCampaign(grpc::CallbackServerContext* context,
                                           const std::string& id,
                                           v1::Campaign* response);
  // A stream's scope: the caller's campaign `campaign_id`, else the step
  // `step_key` of one of its campaigns, else (both empty) everything, which
  // needs an admin (kPermissionDenied with `everything_needs_admin`).
  absl::Status CheckScope(const grpc::CallbackServerContext* context,
                          const std::string& campaign_id, const std::string& step_key,
                          const char* everything_needs_admin);

  Coordinator& coordinator_;
  const std::vector<std::string> shared_roots_;
  ArenaMessageAllocator<v1::SubmitCampaignRequest, v1::SubmitCampaignResponse>
      submit_messages_;
};

class WorkerGatewayService final : public v1::WorkerGateway::CallbackService {
 public:
  // `transfer_secret`: cohortd's secret for artifact-transfer keys and
  // capabilities (common/transfer_capability.h).
  WorkerGatewayService(Coordinator& coordinator, std::string transfer_secret)
      : coordinator_(coordinator), transfer_secret_(std::move(transfer_secret)) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* context,
                                     const v1::RegisterRequest* request,
                                     v1::RegisterResponse* response) override;
  grpc::ServerUnaryReactor* Lease(grpc::CallbackServerContext* context,
                                  const v1::LeaseRequest* request,
                                  v1::LeaseResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerBidiReactor<v1::ReportResultsRequest, v1::ReportResultsResponse>*
  ReportResults(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* CompleteStep(grpc::CallbackServerContext* context,
                                         const v1::CompleteStepRequest* request,
                                         v1::CompleteStepResponse* response) override;
  grpc::ServerUnaryReactor* FailStep(grpc::CallbackServerContext* context,
                                     const v1::FailStepRequest* request,
                                     v1::FailStepResponse* response) override;

 private:
  // The registered capabilities of a worker (cached; reloaded from the
  // store after a coordinator restart).
  v1::WorkerInfo InfoOf(const std::string& worker_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the ArtifactService endpoint of every worker-held input.
  void FillEndpoints(v1::Lease* lease) ABSL_LOCKS_EXCLUDED(mu_);
  // Steps waiting, ready or leased now (LeaseResponse.unfinished_steps); 1
  // when the count cannot be read, so no worker takes itself for idle.
  uint64_t UnfinishedSteps();

  Coordinator& coordinator_;
  const std::string transfer_secret_;
  absl::Mutex mu_;
  std::map<std::string, v1::WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_SERVICES_H_
