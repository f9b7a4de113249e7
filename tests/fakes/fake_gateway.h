// File: fake_gateway.h
//
// cohortd's WorkerGateway as the agent's loops see it (worker/agent/gateway.h),
// in memory, for unit tests of those loops without processes. It behaves as
// cohortd does where the loops depend on it: Lease is a long poll that hands
// out what the test offered (never more than the free slots asked for) and
// otherwise returns empty after the request's wait; Heartbeat answers with
// the revocations the test asked for; the shipping calls record what arrived,
// in order, and fail on demand (a cohortd that is down answers UNAVAILABLE;
// a superseded lease FAILED_PRECONDITION).
//
//   FakeGateway gateway;
//   gateway.Offer(lease);
//   ASSERT_TRUE(gateway.WaitUntil([&] { return gateway.Completed(lease.lease_id()); }));
//
// Thread-safe.
#ifndef COHORT_TESTS_FAKES_FAKE_GATEWAY_H_
#define COHORT_TESTS_FAKES_FAKE_GATEWAY_H_

#include <algorithm>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cohort/v1/worker.pb.h"
#include "worker/agent/gateway.h"

namespace cohort::testing {

class FakeGateway final : public worker::Gateway {
 public:
  // One message as it reached "cohortd".
  struct Shipped {
    enum Kind { kResults, kComplete, kFail } kind;
    std::string lease_id;
    v1::ReportResultsRequest results;
    v1::CompleteStepRequest complete;
    v1::FailStepRequest fail;
  };

  // --- What the test arranges ---
  void Offer(const v1::Lease& lease) {
    absl::MutexLock lock(&mu_);
    offers_.push_back(lease);
  }
  // Leases the Register response says this worker holds.
  void HoldOnRegister(const v1::Lease& lease) {
    absl::MutexLock lock(&mu_);
    register_leases_.push_back(lease);
  }
  // The next Heartbeat revokes this lease.
  void Revoke(const std::string& lease_id) {
    absl::MutexLock lock(&mu_);
    revoke_.push_back(lease_id);
  }
  // ReportResults/CompleteStep/FailStep answer `status` (without recording)
  // for the next `times` calls.
  void FailShipping(absl::Status status, int times) {
    absl::MutexLock lock(&mu_);
    ship_failure_ = std::move(status);
    ship_failures_left_ = times;
  }
  // Every later message for this lease is refused as cohortd refuses a
  // superseded lease's (kFailedPrecondition).
  void Supersede(const std::string& lease_id) {
    absl::MutexLock lock(&mu_);
    superseded_.push_back(lease_id);
  }
  // Every Register answers `status` while it is not OK.
  void RefuseRegistering(absl::Status status) {
    absl::MutexLock lock(&mu_);
    register_status_ = std::move(status);
  }
  // Lease responses say cohortd has this many unfinished steps.
  void SetUnfinished(uint64_t n) {
    absl::MutexLock lock(&mu_);
    unfinished_ = n;
  }

  // --- What the test reads ---
  // Blocks until `done()` holds or `timeout`; true when it holds. `done`
  // is checked again after every call the fake answers (it may use the
  // readers below).
  bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      uint64_t seen = 0;
      {
        absl::MutexLock lock(&mu_);
        seen = calls_;
      }
      if (done()) return true;
      absl::MutexLock lock(&mu_);
      auto called = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ != seen; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&called), deadline)) break;
    }
    return done();
  }
  std::vector<Shipped> shipped() const {
    absl::MutexLock lock(&mu_);
    return shipped_;
  }
  int ship_calls() const {
    absl::MutexLock lock(&mu_);
    return ship_calls_;
  }
  int lease_calls() const {
    absl::MutexLock lock(&mu_);
    return lease_calls_;
  }
  int register_calls() const {
    absl::MutexLock lock(&mu_);
    return register_calls_;
  }
  std::vector<v1::HeartbeatRequest> heartbeats() const {
    absl::MutexLock lock(&mu_);
    return heartbeats_;
  }
  std::vector<v1::LeaseRequest> lease_requests() const {
    absl::MutexLock lock(&mu_);
    return lease_requests_;
  }
  bool Completed(const std::string& lease_id) const {
    absl::MutexLock lock(&mu_);
    return Has(Shipped::kComplete, lease_id);
  }
  bool Failed(const std::string& lease_id) const {
    absl::MutexLock lock(&mu_);
    return Has(Shipped::kFail, lease_id);
  }

  // --- worker::Gateway ---
  absl::Status Register(const v1::RegisterRequest& /*request*/,
                        v1::RegisterResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++register_calls_;
    ++calls_;
    if (registering_stopped_) return absl::CancelledError("stopping: not registering");
    if (!register_status_.ok()) return register_status_;
    response->set_heartbeat_interval_ms(200);
    response->set_transfer_key(std::string(64, 'a'));
    for (const v1::Lease& lease : register_leases_) *response->add_leases() = lease;
    register_leases_.clear();
    return absl::OkStatus();
  }
  void StopRegistering() override {
    absl::MutexLock lock(&mu_);
    registering_stopped_ = true;
  }
  absl::Status Lease(const v1::LeaseRequest& request, absl::Duration timeout,
                     v1::LeaseResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++lease_calls_;
    ++calls_;
    lease_requests_.push_back(request);
    auto offered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !offers_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&offered),
                         std::min(timeout, absl::Milliseconds(request.wait_ms())));
    for (uint32_t i = 0; i < request.free_slots() && !offers_.empty(); ++i) {
      *response->add_leases() = offers_.front();
      offers_.pop_front();
    }
    response->set_unfinished_steps(unfinished_ + response->leases_size());
    return absl::OkStatus();
  }
  absl::Status Heartbeat(const v1::HeartbeatRequest& request,
                         v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu_);
    heartbeats_.push_back(request);
    ++calls_;
    for (const std::string& id : revoke_) response->add_revoked_lease_ids(id);
    revoke_.clear();
    return absl::OkStatus();
  }
  absl::Status ReportResults(const v1::ReportResultsRequest& batch) override {
    Shipped shipped{Shipped::kResults, batch.lease_id(), batch, {}, {}};
    return Ship(std::move(shipped));
  }
  absl::Status CompleteStep(const v1::CompleteStepRequest& request) override {
    Shipped shipped{Shipped::kComplete, request.lease_id(), {}, request, {}};
    return Ship(std::move(shipped));
  }
  absl::Status FailStep(const v1::FailStepRequest& request) override {
    Shipped shipped{Shipped::kFail, request.lease_id(), {}, {}, request};
    return Ship(std::move(shipped));
  }

 private:
  absl::Status Ship(Shipped shipped) {
    absl::MutexLock lock(&mu_);
    ++ship_calls_;
    ++calls_;
    if (ship_failures_left_ > 0) {
      --ship_failures_left_;
      return ship_failure_;
    }
    if (std::find(superseded_.begin(), superseded_.end(), shipped.lease_id) != superseded_.end()) {
      return absl::FailedPreconditionError("lease " + shipped.lease_id + " was superseded");
    }
    shipped_.push_back(std::move(shipped));
    return absl::OkStatus();
  }
  bool Has(Shipped::Kind kind, const std::string& lease_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::any_of(shipped_.begin(), shipped_.end(), [&](const Shipped& s) {
      return s.kind == kind && s.lease_id == lease_id;
    });
  }
  mutable absl::Mutex mu_;
  uint64_t calls_ ABSL_GUARDED_BY(mu_) = 0;  // every call answered: wakes WaitUntil
  std::deque<v1::Lease> offers_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Lease> register_leases_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> revoke_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> superseded_ ABSL_GUARDED_BY(mu_);
  absl::Status ship_failure_ ABSL_GUARDED_BY(mu_);
  int ship_failures_left_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status register_status_ ABSL_GUARDED_BY(mu_);
  bool registering_stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t unfinished_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Shipped> shipped_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::HeartbeatRequest> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::LeaseRequest> lease_requests_ ABSL_GUARDED_BY(mu_);
  int ship_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int lease_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int register_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_FAKES_FAKE_GATEWAY_H_
