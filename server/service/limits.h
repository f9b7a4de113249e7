// File: limits.h
//
// Bounds on what one request to cohortd may carry, beyond the listener's
// maximum message size (ServerOptions::max_request_bytes, refused by
// gRPC itself with RESOURCE_EXHAUSTED). A message under that size can still
// hold a million tiny repeated entries or one huge string that would be
// stored, planned or logged; these checks refuse such a request with
// INVALID_ARGUMENT naming the field, its size and the limit, before anything
// is stored. INVALID_ARGUMENT, not RESOURCE_EXHAUSTED: resending the same
// request can never succeed (a worker drops such a spooled message instead
// of retrying it forever).
//
// The limits sit well above what cohort itself sends: the largest campaign
// measured (docs/PERFORMANCE.md) is 100,000 steps in a 13 MiB request, a
// worker reports one result per batch and a 4,000-byte log tail.
#ifndef COHORT_SERVER_SERVICE_LIMITS_H_
#define COHORT_SERVER_SERVICE_LIMITS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "cohort/v1/coordinator.pb.h"
#include "cohort/v1/worker.pb.h"

namespace cohort::server {

struct RequestLimits {
  static constexpr size_t kCampaignSteps = 200000;
  static constexpr size_t kStepInputs = 64;
  static constexpr size_t kRequirementLabels = 64;   // labels, tools of a step
  static constexpr size_t kResultsPerBatch = 10000;
  static constexpr size_t kArtifactsPerRequest = 10000;
  static constexpr size_t kOutputsPerStep = 64;
  static constexpr size_t kLocationsPerArtifact = 64;
  static constexpr size_t kLeasesPerHeartbeat = 4096;
  static constexpr size_t kWorkerListEntries = 1024;    // gpus, tools, labels
  static constexpr size_t kWorkerHeldArtifacts = 1000000;
  static constexpr size_t kIdBytes = 256;             // ids, names, keys, labels
  static constexpr size_t kTextBytes = 64 << 10;      // messages, log tails, reasons
  static constexpr size_t kParamsBytes = 1 << 20;     // one step's params_json
  static constexpr size_t kSpecJsonBytes = 16 << 20;  // a campaign's spec_json
  static constexpr size_t kResultBytes = 16 << 20;    // one serialized result
};

absl::Status CheckSubmitLimits(const v1::SubmitCampaignRequest& request);
absl::Status CheckRegisterArtifactsLimits(const v1::RegisterArtifactsRequest& request);
absl::Status CheckRegisterLimits(const v1::RegisterRequest& request);
absl::Status CheckHeartbeatLimits(const v1::HeartbeatRequest& request);
absl::Status CheckResultsLimits(const v1::ReportResultsRequest& request);
absl::Status CheckCompleteLimits(const v1::CompleteStepRequest& request);
absl::Status CheckFailLimits(const v1::FailStepRequest& request);

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_LIMITS_H_
