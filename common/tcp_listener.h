// File: tcp_listener.h
//
// A listening TCP socket on a "host:port" flag value, for the listeners
// cohortd opens itself (the dashboard, the plaintext relay, the TLS acceptor
// in front of gRPC; gRPC opens its own only for plaintext on loopback), and
// the relay's connection to cohortd's loopback port. The host may be a
// name, an IPv4 address, an IPv6 address in brackets, or "" / "*" for every
// address; port 0 picks a free one (BoundPort tells which).
//
// Thread-safe (no shared state); a PollableListener is used by its owner and
// its one poll thread (Stop and Accept from either).
#ifndef COHORT_COMMON_TCP_LISTENER_H_
#define COHORT_COMMON_TCP_LISTENER_H_

#include <memory>
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

// A non-blocking listening socket (ListenTcp's) for a poll loop on its own
// thread, with an eventfd beside it that the owner signals (Stop) to make the
// loop return. Owns both descriptors.
//
//   COHORT_ASSIGN_OR_RETURN(auto listener, PollableListener::Open("0.0.0.0:7400", "--listen"));
//   loop: poll({listener->wake_fd(), listener->fd()}); wake_fd readable: return;
//         fd readable: while ((c = listener->Accept()) >= 0) take c
//   owner: listener->Stop(); thread.join();
class PollableListener {
 public:
  static absl::StatusOr<std::unique_ptr<PollableListener>> Open(const std::string& host_port,
                                                                absl::string_view flag);
  ~PollableListener();
  PollableListener(const PollableListener&) = delete;
  PollableListener& operator=(const PollableListener&) = delete;

  int fd() const { return fd_; }
  int wake_fd() const { return wake_; }
  int port() const { return port_; }
  void Stop();  // wake_fd() turns readable, and stays so

  // A pending connection (close-on-exec, TCP_NODELAY; non-blocking unless
  // asked), or -1 when none is waiting. Out of descriptors or buffers
  // (EMFILE, ENFILE, ENOBUFS, ENOMEM) it waits up to kExhaustedWaitMs (less
  // once stopped) before saying -1: the listener stays readable then, and a
  // poll loop would otherwise spin on it.
  int Accept(bool nonblocking = true);
  static constexpr int kExhaustedWaitMs = 50;

 private:
  PollableListener(int fd, int wake, int port) : fd_(fd), wake_(wake), port_(port) {}
  const int fd_;
  const int wake_;
  const int port_;
};

// A TCP connection to 127.0.0.1:`port` (close-on-exec, TCP_NODELAY); -1 when
// it fails at once. `nonblocking`: the socket is non-blocking and the
// connect may still be in progress (wait for POLLOUT, then read SO_ERROR).
int ConnectLoopback(int port, bool nonblocking);

}  // namespace cohort

#endif  // COHORT_COMMON_TCP_LISTENER_H_
