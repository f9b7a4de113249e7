// File: tcp_proxy.h
//
// A loopback TCP relay that a test can cut and heal, to partition two
// processes from each other while both keep running: a worker reaches cohortd
// (or a peer's artifact service) only through it. One thread relays every
// connection with poll(); Cut and Heal are called from any thread.
#ifndef COHORT_TESTS_CHAOS_TCP_PROXY_H_
#define COHORT_TESTS_CHAOS_TCP_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace cohort::testing {

class TcpProxy {
 public:
  enum class CutKind {
    // Every open connection is reset (RST) and every new one is reset as soon
    // as it is accepted: both ends see "connection reset" at once.
    kReset,
    // No byte moves on open or new connections, which stay open: both ends
    // see silence, as when packets are dropped. What was sent meanwhile is
    // delivered after Heal, as TCP retransmission would deliver it.
    kBlackhole,
  };

  // Listens on listen_host:listen_port (0: any free port) and relays each
  // accepted connection to upstream_host:upstream_port, connecting upstream
  // per connection (an upstream that is down resets the connection).
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(
      const std::string& listen_host, int listen_port,
      const std::string& upstream_host, int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string address() const {
    return listen_host_ + ":" + std::to_string(port_);
  }

  void Cut(CutKind kind);
  void Heal();
  // Connections accepted so far, and those a kReset cut reset (open or new).
  int connections_accepted() const { return connections_accepted_.load(); }
  int connections_reset() const { return connections_reset_.load(); }

 private:
  enum class Mode { kOpen, kReset, kBlackhole };
  struct Link {
    int down = -1;  // the accepted connection
    int up = -1;    // to upstream; -1 until connected
    std::string to_up, to_down;
  };

  TcpProxy(std::string listen_host, int listen_fd, int port,
           std::string upstream_host, int upstream_port, int wake_read,
           int wake_write);
  Mode CurrentMode();
  void Loop();
  void AcceptAll();
  bool ConnectUpstream(Link& link);
  void ResetAll();
  void ResetLink(Link& link);
  // Moves bytes for one link after poll; false when the link ended.
  bool Pump(Link& link, short down_events, short up_events);

  const std::string listen_host_;
  const int listen_fd_;
  const int port_;
  const std::string upstream_host_;
  const int upstream_port_;
  const int wake_read_, wake_write_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_accepted_{0};
  std::atomic<int> connections_reset_{0};
  absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kOpen;
  bool reset_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Link> links_;  // only the relay thread touches these
  std::thread thread_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_CHAOS_TCP_PROXY_H_
