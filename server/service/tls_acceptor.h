// File: tls_acceptor.h
//
// cohortd's TLS listener socket, accepted by cohortd rather than by gRPC:
// each connection is handed to gRPC at once (ServerBuilder's external
// connection acceptor, which runs the same TLS handshake on it), after its
// peer is noted for the HandshakeWitness. gRPC's line for a refused
// handshake names no peer; with the witness, cohortd's does:
//
//   TLS handshake refused for ipv4:10.0.0.5:43210: peer did not return a certificate (...)
//
//   COHORT_ASSIGN_OR_RETURN(auto acceptor, TlsAcceptor::Listen("0.0.0.0:7400", &witness));
//   ... build the gRPC server with an external connection acceptor ...
//   acceptor->Start([&](int listener, int fd) { hand to gRPC }, [](const HandshakeRefusal& r) { log r });
//
// One thread accepts (PollableListener::Accept: non-blocking, close-on-exec,
// TCP_NODELAY sockets, as gRPC's own listener makes them) and sweeps the
// witness every 50 ms while it watches a connection, once a second
// otherwise. `hand_over` takes
// ownership of the fd; `report` runs on the thread for each settled refusal.
//
// The witness is the caller's, and must outlive the gRPC server too (gRPC's
// certificate verifier and call hook report to it), not only the acceptor.
//
// Thread safety: Listen, Start and the destructor from one thread.
#ifndef COHORT_SERVER_SERVICE_TLS_ACCEPTOR_H_
#define COHORT_SERVER_SERVICE_TLS_ACCEPTOR_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/tcp_listener.h"
#include "server/service/handshake_witness.h"

namespace cohort::server {

class TlsAcceptor {
 public:
  using HandOver = std::function<void(int listener_fd, int fd)>;
  using Report = std::function<void(const HandshakeRefusal&)>;

  // Binds `listen` ("host:port"; port 0 picks one); connections queue until
  // Start. kInvalidArgument / kUnavailable as ListenTcp.
  static absl::StatusOr<std::unique_ptr<TlsAcceptor>> Listen(const std::string& listen,
                                                             HandshakeWitness* witness);
  ~TlsAcceptor();  // stops accepting and closes the listener
  TlsAcceptor(const TlsAcceptor&) = delete;
  TlsAcceptor& operator=(const TlsAcceptor&) = delete;

  void Start(HandOver hand_over, Report report);
  int port() const { return listener_->port(); }

 private:
  TlsAcceptor(std::unique_ptr<PollableListener> listener, HandshakeWitness* witness);
  void Run();
  void AcceptAll();

  const std::unique_ptr<PollableListener> listener_;  // Stop: the destructor's
  HandOver hand_over_;
  Report report_;
  HandshakeWitness* const witness_;
  std::thread thread_;
};

// gRPC's form of a socket's peer: "ipv4:10.0.0.5:43210", "ipv6:[::1]:43210";
// empty when it cannot be read.
std::string GrpcPeerOf(int fd);

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_TLS_ACCEPTOR_H_
