#include "server/service/tls_acceptor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cohort::server {
namespace {

constexpr int kSweepMs = 50;
constexpr int kIdleMs = 1000;

// The socket's inode: tells a connection from a later one given its fd number.
uint64_t Identity(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

bool StillOpen(int fd, uint64_t identity) { return Identity(fd) == identity; }

}  // namespace

std::string GrpcPeerOf(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof(address);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return absl::StrCat("ipv4:", text, ":", ntohs(v4->sin_port));
  }
  if (address.ss_family != AF_INET6) return "";
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
  if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {  // an IPv6 wildcard's IPv4 client, as gRPC says it
    inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof(text));
    return absl::StrCat("ipv4:", text, ":", ntohs(v6->sin6_port));
  }
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  return absl::StrCat("ipv6:[", text, "]:", ntohs(v6->sin6_port));
}

absl::StatusOr<std::unique_ptr<TlsAcceptor>> TlsAcceptor::Listen(const std::string& listen,
                                                                 HandshakeWitness* witness) {
  absl::StatusOr<std::unique_ptr<PollableListener>> listener =
      PollableListener::Open(listen, "--listen");
  if (!listener.ok()) return listener.status();
  return std::unique_ptr<TlsAcceptor>(new TlsAcceptor(*std::move(listener), witness));
}

TlsAcceptor::TlsAcceptor(std::unique_ptr<PollableListener> listener, HandshakeWitness* witness)
    : listener_(std::move(listener)), witness_(witness) {}

TlsAcceptor::~TlsAcceptor() {
  listener_->Stop();
  if (thread_.joinable()) thread_.join();
}

void TlsAcceptor::Start(HandOver hand_over, Report report) {
  hand_over_ = std::move(hand_over);
  report_ = std::move(report);
  thread_ = std::thread([this] { Run(); });
}

void TlsAcceptor::Run() {
  for (;;) {
    pollfd fds[2] = {{listener_->wake_fd(), POLLIN, 0}, {listener_->fd(), POLLIN, 0}};
    if (poll(fds, 2, witness_->Busy() ? kSweepMs : kIdleMs) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) return;  // the destructor
    if (fds[1].revents & POLLIN) AcceptAll();
    for (const HandshakeRefusal& refusal : witness_->Sweep(absl::Now(), StillOpen)) {
      report_(refusal);
    }
  }
}

void TlsAcceptor::AcceptAll() {
  for (int fd; (fd = listener_->Accept()) >= 0;) {
    // Noted before gRPC has it: it may refuse and close it at once.
    std::string peer = GrpcPeerOf(fd);
    if (!peer.empty()) witness_->Accepted(fd, Identity(fd), std::move(peer), absl::Now());
    hand_over_(listener_->fd(), fd);
  }
}

}  // namespace cohort::server
