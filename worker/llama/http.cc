#include "worker/llama/http.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cohort::worker::llama {
namespace {

void GlobalInit() {
  // curl_global_init is not thread-safe; do it once per process.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

long Millis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return 0;  // 0 = no timeout for curl
  return std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(d)));
}

void SetCommon(CURL* easy, const std::string& url, std::string* sink, absl::Duration timeout) {
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, Millis(timeout));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  // Loopback only; never pick up the environment's proxy for it.
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
}

absl::StatusOr<HttpResponse> Outcome(CURL* easy, CURLcode code, const std::string& url,
                                     std::string* body) {
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(absl::StrCat("HTTP ", url, ": ", curl_easy_strerror(code)));
  }
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("HTTP ", url, ": ", curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return HttpResponse{static_cast<int>(status), std::move(*body)};
}

}  // namespace

absl::StatusOr<HttpResponse> HttpFetch(const std::string& url, const std::string& body,
                                       absl::Duration timeout,
                                       const std::vector<std::string>& extra_headers) {
  GlobalInit();
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  std::string sink;
  SetCommon(easy, url, &sink, timeout);
  curl_slist* headers = nullptr;
  for (const std::string& header : extra_headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  if (headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  CURLcode code = curl_easy_perform(easy);
  absl::StatusOr<HttpResponse> out = Outcome(easy, code, url, &sink);
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  return out;
}

struct HttpMulti::Transfer {
  uint64_t tag = 0;
  CURL* easy = nullptr;
  std::string url;
  std::string request;
  std::string response;
};

absl::StatusOr<std::unique_ptr<HttpMulti>> HttpMulti::Create(
    const std::vector<std::string>& headers) {
  GlobalInit();
  std::unique_ptr<HttpMulti> multi(new HttpMulti());
  multi->multi_ = curl_multi_init();
  if (multi->multi_ == nullptr) return absl::ResourceExhaustedError("curl_multi_init failed");
  multi->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (multi->epoll_fd_ < 0) return absl::ResourceExhaustedError("epoll_create1 failed");
  CURLM* m = static_cast<CURLM*>(multi->multi_);
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &HttpMulti::OnSocket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, multi.get());
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &HttpMulti::OnTimer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, multi.get());
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
  multi->headers_ = list;
  return multi;
}

HttpMulti::~HttpMulti() {
  CancelAll();
  for (void* easy : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(easy));
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
  if (epoll_fd_ >= 0) close(epoll_fd_);
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

absl::Status HttpMulti::Start(uint64_t tag, const std::string& url, std::string body,
                              absl::Duration timeout) {
  auto transfer = std::make_unique<Transfer>();
  transfer->tag = tag;
  transfer->url = url;
  transfer->request = std::move(body);
  // Reusing easy handles keeps their DNS and connection state warm.
  if (!idle_handles_.empty()) {
    transfer->easy = static_cast<CURL*>(idle_handles_.back());
    idle_handles_.pop_back();
    curl_easy_reset(transfer->easy);
  } else {
    transfer->easy = curl_easy_init();
    if (transfer->easy == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  }
  CURL* easy = transfer->easy;
  SetCommon(easy, transfer->url, &transfer->response, timeout);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers_));
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, transfer->request.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(transfer->request.size()));
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
  CURLMcode code = curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  if (code != CURLM_OK) {
    idle_handles_.push_back(easy);
    return absl::InternalError(absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(code)));
  }
  transfers_.push_back(std::move(transfer));
  return absl::OkStatus();
}

int HttpMulti::OnSocket(void* /*easy*/, int fd, int what, void* self, void* /*socket_data*/) {
  int epoll_fd = static_cast<HttpMulti*>(self)->epoll_fd_;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  epoll_event event{};
  event.data.fd = fd;
  event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  // curl does not say whether it saw this socket before: modify, else add.
  if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event) != 0) {
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  }
  return 0;
}

int HttpMulti::OnTimer(void* /*multi*/, long timeout_ms, void* self) {
  static_cast<HttpMulti*>(self)->timer_due_ =
      timeout_ms < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Milliseconds(timeout_ms);
  return 0;
}

void HttpMulti::Collect(std::vector<Finished>* done) {
  CURLM* multi = static_cast<CURLM*>(multi_);
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &transfer);
    done->push_back(Finished{transfer->tag, Outcome(msg->easy_handle, msg->data.result,
                                                    transfer->url, &transfer->response)});
    Release(transfer);
  }
}

std::vector<HttpMulti::Finished> HttpMulti::Poll(absl::Duration max_wait) {
  CURLM* multi = static_cast<CURLM*>(multi_);
  std::vector<Finished> done;
  int running = 0;
  auto fire_timer = [&] {
    timer_due_ = absl::InfiniteFuture();
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
  };
  if (timer_due_ <= absl::Now()) {
    fire_timer();  // a new transfer to start, or curl's own bookkeeping
    Collect(&done);
    if (!done.empty()) return done;
  }
  if (transfers_.empty()) return done;
  absl::Duration wait = std::min(max_wait, timer_due_ - absl::Now());
  epoll_event events[64];
  // Rounded up: a timer 0.4 ms away must not become a busy 0 ms wait loop.
  int64_t wait_ms = (std::max<int64_t>(0, absl::ToInt64Microseconds(wait)) + 999) / 1000;
  int n = epoll_wait(epoll_fd_, events, 64, static_cast<int>(wait_ms));
  for (int i = 0; i < n; ++i) {
    int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
  }
  if (timer_due_ <= absl::Now()) fire_timer();
  Collect(&done);
  return done;
}

void HttpMulti::Release(Transfer* transfer) {
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), transfer->easy);
  idle_handles_.push_back(transfer->easy);
  auto it = std::find_if(transfers_.begin(), transfers_.end(),
                         [&](const std::unique_ptr<Transfer>& t) { return t.get() == transfer; });
  if (it != transfers_.end()) transfers_.erase(it);
}

void HttpMulti::CancelAll() {
  while (!transfers_.empty()) Release(transfers_.back().get());
}

}  // namespace cohort::worker::llama
