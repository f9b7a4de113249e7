// File: grpc_logging.h
//
// gRPC's own log lines (a TLS handshake that failed: "Handshake failed with
// fatal error SSL_ERROR_SSL: ... peer did not return a certificate") go
// through spdlog, so they share the program's format (JSON lines with
// --log-format json) instead of gRPC's raw stderr lines, with gRPC's source
// position. gRPC does not say which peer a failed handshake came from:
// cohortd diverts those lines to a sink that finds out (tls_acceptor.h).
// Call once, after InitLogging.
#ifndef COHORT_COMMON_GRPC_LOGGING_H_
#define COHORT_COMMON_GRPC_LOGGING_H_

#include <functional>
#include <string>

namespace cohort {

void RouteGrpcLogsToSpdlog();

// While the returned handle lives, gRPC's "Handshake failed ..." lines go to
// `sink` (with the whole message, on a gRPC thread) instead of the log, when
// RouteGrpcLogsToSpdlog routes them. Several sinks may be installed (several
// servers in one test process); each gets every line.
class HandshakeFailureDiversion {
 public:
  explicit HandshakeFailureDiversion(std::function<void(const std::string& message)> sink);
  ~HandshakeFailureDiversion();
  HandshakeFailureDiversion(const HandshakeFailureDiversion&) = delete;
  HandshakeFailureDiversion& operator=(const HandshakeFailureDiversion&) = delete;

 private:
  std::function<void(const std::string&)> sink_;
};

// For the CLI, whose error message already names the cause (a refused TLS
// handshake is diagnosed by its own probe): gRPC's raw lines on stderr are
// dropped, unless GRPC_VERBOSITY is set (someone debugging gRPC itself).
void SilenceGrpcLogsUnlessAsked();

}  // namespace cohort

#endif  // COHORT_COMMON_GRPC_LOGGING_H_
