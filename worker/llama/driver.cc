#include "worker/llama/driver.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/llama/http.h"

namespace cohort::worker::llama {

std::vector<size_t> SendOrder(const std::vector<GenerationJob>& jobs) {
  std::vector<size_t> order(jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return jobs[a].request.prompt.size() > jobs[b].request.prompt.size();
  });
  return order;
}

namespace {

struct JobState {
  size_t index = 0;
  std::string body;
  int attempts = 0;
  absl::Time first_sent = absl::InfinitePast();
  absl::Time not_before = absl::InfinitePast();  // backoff end
  std::string last_error;  // kind + message of the previous failed try
};

bool IsGreedy(const ChatRequest& request) {
  return request.sampler.temperature <= 0 || request.sampler.top_k == 1;
}

// One run of the loop. Single-threaded; lives on RunGeneration's stack.
class Loop {
 public:
  Loop(const DriverOptions& options, std::vector<GenerationJob>& jobs,
       absl::FunctionRef<absl::Status(GenerationOutcome)> on_done, HttpMulti* http)
      : options_(options), jobs_(jobs), on_done_(on_done), http_(http) {}

  absl::StatusOr<DriverStats> Run() {
    for (size_t index : SendOrder(jobs_)) ready_.push_back(MakeState(index));
    start_ = absl::Now();
    last_mark_ = start_;
    next_maintain_ = start_;
    while (!ready_.empty() || !waiting_.empty() || !in_flight_.empty()) {
      COHORT_RETURN_IF_ERROR(Maintain());
      PromoteWaiting();
      COHORT_RETURN_IF_ERROR(Fill());
      for (HttpMulti::Finished& done : http_->Poll(NextWake())) {
        COHORT_RETURN_IF_ERROR(Handle(std::move(done)));
      }
    }
    Mark(absl::Now());
    stats_.wall = absl::Now() - start_;
    double slot_seconds = absl::ToDoubleSeconds(stats_.wall) * options_.concurrency;
    stats_.in_flight_share = slot_seconds > 0 ? busy_seconds_ / slot_seconds : 0;
    return stats_;
  }

 private:
  std::unique_ptr<JobState> MakeState(size_t index) {
    auto state = std::make_unique<JobState>();
    state->index = index;
    state->body = BuildChatRequestBody(jobs_[index].request);
    return state;
  }

  absl::Status Maintain() {
    absl::Time now = absl::Now();
    if (!options_.maintain || now < next_maintain_) return absl::OkStatus();
    next_maintain_ = now + options_.maintain_interval;
    return options_.maintain();
  }

  // Retries whose backoff is over go to the front: they are the oldest work.
  void PromoteWaiting() {
    absl::Time now = absl::Now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if ((*it)->not_before <= now) {
        ready_.push_front(std::move(*it));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }

  absl::Status Fill() {
    while (static_cast<int>(in_flight_.size()) < options_.concurrency && !ready_.empty()) {
      std::unique_ptr<JobState> state = std::move(ready_.front());
      ready_.pop_front();
      uint64_t tag = next_tag_++;
      absl::Time now = absl::Now();
      if (state->first_sent == absl::InfinitePast()) state->first_sent = now;
      ++state->attempts;
      ++stats_.requests_sent;
      std::string url = absl::StrCat(options_.base_url(), "/v1/chat/completions");
      // The body is kept for retries, so the transfer gets a copy.
      COHORT_RETURN_IF_ERROR(http_->Start(tag, url, state->body, options_.request_timeout));
      Mark(now);
      in_flight_.emplace(tag, std::move(state));
    }
    return absl::OkStatus();
  }

  absl::Duration NextWake() const {
    absl::Duration wait = options_.maintain ? options_.maintain_interval : absl::Seconds(1);
    absl::Time now = absl::Now();
    for (const auto& state : waiting_) wait = std::min(wait, state->not_before - now);
    return std::max(wait, absl::Milliseconds(1));
  }

  absl::Status Handle(HttpMulti::Finished done) {
    auto it = in_flight_.find(done.tag);
    if (it == in_flight_.end()) return absl::InternalError("driver: unknown transfer");
    Mark(absl::Now());
    std::unique_ptr<JobState> state = std::move(it->second);
    in_flight_.erase(it);
    absl::StatusOr<ChatResult> result = Interpret(std::move(done.response));
    FailureClass failure;
    if (!result.ok()) {
      failure = ClassifyFailure(result.status());
      std::string error = absl::StrCat(failure.kind, "\n", failure.message);
      bool repeated = error == state->last_error;
      state->last_error = std::move(error);
      if (ShouldRetry(options_.retry, result.status(), state->attempts, repeated,
                      IsGreedy(jobs_[state->index].request))) {
        ++stats_.retries;
        uint64_t hash = std::hash<std::string>()(jobs_[state->index].key);
        state->not_before = absl::Now() + BackoffDelay(options_.retry, state->attempts, hash);
        waiting_.push_back(std::move(state));
        return absl::OkStatus();
      }
    }
    GenerationOutcome outcome;
    outcome.key = jobs_[state->index].key;
    outcome.attempts = state->attempts;
    outcome.latency = absl::Now() - state->first_sent;
    if (!result.ok()) {
      outcome.error_kind = failure.kind;
      outcome.error_message = failure.message;
      absl::Status annotated(result.status().code(),
                             absl::StrCat(result.status().message(), " (after ",
                                          state->attempts, " attempts)"));
      result.status().ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
        annotated.SetPayload(url, payload);
      });
      result = std::move(annotated);
    }
    outcome.result = std::move(result);
    return on_done_(std::move(outcome));
  }

  static absl::StatusOr<ChatResult> Interpret(absl::StatusOr<HttpResponse> response) {
    if (!response.ok()) return response.status();
    if (response->status != 200) return StatusFromHttp(response->status, response->body);
    absl::StatusOr<ChatResult> result = ParseChatResponse(response->body);
    // A 200 whose body does not parse was cut or garbled in transit, or the
    // server misbehaved: worth another try, like a 5xx.
    if (!result.ok() && result.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::InternalError(result.status().message());
    }
    return result;
  }

  // Integrates requests-in-flight over time, for in_flight_share.
  void Mark(absl::Time now) {
    busy_seconds_ += absl::ToDoubleSeconds(now - last_mark_) * in_flight_.size();
    last_mark_ = now;
  }

  const DriverOptions& options_;
  std::vector<GenerationJob>& jobs_;
  absl::FunctionRef<absl::Status(GenerationOutcome)> on_done_;
  HttpMulti* http_;
  std::deque<std::unique_ptr<JobState>> ready_;
  std::vector<std::unique_ptr<JobState>> waiting_;
  std::map<uint64_t, std::unique_ptr<JobState>> in_flight_;
  uint64_t next_tag_ = 1;
  DriverStats stats_;
  absl::Time start_;
  absl::Time last_mark_;
  absl::Time next_maintain_;
  double busy_seconds_ = 0;
};

}  // namespace

absl::StatusOr<DriverStats> RunGeneration(
    const DriverOptions& options, std::vector<GenerationJob> jobs,
    absl::FunctionRef<absl::Status(GenerationOutcome)> on_done) {
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError("driver: concurrency must be at least 1");
  }
  if (!options.base_url) return absl::InvalidArgumentError("driver: no base_url");
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<HttpMulti> http, HttpMulti::Create(options.headers));
  Loop loop(options, jobs, on_done, http.get());
  return loop.Run();
}

}  // namespace cohort::worker::llama
