// File: dashboard.h
//
// cohortd's read-only web dashboard as a pure request handler: a request
// in, a response out, no sockets (http_server.h serves it over HTTP or
// HTTPS; the tests call Handle directly).
//
// The pages are one static HTML file, a stylesheet and plain JavaScript
// compiled into the binary (server/dashboard/web/: no build step, no CDN);
// they draw themselves from the JSON below and follow the watch feed as
// server-sent events. Plots are SVG rendered here by the report library
// that `cohort report --plots` uses, so the browser needs no plotting code.
//
//   GET  /                                   the app (pages: #/ campaigns,
//                                            #/c/ID campaign, #/c/ID/scoreboard,
//                                            #/c/ID/lengths, #/c/ID/compare,
//                                            #/workers)
//   GET  /static/app.js, /static/style.css
//   GET  /api/whoami                         the caller's role and identity
//   GET  /api/campaigns                      state, steps by state, progress,
//                                            ETA, workers of each campaign
//   GET  /api/campaigns/ID                   its models x stages grid, the
//                                            running steps with their progress,
//                                            the failures with their log tails
//   GET  /api/campaigns/ID/scoreboard        accuracy with Δ columns
//   GET  /api/campaigns/ID/lengths?suite=S   completion-token statistics
//   GET  /api/campaigns/ID/compare?a=M&b=M   per-problem wins and losses
//   GET  /api/campaigns/ID/problem?suite=S&problem=P&models=M,M
//                                            completions side by side
//   GET  /api/campaigns/ID/plots/scoreboard.svg
//   GET  /api/campaigns/ID/plots/lengths.svg?suite=S
//   GET  /api/workers                        GPUs, tools, current leases
//   GET  /api/events?campaign=ID             server-sent events (OpenEvents)
//   POST /login (token=...), POST /logout    the token cookie
//
// Auth follows the gRPC API: a client or admin token, from
// "Authorization: Bearer" or the HttpOnly cookie cohort_token that /login
// sets; a client sees its own campaigns (and those without an owner), an
// admin all. Every response carries a Content-Security-Policy that allows
// no inline script, and model-written text reaches the page only as JSON
// strings the script puts in text nodes.
//
// Thread-safe: the listener calls Handle from many threads. The Coordinator
// must outlive it.
#ifndef COHORT_SERVER_DASHBOARD_DASHBOARD_H_
#define COHORT_SERVER_DASHBOARD_DASHBOARD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/coordinator/coordinator.h"

namespace cohort::server::dashboard {

struct HttpRequest {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // decoded, without the query
  std::string query;                          // raw, after '?'
  std::string authorization;                  // the Authorization header
  std::string cookie;                         // the Cookie header
  std::string origin;                         // the Origin header (POST checks)
  std::string host;                           // the Host header
  std::string body;                           // POST bodies (form-encoded)
  bool tls = false;                           // came over HTTPS
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct DashboardOptions {
  // Completions at or past this many tokens count as saturated (the
  // protocol's 12000 of the 12288 thinking budget), as in `cohort lengths`.
  uint64_t saturation_tokens = 12000;
  // Campaigns whose expanded spec is kept between requests.
  size_t cached_campaigns = 8;
};

// Where an event stream starts: the campaign it follows ("" for all, which
// needs an admin) and the cursor after which events are sent.
struct EventStream {
  std::string campaign_id;
  uint64_t cursor = 0;
};

class Dashboard {
 public:
  Dashboard(Coordinator& coordinator, Clock& clock, DashboardOptions options = {});
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  // GET /api/events: authorizes the request and says where its stream
  // starts: after `last_event_id` (the browser's Last-Event-ID on a
  // reconnect) or else after the newest event (the page has just read the
  // state as JSON).
  absl::StatusOr<EventStream> OpenEvents(const HttpRequest& request,
                                         const std::string& last_event_id);
  // The SSE frames ("id: N\ndata: {...}\n\n") of at most `limit` events
  // after stream->cursor, advancing it; "" when there is none yet.
  absl::StatusOr<std::string> EventFrames(EventStream* stream, int limit);

  // The JSON error response for `status` (401, 403, 404, 400, 500 ...).
  static HttpResponse ErrorResponse(const absl::Status& status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::server::dashboard

#endif  // COHORT_SERVER_DASHBOARD_DASHBOARD_H_
