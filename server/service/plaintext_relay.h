// File: plaintext_relay.h
//
// The front of a plaintext listener off loopback (--insecure-plaintext).
// gRPC runs a header processor (HeaderAuth: the token checked before a
// request is read or parsed) only on secure credentials, and the local
// credentials cohortd uses for plaintext refuse peers that are not on
// loopback. So cohortd's gRPC server listens on 127.0.0.1 with those local
// credentials, and this relay takes the public address and copies each
// connection's bytes, unread, to that loopback port: a caller without a
// valid token is refused from its headers wherever it connects from.
//
//   COHORT_ASSIGN_OR_RETURN(auto relay, PlaintextRelay::Start("0.0.0.0:7400", grpc_port));
//   relay->port();  // the public port (the one asked for, or the one picked for :0)
//
// One thread polls every connection (non-blocking sockets, up to 64 KiB
// buffered each way, allocated only while it holds bytes; a slow reader
// stalls only its own connection); a connection
// ends when both sides have closed, or at once on an error of either. At
// most kMaxConnections at a time; more are closed on accept.
//
// Thread safety: Start and the destructor are called from one thread; the
// relay's own thread alone touches the connections.
#ifndef COHORT_SERVER_SERVICE_PLAINTEXT_RELAY_H_
#define COHORT_SERVER_SERVICE_PLAINTEXT_RELAY_H_

#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/tcp_listener.h"

namespace cohort::server {

class PlaintextRelay {
 public:
  static constexpr int kMaxConnections = 8192;
  static constexpr size_t kBufferBytes = 64 << 10;

  // Listens on `listen` ("host:port", "[v6]:port"; port 0 picks one) and
  // relays to 127.0.0.1:`target_port`. kUnavailable when it cannot listen.
  static absl::StatusOr<std::unique_ptr<PlaintextRelay>> Start(const std::string& listen,
                                                               int target_port);
  ~PlaintextRelay();  // closes the listener and every connection
  PlaintextRelay(const PlaintextRelay&) = delete;
  PlaintextRelay& operator=(const PlaintextRelay&) = delete;

  int port() const { return listener_->port(); }

 private:
  PlaintextRelay(std::unique_ptr<PollableListener> listener, int target_port);
  void Run();

  const std::unique_ptr<PollableListener> listener_;  // Stop: the destructor's
  const int target_port_;
  std::thread thread_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_PLAINTEXT_RELAY_H_
