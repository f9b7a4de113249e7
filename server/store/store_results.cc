// CoordinatorStore: per-problem results and the event log.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/coordinator_store.h"
#include "server/store/store_internal.h"

namespace cohort::server {
namespace {

// A row's verdict and counts, the columns results and result_lengths share,
// bound at `first` .. `first + 5` (reasoning characters NULL when the
// worker sent none).
Statement& BindCounts(Statement& statement, int first, const ResultRow& row) {
  statement.Bind(first, row.verdict)
      .Bind(first + 1, row.finish_reason)
      .Bind(first + 2, row.completion_tokens)
      .Bind(first + 3, row.reasoning_tokens)
      .Bind(first + 4, row.completion_chars);
  if (row.reasoning_chars) {
    statement.Bind(first + 5, *row.reasoning_chars);
  } else {
    statement.BindNull(first + 5);
  }
  return statement;
}

}  // namespace

// The step's id and lengths cluster; a step without one (its first results)
// gets the first suite its campaigns name it under, by the rule of
// kBackfillResultLengths, kept in length_clusters so that its rows never
// move.
absl::StatusOr<CoordinatorStore::LengthsPlace> CoordinatorStore::LengthsPlaceOf(
    const std::string& step_key) {
  Statement& read = db_->Prepare(
      "SELECT s.id, c.cluster FROM steps s LEFT JOIN length_clusters c ON c.step_id = s.id "
      "WHERE s.id = cohort_step_id(?1) AND s.key = ?1");
  read.Bind(1, step_key);
  if (!read.Step()) {
    COHORT_RETURN_IF_ERROR(read.status());
    return absl::NotFoundError(absl::StrCat("step ", step_key, " is not stored"));
  }
  LengthsPlace place{read.ColumnInt64(0), read.ColumnInt64(1)};
  const bool assigned = !read.ColumnIsNull(1);
  while (read.Step()) {
  }
  COHORT_RETURN_IF_ERROR(read.status());
  if (assigned) return place;
  Statement& suites = db_->Prepare(
      "INSERT OR IGNORE INTO length_suites(suite) SELECT suite FROM campaign_steps "
      "WHERE step_id = ?");
  COHORT_RETURN_IF_ERROR(suites.Bind(1, place.step_id).Run());
  Statement& keep = db_->Prepare(
      "INSERT INTO length_clusters(step_id, cluster) VALUES(?1, "
      "coalesce((SELECT min(ls.id) FROM campaign_steps cs JOIN length_suites ls "
      "ON ls.suite = cs.suite WHERE cs.step_id = ?1), 0)) RETURNING cluster");
  keep.Bind(1, place.step_id);
  if (keep.Step()) place.cluster = keep.ColumnInt64(0);
  while (keep.Step()) {
  }
  COHORT_RETURN_IF_ERROR(keep.status());
  return place;
}

absl::StatusOr<InsertOutcome> CoordinatorStore::InsertResults(
    const LeaseRef& lease, const std::vector<ResultRow>& rows, absl::Time now) {
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  COHORT_ASSIGN_OR_RETURN(StepRecord step, CurrentLease(lease, now));
  COHORT_ASSIGN_OR_RETURN(LengthsPlace place, LengthsPlaceOf(step.key));
  InsertOutcome outcome;
  std::map<int, int64_t> inserted_by_verdict;
  Statement& insert = db_->Prepare(
      "INSERT OR IGNORE INTO results(step_key, problem_id, sample_index, lease_epoch, "
      "verdict, finish_reason, completion_tokens, reasoning_tokens, completion_chars, "
      "reasoning_chars, extracted_answer, scorer_version, body, created_us) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (const ResultRow& row : rows) {
    insert.Bind(1, step.key)
        .Bind(2, row.problem_id)
        .Bind(3, int64_t{row.sample_index})
        .Bind(4, lease.epoch);
    BindCounts(insert, 5, row)
        .Bind(11, row.extracted_answer)
        .Bind(12, row.scorer_version)
        .BindBlob(13, row.body)
        .Bind(14, Micros(now));
    COHORT_RETURN_IF_ERROR(insert.Run());
    const bool inserted = insert.Changes() == 1;
    (inserted ? outcome.inserted : outcome.duplicates) += 1;
    if (!inserted) continue;
    ++inserted_by_verdict[row.verdict];
    COHORT_RETURN_IF_ERROR(InsertLengths(place, row));
  }
  Statement& tally = db_->Prepare(
      "INSERT INTO result_tallies(step_key, verdict, n) VALUES(?, ?, ?) "
      "ON CONFLICT(step_key, verdict) DO UPDATE SET n = n + excluded.n");
  for (const auto& [verdict, n] : inserted_by_verdict) {
    COHORT_RETURN_IF_ERROR(tally.Bind(1, step.key).Bind(2, verdict).Bind(3, n).Run());
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return outcome;
}

// The row's counts in its step's cluster of result_lengths.
absl::Status CoordinatorStore::InsertLengths(const LengthsPlace& place, const ResultRow& row) {
  Statement& insert = db_->Prepare(
      "INSERT OR IGNORE INTO result_lengths(cluster, step_id, problem_id, sample_index, "
      "verdict, finish_reason, completion_tokens, reasoning_tokens, completion_chars, "
      "reasoning_chars) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.Bind(1, place.cluster)
      .Bind(2, place.step_id)
      .Bind(3, row.problem_id)
      .Bind(4, int64_t{row.sample_index});
  BindCounts(insert, 5, row);
  return insert.Run();
}

absl::StatusOr<std::vector<StoredResult>> CoordinatorStore::Results(
    const std::string& step_key, const std::string& problem_id) {
  Statement& select = db_->Prepare(
      "SELECT step_key, problem_id, sample_index, verdict, finish_reason, "
      "completion_tokens, reasoning_tokens, completion_chars, "
      "extracted_answer, scorer_version, body FROM results WHERE step_key = ?1 "
      "AND (?2 = '' OR problem_id = ?2) ORDER BY problem_id, sample_index");
  select.Bind(1, step_key).Bind(2, problem_id);
  std::vector<StoredResult> results;
  while (select.Step()) {
    StoredResult r;
    r.step_key = select.ColumnText(0);
    r.row.problem_id = select.ColumnText(1);
    r.row.sample_index = static_cast<uint32_t>(select.ColumnInt64(2));
    r.row.verdict = static_cast<int>(select.ColumnInt64(3));
    r.row.finish_reason = select.ColumnText(4);
    r.row.completion_tokens = static_cast<uint64_t>(select.ColumnInt64(5));
    r.row.reasoning_tokens = static_cast<uint64_t>(select.ColumnInt64(6));
    r.row.completion_chars = static_cast<uint64_t>(select.ColumnInt64(7));
    r.row.extracted_answer = select.ColumnText(8);
    r.row.scorer_version = select.ColumnText(9);
    r.row.body = select.ColumnText(10);
    results.push_back(std::move(r));
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return results;
}

absl::StatusOr<int64_t> CoordinatorStore::CountResults() {
  return Count(db_->Prepare("SELECT count(*) FROM results"));
}

absl::StatusOr<std::vector<EventRecord>> CoordinatorStore::Events(
    const std::string& campaign_id, uint64_t after_cursor, int limit) {
  Statement& select = db_->Prepare(
      "SELECT cursor, type, time_us, campaign_id, step_key, step_state, "
      "worker_id, message FROM events WHERE cursor > ?1 AND (?2 = '' OR "
      "campaign_id = ?2) ORDER BY cursor LIMIT ?3");
  select.Bind(1, after_cursor).Bind(2, campaign_id).Bind(3, limit);
  std::vector<EventRecord> events;
  while (select.Step()) {
    EventRecord e;
    e.cursor = static_cast<uint64_t>(select.ColumnInt64(0));
    e.type = static_cast<EventType>(select.ColumnInt64(1));
    e.time = FromMicros(select.ColumnInt64(2));
    e.campaign_id = select.ColumnText(3);
    e.step_key = select.ColumnText(4);
    e.step_state = static_cast<StepState>(select.ColumnInt64(5));
    e.worker_id = select.ColumnText(6);
    e.message = select.ColumnText(7);
    events.push_back(std::move(e));
  }
  COHORT_RETURN_IF_ERROR(select.status());
  return events;
}

absl::StatusOr<uint64_t> CoordinatorStore::LastCursor() {
  Statement& last = db_->Prepare("SELECT coalesce(max(cursor), 0) FROM events");
  uint64_t cursor = last.Step() ? static_cast<uint64_t>(last.ColumnInt64(0)) : 0;
  while (last.Step()) {
  }
  COHORT_RETURN_IF_ERROR(last.status());
  return cursor;
}

absl::StatusOr<std::map<StepState, int64_t>> CoordinatorStore::StepCounts() {
  Statement& counts = db_->Prepare("SELECT state, n FROM step_counts WHERE n != 0");
  std::map<StepState, int64_t> result;
  while (counts.Step()) {
    result[static_cast<StepState>(counts.ColumnInt64(0))] = counts.ColumnInt64(1);
  }
  COHORT_RETURN_IF_ERROR(counts.status());
  return result;
}

}  // namespace cohort::server
