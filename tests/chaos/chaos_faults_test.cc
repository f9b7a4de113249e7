// The fault makers of the chaos trials: the cuttable TCP proxy (a network
// partition) and the blkio-throttled group (a slow disk).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/chaos/slow_disk.h"
#include "tests/chaos/tcp_proxy.h"

namespace cohort::testing {
namespace {

using ::testing::HasSubstr;

// Echoes every byte back, one thread per connection.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~EchoServer() {
    stop_.store(true);
    acceptor_.join();
    for (int fd : connections_) shutdown(fd, SHUT_RDWR);
    for (std::thread& t : echoes_) t.join();
    for (int fd : connections_) close(fd);
    close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  void AcceptLoop() {
    while (!stop_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_.push_back(fd);
      echoes_.emplace_back([fd] {
        char buffer[4096];
        for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) {
          if (write(fd, buffer, static_cast<size_t>(n)) != n) return;
        }
      });
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  // Touched by the acceptor, then by the destructor.
  std::vector<int> connections_;
  std::vector<std::thread> echoes_;
};

int Connect(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// What arrives on `fd` within `ms`: the bytes, "<eof>", "<reset>" or "".
std::string Receive(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return "";
  char buffer[256];
  ssize_t n = read(fd, buffer, sizeof(buffer));
  if (n > 0) return std::string(buffer, static_cast<size_t>(n));
  if (n == 0) return "<eof>";
  return errno == ECONNRESET ? "<reset>" : "<error>";
}

bool Send(int fd, const std::string& text) {
  return send(fd, text.data(), text.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(text.size());
}

TEST(TcpProxyTest, RelaysBothWays) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  int fd = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(Send(fd, "hello"));
  EXPECT_EQ(Receive(fd, 5000), "hello");
  EXPECT_EQ((*proxy)->connections_accepted(), 1);
  close(fd);
}

TEST(TcpProxyTest, ListensOnAnotherLoopbackAddress) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.2", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ((*proxy)->address(),
            "127.0.0.2:" + std::to_string((*proxy)->port()));
  int fd = Connect("127.0.0.2", (*proxy)->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(Send(fd, "x"));
  EXPECT_EQ(Receive(fd, 5000), "x");
  close(fd);
}

TEST(TcpProxyTest, ResetCutResetsOpenAndNewConnectionsUntilHealed) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  int open = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_TRUE(Send(open, "a"));
  ASSERT_EQ(Receive(open, 5000), "a");

  (*proxy)->Cut(TcpProxy::CutKind::kReset);
  EXPECT_EQ(Receive(open, 5000), "<reset>");
  // The kernel accepts a new connection, and the proxy resets it.
  int during = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_GE(during, 0);
  EXPECT_EQ(Receive(during, 5000), "<reset>");
  EXPECT_EQ((*proxy)->connections_reset(), 2);

  (*proxy)->Heal();
  int after = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_TRUE(Send(after, "b"));
  EXPECT_EQ(Receive(after, 5000), "b");
  for (int fd : {open, during, after}) close(fd);
}

TEST(TcpProxyTest, BlackholeHoldsBytesOfOpenAndNewConnectionsUntilHealed) {
  EchoServer echo;
  auto proxy = TcpProxy::Start("127.0.0.1", 0, "127.0.0.1", echo.port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  int open = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_TRUE(Send(open, "a"));
  ASSERT_EQ(Receive(open, 5000), "a");

  (*proxy)->Cut(TcpProxy::CutKind::kBlackhole);
  ASSERT_TRUE(Send(open, "b"));
  int during = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_GE(during, 0);
  ASSERT_TRUE(Send(during, "c"));
  // Silence, not an error: the connections stay open.
  EXPECT_EQ(Receive(open, 300), "");
  EXPECT_EQ(Receive(during, 300), "");

  (*proxy)->Heal();
  EXPECT_EQ(Receive(open, 5000), "b");
  EXPECT_EQ(Receive(during, 5000), "c");
  EXPECT_EQ((*proxy)->connections_reset(), 0);
  for (int fd : {open, during}) close(fd);
}

TEST(TcpProxyTest, UpstreamDownResetsTheConnection) {
  int port = 0;
  {
    EchoServer gone;
    port = gone.port();
  }
  auto proxy = TcpProxy::Start("127.0.0.1", 0, "127.0.0.1", port);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  int fd = Connect("127.0.0.1", (*proxy)->port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Receive(fd, 5000), "<reset>");
  close(fd);
}

TEST(TcpProxyTest, RefusesAddressesOffThisMachine) {
  auto proxy = TcpProxy::Start("127.0.0.1", 0, "192.0.2.1", 80);
  ASSERT_FALSE(proxy.ok());
  EXPECT_THAT(proxy.status().message(),
              HasSubstr("192.0.2.1 is not a loopback address"));
  proxy = TcpProxy::Start("localhost", 0, "127.0.0.1", 80);
  ASSERT_FALSE(proxy.ok());
  EXPECT_THAT(proxy.status().message(),
              HasSubstr("'localhost' is not an IPv4 address"));
}

TEST(SlowDiskTest, FolderWithoutABlockDeviceIsRefusedWithTheReason) {
  if (!std::filesystem::is_directory("/proc/self")) GTEST_SKIP() << "no /proc";
  auto disk = SlowDisk::Create("/proc/self", "cohort-slow-disk-test-proc", {});
  ASSERT_FALSE(disk.ok());
  EXPECT_THAT(disk.status().message(), HasSubstr("no block device"));
}

// A child moved into the group writes and fsyncs a file: its writes to the
// disk are counted by the group's throttle (they went through it).
TEST(SlowDiskTest, FsyncedWritesOfAMovedProcessGoThroughTheThrottle) {
  TempDir dir;
  SlowDisk::Limits limits;
  limits.write_iops = 1000;  // counted, barely slowed
  auto disk = SlowDisk::Create(
      dir.path(), "cohort-slow-disk-test-" + std::to_string(getpid()), limits);
  if (!disk.ok()) GTEST_SKIP() << "no slow disk here: " << disk.status();
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::string file = dir.Join("data");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char byte;
    if (read(go[0], &byte, 1) != 1) _exit(2);
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char block[4096] = {1};
    for (int i = 0; i < 8; ++i) {
      if (write(fd, block, sizeof(block)) != sizeof(block) || fsync(fd) != 0)
        _exit(1);
    }
    _exit(0);
  }
  uint64_t before = (*disk)->ServicedWrites();
  ASSERT_TRUE((*disk)->Add(child).ok());
  ASSERT_EQ(write(go[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_GE((*disk)->ServicedWrites() - before, 8u)
      << "device " << (*disk)->device();
  close(go[0]);
  close(go[1]);
}

}  // namespace
}  // namespace cohort::testing
