// File: fake_clock.h
//
// A Clock whose time moves only when a test says so. SleepFor advances the
// clock instead of blocking, so code that sleeps for backoff runs instantly.
// Thread-safe.
#ifndef COHORT_COMMON_TESTING_FAKE_CLOCK_H_
#define COHORT_COMMON_TESTING_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace cohort::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1800000000))
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) override { Advance(d); }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::testing

#endif  // COHORT_COMMON_TESTING_FAKE_CLOCK_H_
