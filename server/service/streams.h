// File: streams.h
//
// The streaming reactors of the coordinator's services. Each owns its state,
// keeps at most one read and one write in flight, and deletes itself in
// OnDone.
#ifndef COHORT_SERVER_SERVICE_STREAMS_H_
#define COHORT_SERVER_SERVICE_STREAMS_H_

#include "absl/status/status.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "server/coordinator/coordinator.h"

namespace cohort::server {

// Watch: with after_cursor 0, the current state of the campaign's steps
// first (cursor 0) and a SNAPSHOT_END event carrying the cursor it reflects;
// then every later event, in cursor order, as it is committed. A client that
// reconnects with the last cursor it saw gets no gap and no duplicate.
// A non-OK `auth` finishes the stream at once with that status.
grpc::ServerWriteReactor<v1::Event>* NewWatchReactor(
    Coordinator& coordinator, const v1::WatchRequest& request,
    const absl::Status& auth);

// QueryResults: the per-problem results of a campaign or a step.
grpc::ServerWriteReactor<v1::ProblemResult>* NewResultsReactor(
    Coordinator& coordinator, const v1::QueryResultsRequest& request,
    const absl::Status& auth);

// ReportResults: each request is one batch, inserted in one transaction and
// acknowledged with counts; a stale lease finishes the stream with
// FAILED_PRECONDITION, another worker's lease with PERMISSION_DENIED.
grpc::ServerBidiReactor<v1::ReportResultsRequest, v1::ReportResultsResponse>*
NewReportResultsReactor(Coordinator& coordinator,
                        const absl::StatusOr<Coordinator::Caller>& caller);

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_STREAMS_H_
