#include "server/service/call_auth.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cohort::server {
namespace {

std::string Header(const grpc::AuthMetadataProcessor::InputMetadata& metadata,
                   absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

std::vector<std::string> RolesForMethod(absl::string_view method, bool* open) {
  *open = absl::StartsWith(method, "/grpc.health.v1.Health/") ||
          absl::StartsWith(method, "/grpc.reflection.");
  if (*open) return {};
  if (absl::StartsWith(method, "/cohort.v1.Coordinator/")) {
    return {kClientRoles.begin(), kClientRoles.end()};
  }
  if (absl::StartsWith(method, "/cohort.v1.WorkerGateway/")) {
    return {kWorkerRoles.begin(), kWorkerRoles.end()};
  }
  return {"client", "worker", "admin"};
}

HeaderAuth::HeaderAuth(Coordinator& coordinator,
                       std::function<void(const std::string&, int)> on_refused)
    : coordinator_(coordinator), on_refused_(std::move(on_refused)) {}

grpc::Status HeaderAuth::Process(const InputMetadata& auth_metadata, grpc::AuthContext*,
                                 OutputMetadata*, OutputMetadata*) {
  const std::string method = Header(auth_metadata, ":path");
  bool open = false;
  const std::vector<std::string> roles = RolesForMethod(method, &open);
  if (open) return grpc::Status::OK;
  absl::StatusOr<Coordinator::Caller> caller =
      coordinator_.Identify(BearerToken(Header(auth_metadata, "authorization")));
  if (!caller.ok()) return Refuse(method, caller.status());
  for (const std::string& role : roles) {
    if (caller->role == role) return grpc::Status::OK;
  }
  return Refuse(method, absl::PermissionDeniedError(
                            absl::StrCat("a ", caller->role, " token may not call ", method)));
}

grpc::Status HeaderAuth::Refuse(const std::string& method, const absl::Status& status) const {
  if (on_refused_) on_refused_(method, static_cast<int>(status.code()));
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace cohort::server
