#include "common/tcp_listener.h"

#include <poll.h>
#include <unistd.h>

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

}  // namespace
}  // namespace cohort
