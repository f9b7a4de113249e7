#include "server/service/plaintext_relay.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/tcp_listener.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

// A loopback listener; -1 on failure. `port` gets its port.
int ListenLoopback(int* port) {
  int fd = ListenTcp("127.0.0.1:0", "test listener").value_or(-1);
  *port = fd >= 0 ? BoundPort(fd) : 0;
  return fd;
}


// Echoes every connection until its peer closes, then closes it: the
// stand-in for cohortd's loopback gRPC port.
class EchoServer {
 public:
  EchoServer() : listener_(ListenLoopback(&port_)) {
    thread_ = std::thread([this] {
      std::vector<std::thread> echoes;
      for (;;) {
        int fd = accept(listener_, nullptr, nullptr);
        if (fd < 0 || stop_.load()) {
          if (fd >= 0) close(fd);
          break;
        }
        echoes.emplace_back([fd] {
          char buffer[8192];
          ssize_t n;
          while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
            if (send(fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
          }
          close(fd);
        });
      }
      for (std::thread& t : echoes) t.join();
    });
  }
  ~EchoServer() {
    stop_ = true;
    close(ConnectLoopback(port_, false));  // wakes the accept
    thread_.join();
    close(listener_);
  }
  int port() const { return port_; }

 private:
  int port_ = 0;
  int listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sends all of `data` (blocking), or until the socket fails.
void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
}

// Sends `data`, closes the sending side, reads until EOF: what came back.
std::string RoundTrip(int fd, const std::string& data) {
  std::string back;
  std::thread sender([&] {
    SendAll(fd, data);
    shutdown(fd, SHUT_WR);
  });
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) back.append(buffer, static_cast<size_t>(n));
  sender.join();
  return back;
}

std::string Pattern(size_t size, int seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + seed) % 251);
  return data;
}

TEST(PlaintextRelayTest, CopiesBothWaysAndPassesOnTheClose) {
  EchoServer echo;
  ASSERT_OK_AND_ASSIGN(auto relay, PlaintextRelay::Start("0.0.0.0:0", echo.port()));
  ASSERT_GT(relay->port(), 0);
  ASSERT_NE(relay->port(), echo.port());
  // More than the relay buffers each way (64 KiB): the echo's reads and the
  // client's reads pace the copy.
  const std::string data = Pattern(5 << 20, 7);
  int fd = ConnectLoopback(relay->port(), false);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(RoundTrip(fd, data), data);  // EOF reached: the close went through both ways
  close(fd);
}

TEST(PlaintextRelayTest, ConnectionsDoNotWaitForEachOther) {
  EchoServer echo;
  ASSERT_OK_AND_ASSIGN(auto relay, PlaintextRelay::Start("127.0.0.1:0", echo.port()));
  // One connection that sends and never reads fills its buffers; the others
  // still get their answers.
  int stalled = ConnectLoopback(relay->port(), false);
  ASSERT_GE(stalled, 0);
  const std::string flood = Pattern(32 << 20, 1);
  std::thread flooder([&] { SendAll(stalled, flood); });
  std::vector<std::thread> clients;
  std::atomic<int> matched{0};
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&, i] {
      int fd = ConnectLoopback(relay->port(), false);
      const std::string data = Pattern(100000 + i, i);
      if (fd >= 0 && RoundTrip(fd, data) == data) ++matched;
      if (fd >= 0) close(fd);
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(matched.load(), 20);
  shutdown(stalled, SHUT_RDWR);  // ends the flooder's blocked send
  flooder.join();
  close(stalled);
}

TEST(PlaintextRelayTest, AClientIsClosedWhenNothingListensBehind) {
  int port = 0;
  int unused = ListenLoopback(&port);
  close(unused);  // nothing listens on `port` now
  ASSERT_OK_AND_ASSIGN(auto relay, PlaintextRelay::Start("127.0.0.1:0", port));
  int fd = ConnectLoopback(relay->port(), false);
  ASSERT_GE(fd, 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);  // closed, not left hanging
  char byte;
  EXPECT_LE(read(fd, &byte, 1), 0);
  close(fd);
}

TEST(PlaintextRelayTest, RefusesAnAddressItCannotTake) {
  EXPECT_FALSE(PlaintextRelay::Start("no-port", 1).ok());
  EXPECT_FALSE(PlaintextRelay::Start("0.0.0.0:99999", 1).ok());
  EchoServer echo;
  ASSERT_OK_AND_ASSIGN(auto first, PlaintextRelay::Start("127.0.0.1:0", echo.port()));
  absl::StatusOr<std::unique_ptr<PlaintextRelay>> second =
      PlaintextRelay::Start("127.0.0.1:" + std::to_string(first->port()), echo.port());
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace cohort::server
