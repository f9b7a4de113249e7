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

}  // namespace cohort

#endif  // COHORT_COMMON_GRPC_LOGGING_H_
