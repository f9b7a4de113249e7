#include "tests/chaos/tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cohort::testing {
namespace {

// Bytes buffered per direction before the relay stops reading that side.
constexpr std::size_t kMaxBuffered = 1 << 20;

absl::StatusOr<sockaddr_in> LoopbackAddress(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", host, "' is not an IPv4 address"));
  }
  // The proxy is for tests on this machine only.
  if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
    return absl::InvalidArgumentError(
        absl::StrCat(host, " is not a loopback address"));
  }
  return addr;
}

void SetNonBlocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Closing with a zero linger sends RST instead of FIN.
void CloseWithReset(int fd) {
  if (fd < 0) return;
  linger abort{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  close(fd);
}

// Reads what `fd` has into `into`; false on end of stream or error.
bool ReadInto(int fd, std::string& into) {
  char buffer[64 << 10];
  while (into.size() < kMaxBuffered) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

// Writes as much of `from` as `fd` takes now; false on error.
bool WriteFrom(int fd, std::string& from) {
  while (!from.empty()) {
    ssize_t n = send(fd, from.data(), from.size(), MSG_NOSIGNAL);
    if (n > 0) {
      from.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    const std::string& listen_host, int listen_port,
    const std::string& upstream_host, int upstream_port) {
  absl::StatusOr<sockaddr_in> listen_addr =
      LoopbackAddress(listen_host, listen_port);
  if (!listen_addr.ok()) return listen_addr.status();
  if (absl::StatusOr<sockaddr_in> up =
          LoopbackAddress(upstream_host, upstream_port);
      !up.ok()) {
    return up.status();
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = *listen_addr;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("proxy cannot listen on ", listen_host, ":", listen_port,
                     ": ", std::strerror(errno)));
    close(fd);
    return status;
  }
  SetNonBlocking(fd);
  int wake[2];
  if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(listen_host, fd, ntohs(addr.sin_port), upstream_host,
                   upstream_port, wake[0], wake[1]));
}

TcpProxy::TcpProxy(std::string listen_host, int listen_fd, int port,
                   std::string upstream_host, int upstream_port, int wake_read,
                   int wake_write)
    : listen_host_(std::move(listen_host)),
      listen_fd_(listen_fd),
      port_(port),
      upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      wake_read_(wake_read),
      wake_write_(wake_write) {
  thread_ = std::thread([this] { Loop(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  (void)!write(wake_write_, "x", 1);
  thread_.join();
  for (Link& link : links_) {
    if (link.down >= 0) close(link.down);
    if (link.up >= 0) close(link.up);
  }
  close(listen_fd_);
  close(wake_read_);
  close(wake_write_);
}

void TcpProxy::Cut(CutKind kind) {
  {
    absl::MutexLock lock(&mu_);
    if (kind == CutKind::kReset) {
      mode_ = Mode::kReset;
      reset_pending_ = true;
    } else {
      mode_ = Mode::kBlackhole;
    }
  }
  (void)!write(wake_write_, "x", 1);
}

void TcpProxy::Heal() {
  {
    absl::MutexLock lock(&mu_);
    mode_ = Mode::kOpen;
  }
  (void)!write(wake_write_, "x", 1);
}

void TcpProxy::ResetLink(Link& link) {
  connections_reset_.fetch_add(1);  // counted before the peer can see it
  CloseWithReset(link.down);
  CloseWithReset(link.up);
  link.down = link.up = -1;
}

void TcpProxy::ResetAll() {
  for (Link& link : links_) {
    if (link.down >= 0) ResetLink(link);
  }
}

bool TcpProxy::ConnectUpstream(Link& link) {
  sockaddr_in addr = *LoopbackAddress(upstream_host_, upstream_port_);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // A loopback connect completes (or is refused) at once, so it may block.
  if (fd < 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    return false;
  }
  SetNonBlocking(fd);
  SetNoDelay(fd);
  link.up = fd;
  return true;
}

void TcpProxy::AcceptAll() {
  while (true) {
    int fd =
        accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    connections_accepted_.fetch_add(1);
    // The mode now, not when poll returned: a connection made after Heal
    // returned must not be reset.
    if (CurrentMode() == Mode::kReset) {
      connections_reset_.fetch_add(1);
      CloseWithReset(fd);
      continue;
    }
    SetNoDelay(fd);
    Link link;
    link.down = fd;
    links_.push_back(
        std::move(link));  // connected upstream once the link is open
  }
}

bool TcpProxy::Pump(Link& link, short down_events, short up_events) {
  bool alive = true;
  if (down_events & (POLLIN | POLLHUP | POLLERR))
    alive &= ReadInto(link.down, link.to_up);
  if (up_events & (POLLIN | POLLHUP | POLLERR))
    alive &= ReadInto(link.up, link.to_down);
  // Write whatever is buffered, including what one side sent before closing.
  bool written =
      WriteFrom(link.up, link.to_up) && WriteFrom(link.down, link.to_down);
  return alive && written;
}

TcpProxy::Mode TcpProxy::CurrentMode() {
  absl::MutexLock lock(&mu_);
  return mode_;
}

void TcpProxy::Loop() {
  while (!stop_.load()) {
    Mode mode;
    bool reset;
    {
      absl::MutexLock lock(&mu_);
      mode = mode_;
      reset = reset_pending_;
      reset_pending_ = false;
    }
    if (reset) ResetAll();
    if (mode == Mode::kOpen) {
      for (Link& link : links_) {
        if (link.down >= 0 && link.up < 0 && !ConnectUpstream(link))
          ResetLink(link);
      }
    }
    links_.erase(std::remove_if(links_.begin(), links_.end(),
                                [](const Link& l) { return l.down < 0; }),
                 links_.end());
    std::vector<pollfd> fds = {{wake_read_, POLLIN, 0},
                               {listen_fd_, POLLIN, 0}};
    // A blackholed link is not polled at all: nothing moves, and even a
    // closed end goes unnoticed until the link heals.
    const std::size_t polled = mode == Mode::kOpen ? links_.size() : 0;
    for (std::size_t i = 0; i < polled; ++i) {
      const Link& link = links_[i];
      auto events = [](const std::string& in, const std::string& out) {
        return static_cast<short>((in.size() < kMaxBuffered ? POLLIN : 0) |
                                  (out.empty() ? 0 : POLLOUT));
      };
      fds.push_back({link.down, events(link.to_up, link.to_down), 0});
      fds.push_back({link.up, events(link.to_down, link.to_up), 0});
    }
    if (poll(fds.data(), fds.size(), 100) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) {
      char drain[64];
      while (read(wake_read_, drain, sizeof(drain)) > 0) {
      }
    }
    // Cut or Heal may have come while polling: what happens from now on
    // follows them (a connection accepted after Heal returned is relayed).
    const Mode now = CurrentMode();
    for (std::size_t i = 0; i < polled && now == Mode::kOpen; ++i) {
      Link& link = links_[i];
      if (!Pump(link, fds[2 + 2 * i].revents, fds[3 + 2 * i].revents)) {
        // One end closed or failed: close the other end the same way.
        close(link.down);
        close(link.up);
        link.down = link.up = -1;
      }
    }
    if (fds[1].revents != 0) AcceptAll();
  }
}

}  // namespace cohort::testing
