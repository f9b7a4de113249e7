#include "server/service/plaintext_relay.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <vector>

#include "common/tcp_listener.h"

namespace cohort::server {
namespace {

// Bytes read from one side and not yet written to the other.
// The buffer is allocated while it holds bytes only: a thousand idle worker
// connections cost no buffer memory.
struct Pipe {
  std::vector<char> data;
  size_t begin = 0;
  size_t end = 0;
  bool eof = false;        // the reading side closed
  bool shut_down = false;  // and that was passed on (shutdown SHUT_WR)

  bool Empty() const { return begin == end; }
  bool Full() const { return end == PlaintextRelay::kBufferBytes; }
  void Release() {
    begin = end = 0;
    std::vector<char>().swap(data);
  }
};

struct Connection {
  int client = -1;
  int server = -1;
  bool connecting = true;  // the loopback connect has not completed
  Pipe up;    // client -> server
  Pipe down;  // server -> client
  bool failed = false;

  ~Connection() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
  bool Done() const {
    return failed || (up.shut_down && down.shut_down) ||
           (up.eof && down.eof && up.Empty() && down.Empty());
  }
};

// Reads from `fd` into `pipe`; false on an error (EOF sets pipe.eof).
bool Fill(int fd, Pipe* pipe) {
  // Full (a hang-up reported while the other side is slow): read later; a
  // read of 0 bytes here would look like the end of the stream.
  if (pipe->Full() || pipe->eof) return true;
  if (pipe->data.empty()) pipe->data.resize(PlaintextRelay::kBufferBytes);
  ssize_t n = read(fd, pipe->data.data() + pipe->end, pipe->data.size() - pipe->end);
  if (pipe->Empty() && n <= 0) pipe->Release();
  if (n > 0) {
    pipe->end += static_cast<size_t>(n);
    return true;
  }
  if (n == 0) {
    pipe->eof = true;
    return true;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

// Writes what `pipe` holds to `fd`, and passes on its EOF once drained;
// false on an error.
bool Drain(int fd, Pipe* pipe) {
  if (!pipe->Empty()) {
    ssize_t n = send(fd, pipe->data.data() + pipe->begin, pipe->end - pipe->begin, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    pipe->begin += static_cast<size_t>(n);
    if (pipe->Empty()) pipe->Release();
  }
  if (pipe->Empty() && pipe->eof && !pipe->shut_down) {
    shutdown(fd, SHUT_WR);
    pipe->shut_down = true;
  }
  return true;
}

// The events to wait for on each side of `c`.
short ClientEvents(const Connection& c) {
  short events = 0;
  if (!c.up.eof && !c.up.Full()) events |= POLLIN;
  if (!c.down.Empty() || (c.down.eof && !c.down.shut_down)) events |= POLLOUT;
  return events;
}

short ServerEvents(const Connection& c) {
  if (c.connecting) return POLLOUT;
  short events = 0;
  if (!c.down.eof && !c.down.Full()) events |= POLLIN;
  if (!c.up.Empty() || (c.up.eof && !c.up.shut_down)) events |= POLLOUT;
  return events;
}

// Moves what `c`'s sockets are ready for; sets c->failed on an error.
void Pump(Connection* c, short client_ready, short server_ready) {
  if ((client_ready | server_ready) & (POLLERR | POLLNVAL)) {
    c->failed = true;
    return;
  }
  if (c->connecting && (server_ready & (POLLOUT | POLLHUP))) {
    int error = 0;
    socklen_t size = sizeof(error);
    getsockopt(c->server, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      c->failed = true;
      return;
    }
    c->connecting = false;
    server_ready = 0;
  }
  if (client_ready & (POLLIN | POLLHUP)) c->failed |= !Fill(c->client, &c->up);
  if (!c->connecting) {
    if (server_ready & (POLLIN | POLLHUP)) c->failed |= !Fill(c->server, &c->down);
    c->failed |= !Drain(c->server, &c->up);
  }
  c->failed |= !Drain(c->client, &c->down);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PlaintextRelay>> PlaintextRelay::Start(const std::string& listen,
                                                                      int target_port) {
  absl::StatusOr<std::unique_ptr<PollableListener>> listener =
      PollableListener::Open(listen, "--listen");
  if (!listener.ok()) return listener.status();
  std::unique_ptr<PlaintextRelay> relay(new PlaintextRelay(*std::move(listener), target_port));
  relay->thread_ = std::thread([r = relay.get()] { r->Run(); });
  return relay;
}

PlaintextRelay::PlaintextRelay(std::unique_ptr<PollableListener> listener, int target_port)
    : listener_(std::move(listener)), target_port_(target_port) {}

PlaintextRelay::~PlaintextRelay() {
  listener_->Stop();
  if (thread_.joinable()) thread_.join();
}

void PlaintextRelay::Run() {
  std::list<Connection> connections;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({listener_->wake_fd(), POLLIN, 0});
    fds.push_back({listener_->fd(), POLLIN, 0});
    for (const Connection& c : connections) {
      // A side with nothing to do is left out (fd -1), so that a hang-up
      // it reports while its buffer waits on the other side does not wake
      // the loop again and again.
      const short client = ClientEvents(c), server = ServerEvents(c);
      fds.push_back({client != 0 ? c.client : -1, client, 0});
      fds.push_back({server != 0 ? c.server : -1, server, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) return;  // the destructor
    size_t i = 2;
    for (auto it = connections.begin(); it != connections.end(); i += 2) {
      Pump(&*it, fds[i].revents, fds[i + 1].revents);
      it = it->Done() ? connections.erase(it) : std::next(it);
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        int client = listener_->Accept();
        if (client < 0) break;
        if (static_cast<int>(connections.size()) >= kMaxConnections) {
          close(client);
          continue;
        }
        Connection& c = connections.emplace_back();
        c.client = client;
        c.server = ConnectLoopback(target_port_, /*nonblocking=*/true);
        c.failed = c.server < 0;
      }
    }
  }
}

}  // namespace cohort::server
