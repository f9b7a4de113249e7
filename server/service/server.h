// File: server.h
//
// cohortd's gRPC server: the Coordinator and WorkerGateway services, health
// checking and reflection (which answer without a token), TLS when given a
// certificate, tokens checked from the headers before a request is read
// (call_auth.h), and the ticker thread that drives lease expiry and long-poll
// deadlines.
//
//   CohortServer server(coordinator, options);
//   COHORT_RETURN_IF_ERROR(server.Start());   // then server.port()
//   ... wait for SIGTERM ...
//   server.Shutdown(absl::Seconds(10));
//
// Thread-safe after Start.
#ifndef COHORT_SERVER_SERVICE_SERVER_H_
#define COHORT_SERVER_SERVICE_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc_logging.h"
#include "server/coordinator/coordinator.h"
#include "server/service/plaintext_relay.h"
#include "server/service/served_certificates.h"
#include "server/service/tls_acceptor.h"

namespace grpc {
class Server;
namespace experimental {
class ExternalConnectionAcceptor;
}  // namespace experimental
}  // namespace grpc

namespace cohort::server {

// The listener's default maximum request size (cohortd --max-request-mb):
// over twice the largest request measured (a 100,000-step campaign, 13 MiB).
inline constexpr int kDefaultMaxRequestBytes = 32 << 20;

struct ServerOptions {
  std::string listen = "127.0.0.1:7400";  // port 0 picks a free port
  // A larger request is refused by gRPC with RESOURCE_EXHAUSTED before it is
  // parsed; the connection and every other call carry on. Field-level
  // limits below that size: limits.h.
  int max_request_bytes = kDefaultMaxRequestBytes;
  std::string tls_cert_file;              // PEM; empty: plaintext
  std::string tls_key_file;
  std::string tls_client_ca_file;         // set: require client certs (mTLS)
  // Where the checked copies gRPC serves live (served_certificates.h);
  // empty: a fresh folder under the system's temporary directory. Renewals
  // are taken by ReloadCertificates (cohortd's signal loop calls it every
  // --tls-reload-seconds, and at once on SIGHUP).
  std::string tls_served_dir;
  // Plaintext on an address other than loopback is refused unless this is
  // set: tokens and results would cross the network in the clear.
  bool insecure_plaintext = false;
  // Folders under which clients may register shared-path artifacts
  // (CheckSharedPathRegistration); admins may register any path.
  std::vector<std::string> shared_roots;
  // The secret workers' artifact-transfer keys derive from; empty: a random
  // one for this process (peer transfers then need the workers to register
  // again after a restart). cohortd keeps one in its state folder.
  std::string transfer_secret;
  absl::Duration tick = absl::Milliseconds(100);
  // Called once per finished RPC, on a gRPC thread: the full method name
  // ("/cohort.v1.WorkerGateway/Lease"), the gRPC status code and the time
  // from the call's arrival to its status. Must be cheap and thread-safe.
  // Empty: calls are not timed.
  std::function<void(const std::string& method, int code, absl::Duration latency)>
      on_rpc_done;
  // Called for each call refused from its headers, before its request was
  // read (call_auth.h): an unknown, expired or revoked token, or a token of
  // a role that may not call the method. Such calls never reach a handler,
  // so on_rpc_done does not see them. Cheap and thread-safe; may be empty.
  std::function<void(const std::string& method, int code)> on_refused_unread;
};

// kInvalidArgument naming what is missing when the TLS flags would serve
// something other than what they ask for (a client CA without a certificate
// served plaintext with no client check; a certificate without its key), or
// when a listener off loopback would be plaintext without
// `insecure_plaintext`.
absl::Status CheckListenerSecurity(const ServerOptions& options);
// For the start line: "TLS, client certificates required", "TLS",
// "plaintext, loopback only" or "PLAINTEXT on a non-loopback address".
std::string ListenerSecurity(const ServerOptions& options);

class CoordinatorService;
class WorkerGatewayService;

class CohortServer {
 public:
  CohortServer(Coordinator& coordinator, ServerOptions options);
  ~CohortServer();
  CohortServer(const CohortServer&) = delete;
  CohortServer& operator=(const CohortServer&) = delete;

  // kInvalidArgument for unreadable TLS files; kUnavailable if the address
  // cannot be bound.
  [[nodiscard]] absl::Status Start();
  int port() const { return port_; }
  // Health turns NOT_SERVING, parked polls are answered, in-flight calls get
  // until `grace` to finish.
  void Shutdown(absl::Duration grace);

  // Serves renewed TLS files to new connections (within a second) when they
  // check out; true when something changed. kFailedPrecondition without
  // TLS; otherwise ServedCertificates::Sync's errors, the previous files
  // still served.
  absl::StatusOr<bool> ReloadCertificates();

 private:
  Coordinator& coordinator_;
  ServerOptions options_;
  std::unique_ptr<CoordinatorService> coordinator_service_;
  std::unique_ptr<WorkerGatewayService> gateway_service_;
  std::unique_ptr<ServedCertificates> served_;  // set with TLS
  // Whose TLS handshakes were refused; outlives server_ (its verifier and
  // call hook report here).
  HandshakeWitness witness_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<PlaintextRelay> relay_;  // plaintext off loopback only
  // With TLS: cohortd accepts, gRPC handshakes, refusals name their peer.
  std::unique_ptr<TlsAcceptor> tls_acceptor_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> grpc_acceptor_;
  std::unique_ptr<HandshakeFailureDiversion> diversion_;
  std::thread ticker_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_SERVER_H_
