// File: grpc_logging.h
//
// gRPC's own log lines (a TLS handshake that failed: "Handshake failed with
// fatal error SSL_ERROR_SSL: ... peer did not return a certificate") go
// through spdlog, so they share the program's format (JSON lines with
// --log-format json) instead of gRPC's raw stderr lines. gRPC does not say
// which peer a failed handshake came from; the line keeps gRPC's source
// position. Call once, after InitLogging.
#ifndef COHORT_COMMON_GRPC_LOGGING_H_
#define COHORT_COMMON_GRPC_LOGGING_H_

namespace cohort {

void RouteGrpcLogsToSpdlog();

// For the CLI, whose error message already names the cause (a refused TLS
// handshake is diagnosed by its own probe): gRPC's raw lines on stderr are
// dropped, unless GRPC_VERBOSITY is set (someone debugging gRPC itself).
void SilenceGrpcLogsUnlessAsked();

}  // namespace cohort

#endif  // COHORT_COMMON_GRPC_LOGGING_H_
