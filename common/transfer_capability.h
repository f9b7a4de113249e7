// File: transfer_capability.h
//
// Capabilities for worker-to-worker artifact transfer. cohortd holds one
// secret; each worker's transfer key is derived from it and its worker id
// (given to the worker when it registers), and for every input a lease says
// to fetch from a peer, cohortd issues a capability: the digest and an
// expiry, signed (HMAC-SHA256) with the holder's key. The holder checks it
// with its own key; the fetcher sends nothing but the capability. No
// long-lived token leaves a worker, and a capability opens one artifact on
// one worker until it expires.
//
//   std::string key = TransferKeyFor(secret, "gpu-3");        // cohortd
//   std::string cap = IssueCapability(key, digest, expiry);   // cohortd, per lease
//   COHORT_RETURN_IF_ERROR(CheckCapability(key, cap, digest, now));  // holder
//
// Pure functions; thread-safe.
#ifndef COHORT_COMMON_TRANSFER_CAPABILITY_H_
#define COHORT_COMMON_TRANSFER_CAPABILITY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cohort {

// The transfer key of worker `worker_id` (hex), derived from cohortd's
// secret: the same after a restart of either side.
std::string TransferKeyFor(absl::string_view secret, absl::string_view worker_id);

// "<expiry in Unix microseconds>.<hex signature>" for `digest`.
std::string IssueCapability(absl::string_view key, absl::string_view digest, absl::Time expiry);

// OK when `capability` was issued under `key` for `digest` and has not
// expired at `now`; kUnauthenticated naming what is wrong otherwise
// (missing, malformed, another artifact or key, expired with its time).
absl::Status CheckCapability(absl::string_view key, absl::string_view capability,
                             absl::string_view digest, absl::Time now);

}  // namespace cohort

#endif  // COHORT_COMMON_TRANSFER_CAPABILITY_H_
