// File: clock.h
//
// A Clock interface so that lease expiry, heartbeats, backoff and timeouts
// can be tested on a fake clock without sleeping. Production code takes a
// `Clock&` in its constructor; tests pass a FakeClock
// (common/testing/fake_clock.h).
#ifndef COHORT_COMMON_CLOCK_H_
#define COHORT_COMMON_CLOCK_H_

#include "absl/time/time.h"

namespace cohort {

// Thread-safe: implementations may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (for timestamps stored in the database).
  virtual absl::Time Now() const = 0;
  // Blocks the calling thread for `d` of this clock's time.
  virtual void SleepFor(absl::Duration d) = 0;
};

// The process-wide real clock. Never null, never destroyed.
Clock& RealClock();

}  // namespace cohort

#endif  // COHORT_COMMON_CLOCK_H_
