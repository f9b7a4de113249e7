// File: http.h
//
// The HTTP transport to llama-server, on libcurl (kept out of this header).
// HttpFetch is one blocking exchange (health polls, /props, probes).
// HttpMulti runs many exchanges on one thread: Start() queues a transfer,
// Poll() waits until some finish or the wait ends and returns them. It is
// libcurl's socket interface on an epoll set: a wakeup costs work for the
// sockets that are ready, not for every open transfer, so 64 slots cost
// about what 2 do. Connections are reused across transfers (keep-alive), so a
// steady stream of requests costs no TCP handshakes.
//
// A transfer's outcome is an HttpResponse for any HTTP status (the caller
// maps non-2xx with StatusFromHttp), kUnavailable for transport failures
// (refused, reset, empty reply) and kDeadlineExceeded past its timeout.
#ifndef COHORT_WORKER_LLAMA_HTTP_H_
#define COHORT_WORKER_LLAMA_HTTP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort::worker::llama {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET when `body` is empty, else POST with Content-Type application/json.
absl::StatusOr<HttpResponse> HttpFetch(const std::string& url, const std::string& body,
                                       absl::Duration timeout,
                                       const std::vector<std::string>& headers = {});

// Not thread-safe; owned by the event-loop thread.
class HttpMulti {
 public:
  struct Finished {
    uint64_t tag = 0;
    absl::StatusOr<HttpResponse> response;
  };

  // `headers` ("Authorization: Bearer ...") go with every request.
  static absl::StatusOr<std::unique_ptr<HttpMulti>> Create(
      const std::vector<std::string>& headers = {});
  ~HttpMulti();
  HttpMulti(const HttpMulti&) = delete;
  HttpMulti& operator=(const HttpMulti&) = delete;

  // Queues a POST of `body` (JSON) to `url`; `tag` comes back in Finished.
  [[nodiscard]] absl::Status Start(uint64_t tag, const std::string& url, std::string body,
                                   absl::Duration timeout);
  // Drives transfers, waiting at most `max_wait` for something to happen,
  // and returns those that completed.
  std::vector<Finished> Poll(absl::Duration max_wait);
  // Aborts every transfer without reporting it.
  void CancelAll();
  int active() const { return static_cast<int>(transfers_.size()); }

 private:
  struct Transfer;
  HttpMulti() = default;
  void Release(Transfer* transfer);
  void Collect(std::vector<Finished>* done);
  static int OnSocket(void* easy, int fd, int what, void* self, void* socket_data);
  static int OnTimer(void* multi, long timeout_ms, void* self);

  void* multi_ = nullptr;  // CURLM*
  int epoll_fd_ = -1;
  absl::Time timer_due_ = absl::InfiniteFuture();  // curl's next timer
  std::vector<std::unique_ptr<Transfer>> transfers_;
  std::vector<void*> idle_handles_;  // CURL* kept for reuse
  void* headers_ = nullptr;          // curl_slist*
};

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_HTTP_H_
