// File: tcp_listener.h
//
// A listening TCP socket on a "host:port" flag value, for the listeners
// cohortd opens itself (the dashboard, the plaintext relay; gRPC opens its
// own), and the relay's connection to cohortd's loopback port. The host may be a name, an IPv4 address, an IPv6 address in
// brackets, or "" / "*" for every address; port 0 picks a free one
// (BoundPort tells which).
//
// Thread-safe (no shared state).
#ifndef COHORT_COMMON_TCP_LISTENER_H_
#define COHORT_COMMON_TCP_LISTENER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort {

// A bound, listening socket (blocking, close-on-exec, SO_REUSEADDR; an IPv6
// wildcard takes IPv4 too), trying each address the host resolves to.
// `flag` names the option in errors ("--dashboard-listen 0.0.0.0:x: ...").
// kInvalidArgument for a value that is not HOST:PORT or a host that does not
// resolve; kUnavailable when no address can be bound (in use, not this
// machine's).
absl::StatusOr<int> ListenTcp(const std::string& host_port, absl::string_view flag);

// The port a bound socket has; 0 on error.
int BoundPort(int fd);

// A TCP connection to 127.0.0.1:`port` (close-on-exec, TCP_NODELAY); -1 when
// it fails at once. `nonblocking`: the socket is non-blocking and the
// connect may still be in progress (wait for POLLOUT, then read SO_ERROR).
int ConnectLoopback(int port, bool nonblocking);

}  // namespace cohort

#endif  // COHORT_COMMON_TCP_LISTENER_H_
