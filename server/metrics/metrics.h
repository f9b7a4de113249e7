// File: metrics.h
//
// cohortd's Prometheus metrics, served over HTTP at /metrics. What the
// coordinator knows (steps by state, ready queue depth, workers, parked lease
// polls, lease and result counters) is read from the Coordinator on every
// scrape, so it is never stale and costs nothing between scrapes; RPC latency
// is a histogram per method and status code fed by ObserveRpc.
//
// Series (all prefixed cohort_):
//   steps{state}                        gauge    steps in each state
//   ready_queue_depth                   gauge    steps READY and not leased
//   workers_registered                  gauge    workers ever registered
//   workers_active                      gauge    heartbeat within active_window
//   lease_polls_waiting                 gauge    parked long polls
//   leases_granted_total                counter  since cohortd started
//   lease_expiries_total                counter  leases expired (dead workers)
//   results_inserted_total              counter  result rows written
//   results_duplicate_total             counter  result rows seen again
//   rpc_duration_seconds{method,code}   histogram  handler start -> status
//                                                  (long polls included)
//   rpc_refused_unread_total{method,code}  counter  calls refused from their
//                                                  headers, request unread
//
//   CohortMetrics metrics(coordinator, RealClock());
//   COHORT_ASSIGN_OR_RETURN(int port, metrics.Serve("127.0.0.1:9464"));
//   server_options.on_rpc_done = [&](const std::string& m, int code,
//                                    absl::Duration d) {
//     metrics.ObserveRpc(m, code, d);
//   };
//
// Thread-safe. The Coordinator must outlive this object.
#ifndef COHORT_SERVER_METRICS_METRICS_H_
#define COHORT_SERVER_METRICS_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/coordinator/coordinator.h"

namespace cohort::server {

class CohortMetrics {
 public:
  // A worker counts as active while its last heartbeat (or registration) is
  // within `active_window` of the clock's now.
  CohortMetrics(Coordinator& coordinator, Clock& clock,
                absl::Duration active_window = absl::Seconds(30));
  ~CohortMetrics();
  CohortMetrics(const CohortMetrics&) = delete;
  CohortMetrics& operator=(const CohortMetrics&) = delete;

  // Starts the HTTP server answering GET /metrics on `listen` ("host:port",
  // port 0 picks a free one) and returns the bound port. kInvalidArgument
  // for an address without a port, kUnavailable when it cannot be bound,
  // kFailedPrecondition when already serving.
  [[nodiscard]] absl::StatusOr<int> Serve(const std::string& listen);

  // Records one finished RPC: its full method name
  // ("/cohort.v1.WorkerGateway/Lease"), its gRPC status code and how long
  // it ran.
  void ObserveRpc(absl::string_view method, int code, absl::Duration latency);
  // Records one call refused from its headers before its request was read
  // (ServerOptions::on_refused_unread). Methods are the caller's words: past
  // 64 series, or longer than 128 bytes, they count as "other".
  void ObserveRefusedUnread(absl::string_view method, int code);

  // Adds cohort_tls_certificate_expiry_days{role=...} for the certificate
  // at `path`, read on every scrape (a renewed file shows at once). Call
  // before Serve.
  void WatchCertificate(const std::string& role, const std::string& path);

  // The text exposition format that /metrics serves.
  std::string Render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_METRICS_METRICS_H_
