#include "common/tcp_listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

TEST(TcpListenerTest, PortZeroPicksOneAndATakenPortIsRefused) {
  ASSERT_OK_AND_ASSIGN(int fd, ListenTcp("127.0.0.1:0", "--listen"));
  const int port = BoundPort(fd);
  EXPECT_GT(port, 0);
  EXPECT_THAT(ListenTcp("127.0.0.1:" + std::to_string(port), "--listen").status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("--listen 127.0.0.1:" + std::to_string(port))));
  close(fd);
  for (const char* every : {":0", "*:0", "0.0.0.0:0"}) {
    absl::StatusOr<int> any = ListenTcp(every, "--dashboard-listen");
    ASSERT_TRUE(any.ok()) << every << ": " << any.status();
    EXPECT_GT(BoundPort(*any), 0);
    close(*any);
  }
}

TEST(TcpListenerTest, AValueThatIsNotHostPortIsNamed) {
  for (const char* bad : {"7400", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536"}) {
    EXPECT_THAT(ListenTcp(bad, "--dashboard-listen").status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("--dashboard-listen " + std::string(bad) + ": expected")))
        << bad;
  }
  EXPECT_THAT(ListenTcp("no-such-host.invalid:0", "--listen").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no-such-host.invalid")));
}

TEST(PollableListenerTest, StopMakesTheWakeDescriptorReadable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PollableListener> listener,
                       PollableListener::Open("127.0.0.1:0", "--listen"));
  EXPECT_GT(listener->port(), 0);
  pollfd fds[2] = {{listener->wake_fd(), POLLIN, 0}, {listener->fd(), POLLIN, 0}};
  EXPECT_EQ(poll(fds, 2, 0), 0);  // nothing to accept, not stopped
  int client = ConnectLoopback(listener->port(), /*nonblocking=*/false);
  ASSERT_GE(client, 0);
  EXPECT_EQ(poll(fds, 2, 1000), 1);
  EXPECT_TRUE(fds[1].revents & POLLIN);
  listener->Stop();
  listener->Stop();  // twice is fine
  EXPECT_EQ(poll(fds, 1, 0), 1);
  EXPECT_TRUE(fds[0].revents & POLLIN);
  close(client);
}

TEST(PollableListenerTest, AcceptGivesANonBlockingNoDelaySocketOrMinusOne) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PollableListener> listener,
                       PollableListener::Open("127.0.0.1:0", "--listen"));
  EXPECT_EQ(listener->Accept(), -1);  // none waiting
  int client = ConnectLoopback(listener->port(), /*nonblocking=*/false);
  ASSERT_GE(client, 0);
  pollfd ready = {listener->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&ready, 1, 1000), 1);
  int accepted = listener->Accept();
  ASSERT_GE(accepted, 0);
  EXPECT_TRUE(fcntl(accepted, F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(accepted, F_GETFD) & FD_CLOEXEC);
  int nodelay = 0;
  socklen_t size = sizeof(nodelay);
  getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size);
  EXPECT_NE(nodelay, 0);
  close(accepted);
  close(client);
}

// Out of descriptors, accept fails while the listener stays readable: Accept
// waits before saying -1, so a poll loop around it does not spin. In a child
// process, whose descriptor limit the test lowers.
TEST(PollableListenerTest, OutOfDescriptorsAcceptWaitsInsteadOfSpinning) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<PollableListener>> listener =
        PollableListener::Open("127.0.0.1:0", "--listen");
    if (!listener.ok()) _exit(10);
    int client = ConnectLoopback((*listener)->port(), /*nonblocking=*/false);
    if (client < 0) _exit(11);
    rlimit limit = {static_cast<rlim_t>(client + 1), static_cast<rlim_t>(client + 1)};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(12);
    const absl::Time start = absl::Now();
    for (int i = 0; i < 4; ++i) {
      if ((*listener)->Accept() != -1) _exit(13);
    }
    const absl::Duration took = absl::Now() - start;
    _exit(took >= absl::Milliseconds(4 * PollableListener::kExhaustedWaitMs - 20) ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace cohort
