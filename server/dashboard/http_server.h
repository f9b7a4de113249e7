// File: http_server.h
//
// The dashboard's listener: HTTP/1.1, or HTTPS with cohortd's certificate
// (OpenSSL), on a small fixed pool of threads; one request per connection.
// The same rules as the gRPC listener: plaintext only on loopback unless
// --insecure-plaintext, client certificates when --tls-client-ca is set,
// and a renewed certificate or key served to the next connection (each
// handshake reads the files, so there is nothing to reload). A failed
// handshake is logged with the peer's address.
//
// Limits that keep an unauthenticated peer from holding it: a request head
// of 16 KiB read within 10 s, a body of 4 KiB (the sign-in form), 64
// accepted connections waiting for a thread (more are closed at once).
//
// /api/events streams the watch feed as server-sent events: each stream
// holds a thread, wakes when the coordinator changes (one subscription for
// all streams, at most every 250 ms) and writes a comment every 15 s so that
// proxies keep it open and a closed tab is noticed. At most
// `max_event_streams` run at once (503 past that, so pages still load).
//
//   DashboardServer server(dashboard, coordinator, options);
//   COHORT_ASSIGN_OR_RETURN(int port, server.Start());
//   ...
//   server.Stop();  // ends the streams and open connections, joins threads
//
// Thread-safe. The Dashboard and Coordinator must outlive it.
#ifndef COHORT_SERVER_DASHBOARD_HTTP_SERVER_H_
#define COHORT_SERVER_DASHBOARD_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/coordinator/coordinator.h"
#include "server/dashboard/dashboard.h"

namespace cohort::server::dashboard {

struct HttpServerOptions {
  std::string listen;               // host:port (port 0: any free one)
  std::string tls_cert_file;        // with tls_key_file: HTTPS
  std::string tls_key_file;
  std::string tls_client_ca_file;   // require client certificates (mTLS)
  bool insecure_plaintext = false;  // allow plaintext off loopback
  int threads = 16;
  int max_event_streams = 8;  // fewer than threads: pages load beside them
  absl::Duration keepalive = absl::Seconds(15);
};

class DashboardServer {
 public:
  DashboardServer(Dashboard& dashboard, Coordinator& coordinator, HttpServerOptions options);
  ~DashboardServer();  // Stop()
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Binds and serves; returns the bound port. kInvalidArgument for a bad
  // address or plaintext off loopback, kFailedPrecondition when the
  // certificate, key or CA cannot be used (the message names the file),
  // kUnavailable when the address cannot be bound.
  absl::StatusOr<int> Start();
  void Stop();

  // "HTTPS", "HTTPS with client certificates", "plaintext, loopback only"...
  std::string Describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::server::dashboard

#endif  // COHORT_SERVER_DASHBOARD_HTTP_SERVER_H_
