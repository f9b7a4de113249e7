// What cohortd's plaintext relay (server/service/plaintext_relay.h, in front
// of a plaintext listener off loopback) costs against a direct loopback
// connection: bytes sent through an echo server and read back, by several
// connections at once, both ways timed in the same run.
//
//   build/bin/relay_perf [MiB per connection (256)] [connections (4)]
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "common/tcp_listener.h"
#include "server/service/plaintext_relay.h"

namespace {

// Echoes `connections` connections, each on its own thread.
void Echo(int listener, int connections) {
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    int fd = accept(listener, nullptr, nullptr);
    threads.emplace_back([fd] {
      std::vector<char> buffer(1 << 16);
      ssize_t n;
      while ((n = read(fd, buffer.data(), buffer.size())) > 0) {
        if (send(fd, buffer.data(), static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
      }
      close(fd);
    });
  }
  for (std::thread& t : threads) t.join();
}

// Seconds for `connections` clients to send `bytes` each to `port` and read
// them back.
double RoundTrips(int port, int connections, size_t bytes) {
  const absl::Time start = absl::Now();
  std::vector<std::thread> clients;
  for (int c = 0; c < connections; ++c) {
    clients.emplace_back([port, bytes] {
      int fd = cohort::ConnectLoopback(port, false);
      std::thread sender([fd, bytes] {
        std::vector<char> chunk(1 << 16, 'x');
        for (size_t sent = 0; sent < bytes;) {
          ssize_t n = send(fd, chunk.data(), std::min(chunk.size(), bytes - sent), MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += static_cast<size_t>(n);
        }
        shutdown(fd, SHUT_WR);
      });
      std::vector<char> buffer(1 << 16);
      size_t got = 0;
      ssize_t n;
      while ((n = read(fd, buffer.data(), buffer.size())) > 0) got += static_cast<size_t>(n);
      sender.join();
      close(fd);
      if (got != bytes) {
        std::fprintf(stderr, "got %zu of %zu bytes back\n", got, bytes);
        std::exit(1);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int connections = argc > 2 ? std::atoi(argv[2]) : 4;
  const size_t bytes = mib << 20;
  absl::StatusOr<int> listening = cohort::ListenTcp("127.0.0.1:0", "echo listener");
  if (!listening.ok()) {
    std::fprintf(stderr, "%s\n", listening.status().ToString().c_str());
    return 1;
  }
  const int listener = *listening;
  const int echo_port = cohort::BoundPort(listener);
  auto relay = cohort::server::PlaintextRelay::Start("127.0.0.1:0", echo_port);
  if (!relay.ok()) {
    std::fprintf(stderr, "%s\n", relay.status().ToString().c_str());
    return 1;
  }
  const double total_mib = static_cast<double>(mib) * connections * 2;  // there and back
  std::printf("%d connections x %zu MiB each way, echoed on loopback\n", connections, mib);
  for (int round = 0; round < 3; ++round) {
    std::thread echo_direct(Echo, listener, connections);
    const double direct = RoundTrips(echo_port, connections, bytes);
    echo_direct.join();
    std::thread echo_relayed(Echo, listener, connections);
    const double relayed = RoundTrips((*relay)->port(), connections, bytes);
    echo_relayed.join();
    std::printf("round %d: direct %.2f s (%.0f MiB/s), through the relay %.2f s (%.0f MiB/s), "
                "ratio %.2f\n",
                round + 1, direct, total_mib / direct, relayed, total_mib / relayed,
                relayed / direct);
  }
  close(listener);
  return 0;
}
