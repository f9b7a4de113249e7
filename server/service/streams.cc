#include "server/service/streams.h"

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/service/convert.h"
#include "server/service/limits.h"

namespace cohort::server {
namespace {

constexpr int kEventBatch = 500;

// Lets the coordinator wake a reactor that may be finishing concurrently:
// the reactor clears `target` under `mu` in OnDone before deleting itself.
struct WakeHandle {
  absl::Mutex mu;
  class WatchReactor* target ABSL_GUARDED_BY(mu) = nullptr;
};

class WatchReactor final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  WatchReactor(Coordinator& coordinator, const v1::WatchRequest& request)
      : coordinator_(coordinator),
        campaign_id_(request.campaign_id()),
        after_cursor_(request.after_cursor()),
        cursor_(request.after_cursor()),
        handle_(std::make_shared<WakeHandle>()) {}

  void Start() {
    {
      absl::MutexLock lock(&handle_->mu);
      handle_->target = this;
    }
    // The snapshot is queued before the subscription exists: a wake-up on
    // another thread could otherwise pump the whole log from cursor 0 ahead
    // of it (clang -Wthread-safety found the unlocked read of cursor_ here).
    if (after_cursor_ == 0) QueueSnapshot();
    std::shared_ptr<WakeHandle> handle = handle_;
    subscription_ = coordinator_.Subscribe([handle] {
      absl::MutexLock lock(&handle->mu);
      if (handle->target != nullptr) handle->target->Pump();
    });
    Pump();
  }

  // Sends what is queued, refilling from the event log when empty. gRPC may
  // run reactions inline, so StartWrite and Finish are called with no lock
  // held; the writing_/finished_ flags keep one write in flight.
  void Pump() {
    grpc::Status finish;
    bool do_finish = false, do_write = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (pending_.empty()) {
        absl::StatusOr<std::vector<EventRecord>> events =
            coordinator_.Events(campaign_id_, cursor_, kEventBatch);
        if (!events.ok()) {
          finished_ = do_finish = true;
          finish = ToGrpc(events.status());
        } else {
          for (const EventRecord& e : *events) {
            v1::Event event;
            EventToProto(e, &event);
            cursor_ = e.cursor;
            pending_.push_back(std::move(event));
          }
        }
      }
      if (!do_finish && !pending_.empty()) {
        current_ = std::move(pending_.front());
        pending_.pop_front();
        writing_ = do_write = true;
      }
    }
    if (do_finish) Finish(finish);
    if (do_write) StartWrite(&current_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        if (finished_) return;
        finished_ = true;
      }
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    Pump();
  }

  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }

  void OnDone() override {
    coordinator_.Unsubscribe(subscription_);
    {
      absl::MutexLock lock(&handle_->mu);
      handle_->target = nullptr;
    }
    delete this;
  }

 private:
  void QueueSnapshot() {
    absl::StatusOr<uint64_t> cursor = coordinator_.LastCursor();
    absl::StatusOr<std::vector<StepRecord>> steps =
        campaign_id_.empty() ? std::vector<StepRecord>()
                             : coordinator_.CampaignSteps(campaign_id_);
    if (!cursor.ok() || !steps.ok()) {
      FinishOnce(ToGrpc(!cursor.ok() ? cursor.status() : steps.status()));
      return;
    }
    absl::MutexLock lock(&mu_);
    for (const StepRecord& step : *steps) {
      v1::Event event;
      event.set_type(v1::EVENT_TYPE_STEP_STATE);
      event.set_campaign_id(campaign_id_);
      event.set_step_key(step.key);
      event.set_step_state(static_cast<v1::StepState>(step.state));
      event.set_message(step.display_name);
      pending_.push_back(std::move(event));
    }
    v1::Event end;
    end.set_type(v1::EVENT_TYPE_SNAPSHOT_END);
    end.set_cursor(*cursor);
    end.set_campaign_id(campaign_id_);
    pending_.push_back(std::move(end));
    cursor_ = *cursor;
  }

  void FinishOnce(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  Coordinator& coordinator_;
  const std::string campaign_id_;
  absl::Mutex mu_;
  const uint64_t after_cursor_;  // where the client resumes; 0: snapshot first
  uint64_t cursor_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::Event> pending_ ABSL_GUARDED_BY(mu_);
  v1::Event current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t subscription_ = 0;
  std::shared_ptr<WakeHandle> handle_;
};

// Finishes at once with an error (auth failures).
template <typename Message>
class RefusedWriter final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit RefusedWriter(const absl::Status& status) { this->Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

class ResultsReactor final : public grpc::ServerWriteReactor<v1::ProblemResult> {
 public:
  ResultsReactor(Coordinator& coordinator, const v1::QueryResultsRequest& request) {
    absl::Status status = Collect(coordinator, request);
    if (!status.ok()) {
      Finish(ToGrpc(status));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  absl::Status Collect(Coordinator& coordinator,
                       const v1::QueryResultsRequest& request) {
    std::vector<std::string> keys;
    if (!request.step_key().empty()) {
      keys.push_back(request.step_key());
    } else {
      absl::StatusOr<std::vector<StepRecord>> steps =
          coordinator.CampaignSteps(request.campaign_id());
      if (!steps.ok()) return steps.status();
      for (const StepRecord& s : *steps) keys.push_back(s.key);
    }
    for (const std::string& key : keys) {
      absl::StatusOr<std::vector<StoredResult>> rows =
          coordinator.Results(key, request.problem_id());
      if (!rows.ok()) return rows.status();
      for (const StoredResult& r : *rows) results_.push_back(ResultToProto(r));
    }
    return absl::OkStatus();
  }
  void Next() {
    if (next_ >= results_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&results_[next_++]);
  }

  std::vector<v1::ProblemResult> results_;
  size_t next_ = 0;
};

class ReportResultsReactor final
    : public grpc::ServerBidiReactor<v1::ReportResultsRequest,
                                     v1::ReportResultsResponse> {
 public:
  ReportResultsReactor(Coordinator& coordinator, Coordinator::Caller caller)
      : coordinator_(coordinator), caller_(std::move(caller)) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // the worker closed its side: every batch was answered
      Finish(grpc::Status::OK);
      return;
    }
    if (absl::Status s = CheckResultsLimits(request_); !s.ok()) {
      Finish(ToGrpc(s));
      return;
    }
    if (absl::Status s = coordinator_.CheckHoldsLease(caller_, request_.lease_id()); !s.ok()) {
      Finish(ToGrpc(s));
      return;
    }
    std::vector<ResultRow> rows;
    rows.reserve(request_.results_size());
    for (const v1::ProblemResult& r : request_.results()) rows.push_back(ResultFromProto(r));
    absl::StatusOr<InsertOutcome> outcome = coordinator_.InsertResults(
        {request_.lease_id(), request_.epoch(), ""}, rows);
    if (!outcome.ok()) {
      Finish(ToGrpc(outcome.status()));
      return;
    }
    response_.set_batch_id(request_.batch_id());
    response_.set_inserted(outcome->inserted);
    response_.set_duplicates(outcome->duplicates);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  Coordinator& coordinator_;
  const Coordinator::Caller caller_;
  v1::ReportResultsRequest request_;
  v1::ReportResultsResponse response_;
};

class RefusedBidi final
    : public grpc::ServerBidiReactor<v1::ReportResultsRequest,
                                     v1::ReportResultsResponse> {
 public:
  explicit RefusedBidi(const absl::Status& status) { Finish(ToGrpc(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::Event>* NewWatchReactor(
    Coordinator& coordinator, const v1::WatchRequest& request,
    const absl::Status& auth) {
  if (!auth.ok()) return new RefusedWriter<v1::Event>(auth);
  auto* reactor = new WatchReactor(coordinator, request);
  reactor->Start();
  return reactor;
}

grpc::ServerWriteReactor<v1::ProblemResult>* NewResultsReactor(
    Coordinator& coordinator, const v1::QueryResultsRequest& request,
    const absl::Status& auth) {
  if (!auth.ok()) return new RefusedWriter<v1::ProblemResult>(auth);
  return new ResultsReactor(coordinator, request);
}

grpc::ServerBidiReactor<v1::ReportResultsRequest, v1::ReportResultsResponse>*
NewReportResultsReactor(Coordinator& coordinator,
                        const absl::StatusOr<Coordinator::Caller>& caller) {
  if (!caller.ok()) return new RefusedBidi(caller.status());
  return new ReportResultsReactor(coordinator, *caller);
}

}  // namespace cohort::server
