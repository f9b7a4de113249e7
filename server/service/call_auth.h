// File: call_auth.h
//
// Authentication from a call's headers, before gRPC reads its request.
//
// A unary call's request is received and parsed before any handler or
// interceptor runs, so a check in the handler comes after an unknown caller
// has made cohortd parse up to --max-request-mb of protobuf. HeaderAuth is a
// grpc::AuthMetadataProcessor: the transport calls it with the headers and
// refuses the call (the handler is never reached, the request never parsed)
// unless the bearer token is valid and its role may call the service.
// Handlers still authorize, for the caller's identity and worker binding.
//
// gRPC runs a processor only on secure credentials: TLS, or the local
// credentials cohortd uses for plaintext on loopback. A plaintext listener
// off loopback (--insecure-plaintext) has no processor; its handlers still
// refuse the call, after parsing.
//
// Thread-safe. Process runs inline on gRPC's transport thread (not
// IsBlocking): the token lookup is a primary-key read on the TokenReader's
// own connection, never behind the coordinator's lock, as short as the
// work gRPC's callback handlers already do on those threads. Measured with
// 1,000 workers: heartbeat p50 within 0.1 ms of no processor; handing each
// call to gRPC's blocking thread pool instead cost about 0.2 ms and 5% of a
// core (docs/PERFORMANCE.md).
#ifndef COHORT_SERVER_SERVICE_CALL_AUTH_H_
#define COHORT_SERVER_SERVICE_CALL_AUTH_H_

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "server/coordinator/coordinator.h"

namespace cohort::server {

// The roles of each service's callers: the handlers authorize with these,
// and RolesForMethod checks the same before a request is read.
inline constexpr std::initializer_list<const char*> kClientRoles = {"client", "admin"};
inline constexpr std::initializer_list<const char*> kWorkerRoles = {"worker", "admin"};

// The roles that may call `method` ("/cohort.v1.Coordinator/SubmitCampaign"):
// client and admin for the Coordinator service, worker and admin for the
// WorkerGateway, none needed (answered without a token) for health checking
// and reflection, and any valid token for other methods (which gRPC answers
// UNIMPLEMENTED). `*open` is set for the tokenless methods.
std::vector<std::string> RolesForMethod(absl::string_view method, bool* open);

class HeaderAuth final : public grpc::AuthMetadataProcessor {
 public:
  // `on_refused(method, grpc_code)` is called for every call refused here
  // (cheap and thread-safe; may be empty).
  HeaderAuth(Coordinator& coordinator,
             std::function<void(const std::string& method, int code)> on_refused);

  bool IsBlocking() const override { return false; }  // see the file comment
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  grpc::Status Refuse(const std::string& method, const absl::Status& status) const;

  Coordinator& coordinator_;
  const std::function<void(const std::string&, int)> on_refused_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_CALL_AUTH_H_
