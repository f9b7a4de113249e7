// File: result_log.h
//
// The generation output and resume journal: a JSON Lines file, one line per
// finished problem, appended as each problem finishes. Each line goes out in
// one write(2) (so a killed process leaves at most the line being written
// torn) and lines are fsync'd in small groups (every `sync_every` lines or
// `sync_interval`, whichever first), so a power cut loses at most a group.
//
// On open, every whole line is read back; a last line without its newline
// or that does not parse is a torn write and is cut off (the file is
// truncated to the last whole line). A bad line before the last is
// kDataLoss: that is damage, not a torn write. A rerun therefore skips every
// problem on file, and after kill -9 re-asks only those that were in flight.
//
// Lines are the completions format of `cohort-worker score` (worker/eval
// score.h: id, idx, completion, reasoning_content, completion_tokens,
// finish_reason) plus the generation facts (prompt digest, timings,
// attempts, error_code/error/error_kind/error_message), so the file can be rescored offline as it is.
#ifndef COHORT_WORKER_LLAMA_RESULT_LOG_H_
#define COHORT_WORKER_LLAMA_RESULT_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "worker/eval/result.h"
#include "worker/llama/api.h"

namespace cohort::worker::llama {

// One generated problem: the answer (eval::Answer: completion, reasoning,
// finish_reason "error" when failed, completion_tokens, error_kind and the
// server's error_message) and how it was obtained.
struct GenerationRecord : eval::Answer {
  std::string id;  // the problem id
  int index = 0;   // 0-based dataset row
  std::string prompt_digest;  // sha256 hex of the rendered prompt
  int64_t completion_chars = 0;  // code points of completion
  int64_t reasoning_chars = 0;
  std::optional<int64_t> prompt_tokens;
  std::optional<int64_t> cached_tokens;
  std::optional<Timings> timings;  // server side, queue wait excluded
  double latency_ms = 0;           // client side, retries included
  int attempts = 0;
  // Set when the problem failed for good (a 400 such as a prompt over the
  // slot, or a 500 after its retries): the status code name and the full
  // status message, beside the Answer's kind (errors.h ClassifyFailure, e.g.
  // "500 peg-native format") and the server's own message.
  std::string error_code;
  std::string error;

  // The answer as scoring takes it: a failed request is a server error of
  // its kind (else its status code) with the server's message (else the
  // status message), so it is never scored as a wrong answer.
  eval::Answer ForScoring() const;
};

std::string RecordToLine(const GenerationRecord& record);  // no newline
absl::StatusOr<GenerationRecord> RecordFromLine(absl::string_view line);

// Code points in UTF-8 text (invalid bytes count one each).
int64_t CountCodePoints(absl::string_view text);

// Not thread-safe; owned by the driver loop's thread.
class ResultLog {
 public:
  struct Options {
    int sync_every = 8;
    absl::Duration sync_interval = absl::Seconds(2);
  };

  // Opens or creates `path` and reads what is there (see the file comment).
  static absl::StatusOr<std::unique_ptr<ResultLog>> Open(const std::string& path,
                                                         Options options);
  static absl::StatusOr<std::unique_ptr<ResultLog>> Open(const std::string& path) {
    return Open(path, Options());
  }
  ~ResultLog();  // syncs and closes
  ResultLog(const ResultLog&) = delete;
  ResultLog& operator=(const ResultLog&) = delete;

  // Records on file, in file order (read back, then appended).
  const std::vector<GenerationRecord>& records() const { return records_; }
  bool Has(const std::string& id) const { return ids_.count(id) > 0; }
  // Bytes of a torn last line cut off at open (0 if none).
  int64_t torn_bytes() const { return torn_bytes_; }

  // kAlreadyExists for an id already on file; kResourceExhausted / kInternal
  // for write errors.
  [[nodiscard]] absl::Status Append(const GenerationRecord& record);
  [[nodiscard]] absl::Status Sync();

 private:
  ResultLog(std::string path, Options options, int fd)
      : path_(std::move(path)), options_(options), fd_(fd) {}
  absl::Status Load();

  std::string path_;
  Options options_;
  int fd_ = -1;
  std::vector<GenerationRecord> records_;
  std::set<std::string> ids_;
  int64_t torn_bytes_ = 0;
  int unsynced_ = 0;
  absl::Time last_sync_ = absl::InfinitePast();
};

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_RESULT_LOG_H_
