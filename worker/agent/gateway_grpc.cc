#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "worker/agent/gateway.h"

namespace cohort::worker {
namespace {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// Thread-safe: the stub is, and the one Register context in flight is held
// under mu_ for StopRegistering.
class GrpcGateway final : public Gateway {
 public:
  GrpcGateway(const std::string& address, std::string token,
              std::shared_ptr<grpc::ChannelCredentials> credentials,
              const std::string& tls_server_name)
      : address_(address), token_(std::move(token)) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    if (!tls_server_name.empty()) args.SetSslTargetNameOverride(tls_server_name);
    stub_ = v1::WorkerGateway::NewStub(
        grpc::CreateCustomChannel(address, std::move(credentials), args));
  }

  absl::Status Register(const v1::RegisterRequest& request,
                        v1::RegisterResponse* response) override {
    std::unique_ptr<grpc::ClientContext> context = Context(absl::Seconds(10));
    {
      absl::MutexLock lock(&mu_);
      if (registering_stopped_) return absl::CancelledError("stopping: not registering");
      register_context_ = context.get();
    }
    grpc::Status status = stub_->Register(context.get(), request, response);
    {
      absl::MutexLock lock(&mu_);
      register_context_ = nullptr;
    }
    if (status.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("registering with ", address_, ": ", status.error_message()));
  }

  void StopRegistering() override {
    absl::MutexLock lock(&mu_);
    registering_stopped_ = true;
    if (register_context_ != nullptr) register_context_->TryCancel();
  }

  absl::Status Lease(const v1::LeaseRequest& request, absl::Duration timeout,
                     v1::LeaseResponse* response) override {
    return FromGrpc(stub_->Lease(Context(timeout).get(), request, response));
  }

  absl::Status Heartbeat(const v1::HeartbeatRequest& request,
                         v1::HeartbeatResponse* response) override {
    return FromGrpc(stub_->Heartbeat(Context(absl::Seconds(5)).get(), request, response));
  }

  absl::Status ReportResults(const v1::ReportResultsRequest& batch) override {
    std::unique_ptr<grpc::ClientContext> context = Context(absl::Seconds(30));
    auto stream = stub_->ReportResults(context.get());
    v1::ReportResultsResponse ack;
    bool acknowledged = stream->Write(batch) && stream->Read(&ack);
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    if (status.ok() && !acknowledged) return absl::UnavailableError("no ack");
    return FromGrpc(status);
  }

  absl::Status CompleteStep(const v1::CompleteStepRequest& request) override {
    v1::CompleteStepResponse response;
    return FromGrpc(stub_->CompleteStep(Context(absl::Seconds(30)).get(), request, &response));
  }

  absl::Status FailStep(const v1::FailStepRequest& request) override {
    v1::FailStepResponse response;
    return FromGrpc(stub_->FailStep(Context(absl::Seconds(30)).get(), request, &response));
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + token_);
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return context;
  }

  const std::string address_;
  const std::string token_;
  std::unique_ptr<v1::WorkerGateway::Stub> stub_;
  absl::Mutex mu_;
  bool registering_stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* register_context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace

std::unique_ptr<Gateway> NewGrpcGateway(const std::string& address, const std::string& token,
                                        std::shared_ptr<grpc::ChannelCredentials> credentials,
                                        const std::string& tls_server_name) {
  return std::make_unique<GrpcGateway>(address, token, std::move(credentials), tls_server_name);
}

}  // namespace cohort::worker
