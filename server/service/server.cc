#include "server/service/server.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/listen_address.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "common/tls_inspect.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/service/call_auth.h"
#include "server/service/services.h"
#include "spdlog/spdlog.h"

namespace cohort::server {
namespace {

// Checks each client certificate as OpenSSL's handshake would
// (VerifyClientCertificate) so that a refusal says why, for the witness to
// log with the peer: OpenSSL's own check ends every refusal in "certificate
// verify failed". It reads the client CA gRPC serves at each check, so a
// renewal reaches both at once. gRPC calls it once the handshake is done
// (the client has proved it holds the certificate's key) and closes the
// connection when it refuses, before any call.
class ClientCertificateVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ClientCertificateVerifier(std::string served_ca, std::string operator_ca,
                            HandshakeWitness* witness)
      : served_ca_(std::move(served_ca)), operator_ca_(std::move(operator_ca)),
        witness_(witness) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* status) override {
    absl::Status checked = Check(*request);
    if (checked.ok()) {
      *status = grpc::Status::OK;
    } else {
      witness_->HandshakeFailed(std::string(checked.message()), absl::Now());
      *status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(checked.message()));
    }
    return true;  // decided here, synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  absl::Status Check(const grpc::experimental::TlsCustomVerificationCheckRequest& request) {
    absl::StatusOr<std::string> ca = ReadFileToString(served_ca_);
    if (!ca.ok()) {
      return absl::UnauthenticatedError(absl::StrCat("client CA: ", ca.status().message()));
    }
    return VerifyClientCertificate(
        std::string(request.peer_cert().data(), request.peer_cert().size()),
        std::string(request.peer_cert_full_chain().data(), request.peer_cert_full_chain().size()),
        *ca, operator_ca_, absl::Now());
  }

  const std::string served_ca_;
  const std::string operator_ca_;
  HandshakeWitness* const witness_;
};

// The listener's credentials, with `auth` checking each call's headers
// before its request is read. Plaintext is served on loopback only, off
// loopback behind a PlaintextRelay (plaintext_relay.h). With TLS, `witness`
// hears of each client certificate refused.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerOptions& options, ServedCertificates* served,
    std::shared_ptr<grpc::AuthMetadataProcessor> auth, HandshakeWitness* witness) {
  COHORT_RETURN_IF_ERROR(CheckListenerSecurity(options));
  if (served == nullptr) {
    // Local credentials are plaintext on the wire (plaintext clients connect
    // as before) and, unlike insecure ones, run an AuthMetadataProcessor;
    // they take loopback peers only, which the relay is.
    auto local = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
    local->SetAuthMetadataProcessor(std::move(auth));
    return local;
  }
  // Fail closed: an unreadable or mismatched pair, or an expired
  // certificate, would serve nothing but refusals.
  COHORT_RETURN_IF_ERROR(served->Sync(absl::Now()).status());
  // gRPC rereads the checked copies every second; ReloadCertificates (the
  // interval, SIGHUP) decides what they hold. Connections and leases carry
  // on across a renewal.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      served->key_path(), served->cert_path(), served->client_ca_path(), 1);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (!options.tls_client_ca_file.empty()) {
    tls.watch_root_certs();
    // A client without a certificate is still refused inside the handshake
    // ("peer did not return a certificate"); the chain check is ours.
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    tls.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<ClientCertificateVerifier>(
            served->client_ca_path(), options.tls_client_ca_file, witness));
  }
  auto credentials = grpc::experimental::TlsServerCredentials(tls);
  credentials->SetAuthMetadataProcessor(std::move(auth));
  return credentials;
}

// Times every call for ServerOptions::on_rpc_done: from the interceptor's
// creation (the call's arrival) to the status being sent.
class TimingInterceptor final : public grpc::experimental::Interceptor {
 public:
  TimingInterceptor(const ServerOptions* options, const char* method)
      : options_(options), method_(method == nullptr ? "" : method),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      options_->on_rpc_done(method_, methods->GetSendStatus().error_code(),
                            absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  const ServerOptions* options_;
  const std::string method_;
  const absl::Time start_;
};

// Tells the handshake witness that a connection carried a call (so its
// handshake passed and a later refusal is not pinned on it); adds no
// interceptor.
class CallArrivalFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallArrivalFactory(HandshakeWitness* witness) : witness_(witness) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    witness_->CallArrived(info->server_context()->peer());
    return nullptr;
  }

 private:
  HandshakeWitness* witness_;
};

// "TLS handshake refused for 10.0.0.5:43210: peer did not return a
// certificate (the client presented no certificate, ...)".
void LogRefusal(const HandshakeRefusal& refusal) {
  absl::string_view peer = refusal.peer;
  if (!absl::ConsumePrefix(&peer, "ipv4:")) absl::ConsumePrefix(&peer, "ipv6:");
  const std::string explanation = ExplainHandshakeFailure(refusal.reason);
  spdlog::warn("TLS handshake refused for {}: {}{}",
               peer.empty() ? "a peer not identified" : std::string(peer), refusal.reason,
               explanation.empty() ? "" : absl::StrCat(" (", explanation, ")"));
}

class TimingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TimingInterceptorFactory(const ServerOptions* options)
      : options_(options) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new TimingInterceptor(options_, info->method());
  }

 private:
  const ServerOptions* options_;
};

}  // namespace

absl::Status CheckListenerSecurity(const ServerOptions& options) {
  const bool cert = !options.tls_cert_file.empty();
  const bool key = !options.tls_key_file.empty();
  const bool client_ca = !options.tls_client_ca_file.empty();
  if (cert != key) {
    return absl::InvalidArgumentError(cert ? "--tls-cert needs --tls-key (the certificate's key)"
                                           : "--tls-key needs --tls-cert (its certificate)");
  }
  if (client_ca && !cert) {
    return absl::InvalidArgumentError(
        "--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS with client "
        "certificates, and without a server certificate cohortd would serve plaintext "
        "and check no client");
  }
  if (!cert && !options.insecure_plaintext && !IsLoopbackListen(options.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", options.listen, " is not a loopback address and no --tls-cert/--tls-key "
        "are given: tokens and results would cross the network in the clear. Give a "
        "certificate (docs/deploy.md), listen on 127.0.0.1, or pass --insecure-plaintext"));
  }
  return absl::OkStatus();
}

std::string ListenerSecurity(const ServerOptions& options) {
  if (!options.tls_cert_file.empty()) {
    return options.tls_client_ca_file.empty() ? "TLS" : "TLS, client certificates required";
  }
  return IsLoopbackListen(options.listen) ? "plaintext, loopback only"
                                          : "PLAINTEXT on a non-loopback address";
}

CohortServer::CohortServer(Coordinator& coordinator, ServerOptions options)
    : coordinator_(coordinator), options_(std::move(options)) {}

CohortServer::~CohortServer() { Shutdown(absl::ZeroDuration()); }

absl::Status CohortServer::Start() {
  if (!options_.tls_cert_file.empty()) {
    std::string dir = options_.tls_served_dir;
    if (dir.empty()) {
      char folder[] = "/tmp/cohortd-tls-XXXXXX";
      if (mkdtemp(folder) == nullptr) {
        return absl::InternalError(absl::StrCat("TLS: mkdtemp: ", std::strerror(errno)));
      }
      dir = folder;
    }
    served_ = std::make_unique<ServedCertificates>(
        ServedCertificates::Sources{options_.tls_cert_file, options_.tls_key_file,
                                    options_.tls_client_ca_file},
        dir);
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = Credentials(
      options_, served_.get(),
      std::make_shared<HeaderAuth>(coordinator_, options_.on_refused_unread),
      &witness_);
  if (!credentials.ok()) return credentials.status();
  if (served_ != nullptr) {
    absl::StatusOr<std::unique_ptr<TlsAcceptor>> acceptor =
        TlsAcceptor::Listen(options_.listen, &witness_);
    if (!acceptor.ok()) return acceptor.status();
    tls_acceptor_ = *std::move(acceptor);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  coordinator_service_ = std::make_unique<CoordinatorService>(coordinator_, options_.shared_roots);
  if (options_.transfer_secret.empty()) options_.transfer_secret = SecureRandomHex(32);
  gateway_service_ =
      std::make_unique<WorkerGatewayService>(coordinator_, options_.transfer_secret);
  // Plaintext off loopback: gRPC on loopback, the relay on the address.
  // TLS: cohortd accepts (tls_acceptor.h), gRPC runs the handshake.
  const bool relayed = served_ == nullptr && !IsLoopbackListen(options_.listen);
  grpc::ServerBuilder builder;
  if (tls_acceptor_ != nullptr) {
    port_ = tls_acceptor_->port();
    grpc_acceptor_ = builder.experimental().AddExternalConnectionAcceptor(
        grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, *credentials);
  } else {
    builder.AddListeningPort(relayed ? "127.0.0.1:0" : options_.listen, *credentials, &port_);
  }
  builder.RegisterService(coordinator_service_.get());
  builder.RegisterService(gateway_service_.get());
  builder.SetMaxReceiveMessageSize(options_.max_request_bytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  if (tls_acceptor_ != nullptr) {
    interceptors.push_back(std::make_unique<CallArrivalFactory>(&witness_));
  }
  if (options_.on_rpc_done) {
    interceptors.push_back(std::make_unique<TimingInterceptorFactory>(&options_));
  }
  if (!interceptors.empty()) builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Workers ping every few seconds while polling; don't GOAWAY them.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
  }
  if (relayed) {
    absl::StatusOr<std::unique_ptr<PlaintextRelay>> relay =
        PlaintextRelay::Start(options_.listen, port_);
    if (!relay.ok()) {
      server_->Shutdown();
      server_.reset();
      return relay.status();
    }
    relay_ = *std::move(relay);
    port_ = relay_->port();
  }
  if (tls_acceptor_ != nullptr) {
    HandshakeWitness* witness = &witness_;
    diversion_ = std::make_unique<HandshakeFailureDiversion>([witness](const std::string& line) {
      witness->HandshakeFailed(HandshakeFailureReason(line), absl::Now());
    });
    grpc::experimental::ExternalConnectionAcceptor* grpc_acceptor = grpc_acceptor_.get();
    tls_acceptor_->Start(
        [grpc_acceptor](int listener, int fd) {
          grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters connection;
          connection.listener_fd = listener;
          connection.fd = fd;
          grpc_acceptor->HandleNewConnection(&connection);
        },
        &LogRefusal);
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  ticker_ = std::thread([this] {
    while (!stopping_.load()) {
      coordinator_.Tick();
      absl::SleepFor(options_.tick);
    }
  });
  spdlog::info("serving on port {} ({}, requests up to {} bytes)", port_,
               ListenerSecurity(options_), options_.max_request_bytes);
  if (options_.tls_cert_file.empty() && !IsLoopbackListen(options_.listen)) {
    spdlog::warn("{} is plaintext off loopback (--insecure-plaintext): anyone on the "
                 "network path reads tokens and results", options_.listen);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CohortServer::ReloadCertificates() {
  if (served_ == nullptr) return absl::FailedPreconditionError("cohortd serves no TLS");
  return served_->Sync(absl::Now());
}

void CohortServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || stopping_.exchange(true)) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  coordinator_.CancelWaiters();
  // No new connections: gRPC would not take them once shutting down. The
  // witness stays: handshakes under way still report to it.
  diversion_.reset();
  tls_acceptor_.reset();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  relay_.reset();  // after the server's goodbyes went through it
  if (ticker_.joinable()) ticker_.join();
  spdlog::info("stopped");
}

}  // namespace cohort::server
