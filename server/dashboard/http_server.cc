#include "server/dashboard/http_server.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/listen_address.h"
#include "common/tcp_listener.h"
#include "server/dashboard/http_request.h"
#include "spdlog/spdlog.h"

namespace cohort::server::dashboard {
namespace {

constexpr size_t kMaxHeadBytes = 16 << 10;
constexpr size_t kMaxBodyBytes = 4 << 10;  // a sign-in form
constexpr size_t kMaxWaitingConnections = 64;
constexpr absl::Duration kRequestDeadline = absl::Seconds(10);
constexpr absl::Duration kSocketTimeout = absl::Seconds(10);
constexpr int kEventBatch = 500;
// Streams query the event log at most this often, however fast it grows
// (1,000 workers' heartbeats would otherwise wake every stream per event).
constexpr absl::Duration kMinEventInterval = absl::Milliseconds(250);

const char* StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Error" : "Internal Server Error";
  }
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "no detail";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  ERR_clear_error();
  return text;
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
  }
  return absl::StrCat(host, ":", port);
}

// One accepted connection, plain or TLS.
class Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Connection() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
  }
  // Bytes read (0: closed, timed out or failed).
  size_t Read(char* buffer, size_t size) {
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, buffer, static_cast<int>(size));
      return n > 0 ? static_cast<size_t>(n) : 0;
    }
    ssize_t n;
    do {
      n = recv(fd_, buffer, size, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  bool Write(absl::string_view text) {
    while (!text.empty()) {
      ssize_t n;
      if (ssl_ != nullptr) {
        n = SSL_write(ssl_, text.data(), static_cast<int>(std::min<size_t>(text.size(), 1 << 20)));
      } else {
        do {
          n = send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
      }
      if (n <= 0) return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

 private:
  int fd_;
  SSL* ssl_;
};

void Send(Connection& conn, const HttpResponse& r, bool head) {
  std::string out = absl::StrCat("HTTP/1.1 ", r.status, " ", StatusText(r.status),
                                 "\r\nContent-Type: ", r.content_type,
                                 "\r\nContent-Length: ", r.body.size(), "\r\n");
  for (const auto& [name, value] : r.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  absl::StrAppend(&out, "Connection: close\r\n\r\n");
  if (!head) out += r.body;
  conn.Write(out);
}

void SendError(Connection& conn, int status, absl::string_view message) {
  HttpResponse r = Dashboard::ErrorResponse(absl::InvalidArgumentError(message));
  r.status = status;
  Send(conn, r, false);
}

}  // namespace

struct DashboardServer::Impl {
  Impl(Dashboard& d, Coordinator& c, HttpServerOptions o)
      : dashboard(d), coordinator(c), options(std::move(o)) {}

  Dashboard& dashboard;
  Coordinator& coordinator;
  const HttpServerOptions options;
  std::unique_ptr<PollableListener> listener;  // set while serving
  SSL_CTX* ssl_context = nullptr;
  uint64_t subscription = 0;
  std::thread acceptor;
  std::vector<std::thread> workers;

  absl::Mutex mu;
  absl::CondVar changed;  // a coordinator change, or stopping
  absl::CondVar queued;   // a connection waits, or stopping
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  int streams ABSL_GUARDED_BY(mu) = 0;
  std::deque<int> waiting ABSL_GUARDED_BY(mu);  // accepted, not yet served
  std::set<int> serving ABSL_GUARDED_BY(mu);    // shut down on Stop

  bool Tls() const { return !options.tls_cert_file.empty(); }
  absl::Status MakeSslContext();
  void Accept();
  void Work();
  void Serve(int fd);
  void Respond(Connection& conn);
  void StreamEvents(Connection& conn, EventStream stream);

  // Each handshake reads the certificate and key: a renewal on disk is
  // served to the next connection, with no watcher to get wrong.
  static int UseCertificate(SSL* ssl, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    if (SSL_use_certificate_chain_file(ssl, self->options.tls_cert_file.c_str()) != 1 ||
        SSL_use_PrivateKey_file(ssl, self->options.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_check_private_key(ssl) != 1) {
      spdlog::warn("dashboard: {} / {} unusable for a handshake: {}", self->options.tls_cert_file,
                   self->options.tls_key_file, OpenSslError());
      return 0;
    }
    return 1;
  }
};

absl::Status DashboardServer::Impl::MakeSslContext() {
  ssl_context = SSL_CTX_new(TLS_server_method());
  if (ssl_context == nullptr) return absl::InternalError("SSL_CTX_new: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ssl_context, TLS1_2_VERSION);
  SSL_CTX_set_options(ssl_context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Fail at start, naming the file, rather than at the first browser.
  if (SSL_CTX_use_certificate_chain_file(ssl_context, options.tls_cert_file.c_str()) != 1) {
    return absl::FailedPreconditionError("dashboard: --tls-cert " + options.tls_cert_file +
                                         ": " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ssl_context, options.tls_key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ssl_context) != 1) {
    return absl::FailedPreconditionError("dashboard: --tls-key " + options.tls_key_file + ": " +
                                         OpenSslError());
  }
  SSL_CTX_set_cert_cb(ssl_context, &Impl::UseCertificate, this);
  if (!options.tls_client_ca_file.empty()) {
    const char* ca = options.tls_client_ca_file.c_str();
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca);
    if (names == nullptr || SSL_CTX_load_verify_locations(ssl_context, ca, nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return absl::FailedPreconditionError("dashboard: --tls-client-ca " +
                                           options.tls_client_ca_file + ": " + OpenSslError());
    }
    SSL_CTX_set_client_CA_list(ssl_context, names);
    SSL_CTX_set_verify(ssl_context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return absl::OkStatus();
}

void DashboardServer::Impl::Accept() {
  pollfd fds[2] = {{listener->fd(), POLLIN, 0}, {listener->wake_fd(), POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;  // Stop
    if ((fds[0].revents & POLLIN) == 0) continue;
    // Blocking: the workers read and write with timeouts (Serve).
    int fd = listener->Accept(/*nonblocking=*/false);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu);
    if (waiting.size() >= kMaxWaitingConnections) {
      close(fd);  // every thread is busy and the queue is full
      continue;
    }
    waiting.push_back(fd);
    queued.Signal();
  }
}

void DashboardServer::Impl::Work() {
  while (true) {
    int fd;
    {
      absl::MutexLock lock(&mu);
      while (!stopping && waiting.empty()) queued.Wait(&mu);
      if (stopping) return;
      fd = waiting.front();
      waiting.pop_front();
      serving.insert(fd);
    }
    Serve(fd);
    {
      absl::MutexLock lock(&mu);
      serving.erase(fd);
    }
    close(fd);
  }
}

void DashboardServer::Impl::Serve(int fd) {
  timeval timeout = absl::ToTimeval(kSocketTimeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  SSL* ssl = nullptr;
  if (ssl_context != nullptr) {
    ssl = SSL_new(ssl_context);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
      spdlog::info("dashboard: TLS handshake with {} failed: {}", PeerAddress(fd),
                   OpenSslError());
      SSL_free(ssl);
      return;
    }
  }
  Connection conn(fd, ssl);
  Respond(conn);
}

void DashboardServer::Impl::Respond(Connection& conn) {
  const absl::Time deadline = absl::Now() + kRequestDeadline;
  std::string data;
  char buffer[4096];
  size_t end;
  while ((end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > kMaxHeadBytes) return SendError(conn, 431, "request head over 16 KiB");
    if (absl::Now() > deadline) return;  // a slow drip holds no thread
    size_t n = conn.Read(buffer, sizeof(buffer));
    if (n == 0) return;
    data.append(buffer, n);
  }
  absl::StatusOr<RequestHead> head =
      ParseRequestHead(absl::string_view(data).substr(0, end + 4), kMaxBodyBytes);
  if (!head.ok()) {
    return SendError(conn, HttpStatusForParseError(head.status()), head.status().message());
  }
  HttpRequest request;
  request.body = data.substr(end + 4);
  while (request.body.size() < head->content_length) {
    if (absl::Now() > deadline) return;
    size_t n = conn.Read(buffer, sizeof(buffer));
    if (n == 0) return;
    request.body.append(buffer, n);
  }
  request.body.resize(head->content_length);
  auto header = [&head](const char* name) {
    auto it = head->headers.find(name);
    return it == head->headers.end() ? std::string() : it->second;
  };
  request.method = head->method;
  request.path = head->path;
  request.query = head->query;
  request.authorization = header("authorization");
  request.cookie = header("cookie");
  request.origin = header("origin");
  request.host = header("host");
  request.tls = Tls();
  if (request.method == "GET" && request.path == "/api/events") {
    absl::StatusOr<EventStream> stream = dashboard.OpenEvents(request, header("last-event-id"));
    if (!stream.ok()) return Send(conn, Dashboard::ErrorResponse(stream.status()), false);
    {
      absl::MutexLock lock(&mu);
      if (stopping || streams >= options.max_event_streams) {
        HttpResponse r = Dashboard::ErrorResponse(absl::UnavailableError(
            absl::StrCat("already ", streams, " event streams open; reload later")));
        r.headers.emplace_back("Retry-After", "10");
        return Send(conn, r, false);
      }
      ++streams;
    }
    // A stream is written to for its whole life: no send timeout beyond
    // the keepalive's (a tab that stopped reading is dropped then).
    StreamEvents(conn, *std::move(stream));
    absl::MutexLock lock(&mu);
    --streams;
    return;
  }
  Send(conn, dashboard.Handle(request), request.method == "HEAD");
}

void DashboardServer::Impl::StreamEvents(Connection& conn, EventStream stream) {
  if (!conn.Write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                  "Connection: close\r\n\r\nretry: 3000\n\n")) {
    return;
  }
  while (true) {
    uint64_t seen;
    {
      absl::MutexLock lock(&mu);
      if (stopping) return;
      seen = generation;
    }
    absl::StatusOr<std::string> frames = dashboard.EventFrames(&stream, kEventBatch);
    if (!frames.ok()) {
      conn.Write(absl::StrCat("event: error\ndata: ", frames.status().message(), "\n\n"));
      return;
    }
    if (!conn.Write(*frames)) return;  // the tab closed
    bool quiet;
    {
      absl::MutexLock lock(&mu);
      // Let a burst of changes gather, then sleep until the next one or
      // the keepalive, whichever comes first.
      const absl::Time soonest = absl::Now() + kMinEventInterval;
      while (!stopping && absl::Now() < soonest) changed.WaitWithDeadline(&mu, soonest);
      const absl::Time keepalive_at = absl::Now() + options.keepalive;
      while (!stopping && generation == seen && absl::Now() < keepalive_at) {
        changed.WaitWithDeadline(&mu, keepalive_at);
      }
      if (stopping) return;
      quiet = generation == seen;
    }
    if (quiet && !conn.Write(": keepalive\n\n")) return;
  }
}

DashboardServer::DashboardServer(Dashboard& dashboard, Coordinator& coordinator,
                                 HttpServerOptions options)
    : impl_(std::make_unique<Impl>(dashboard, coordinator, std::move(options))) {}

DashboardServer::~DashboardServer() { Stop(); }

absl::StatusOr<int> DashboardServer::Start() {
  const HttpServerOptions& o = impl_->options;
  if (impl_->listener != nullptr) {
    return absl::FailedPreconditionError("dashboard already serving");
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("the dashboard's HTTPS needs both --tls-cert and --tls-key");
  }
  if (!impl_->Tls() && !o.insecure_plaintext && !IsLoopbackListen(o.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dashboard-listen ", o.listen, " is not a loopback address and no --tls-cert/--tls-key "
        "were given: tokens would cross the network in the clear (--insecure-plaintext to "
        "allow it)"));
  }
  if (!impl_->Tls() && !o.tls_client_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (impl_->Tls()) {
    if (absl::Status s = impl_->MakeSslContext(); !s.ok()) {
      SSL_CTX_free(impl_->ssl_context);
      impl_->ssl_context = nullptr;
      return s;
    }
  }
  absl::StatusOr<std::unique_ptr<PollableListener>> listener =
      PollableListener::Open(o.listen, "--dashboard-listen");
  if (!listener.ok()) {
    SSL_CTX_free(impl_->ssl_context);
    impl_->ssl_context = nullptr;
    return listener.status();
  }
  impl_->listener = *std::move(listener);
  impl_->subscription = impl_->coordinator.Subscribe([impl = impl_.get()] {
    {
      absl::MutexLock lock(&impl->mu);
      ++impl->generation;
    }
    impl->changed.SignalAll();
  });
  for (int i = 0; i < std::max(2, o.threads); ++i) {
    impl_->workers.emplace_back([impl = impl_.get()] { impl->Work(); });
  }
  impl_->acceptor = std::thread([impl = impl_.get()] { impl->Accept(); });
  return impl_->listener->port();
}

void DashboardServer::Stop() {
  if (impl_->listener == nullptr) return;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
    // Requests being read or written end now, streams included.
    for (int fd : impl_->serving) shutdown(fd, SHUT_RDWR);
  }
  impl_->changed.SignalAll();
  impl_->queued.SignalAll();
  impl_->coordinator.Unsubscribe(impl_->subscription);
  impl_->listener->Stop();
  impl_->acceptor.join();
  for (std::thread& t : impl_->workers) t.join();
  impl_->workers.clear();
  {
    absl::MutexLock lock(&impl_->mu);
    for (int fd : impl_->waiting) close(fd);
    impl_->waiting.clear();
  }
  impl_->listener.reset();
  SSL_CTX_free(impl_->ssl_context);
  impl_->ssl_context = nullptr;
}

std::string DashboardServer::Describe() const {
  const HttpServerOptions& o = impl_->options;
  if (impl_->Tls()) {
    return o.tls_client_ca_file.empty() ? "HTTPS" : "HTTPS with client certificates";
  }
  return IsLoopbackListen(o.listen) ? "plaintext, loopback only"
                                    : "PLAINTEXT on a non-loopback address";
}

}  // namespace cohort::server::dashboard
