// File: generation_progress.h
//
// Live progress of a bench while it generates, for `cohort watch` and
// `cohort status`: a reasoning answer can run for many minutes, so counting
// finished problems alone leaves a campaign silent for hours. Every period it
// prints one line to stderr, which the worker parses (ParseToolProgress) and
// streams as the step's progress:
//
//   progress: 3/20 problems, 2 in flight, 812 tok/s, eta 1m35s
//
// Tokens/s counts the answers finished in this run plus what the busy slots
// have decoded so far (llama-server's /slots, next_token.n_decoded), so it
// moves before the first answer ends. The ETA is the remaining problems at
// the rate problems finished in this run.
//
// Thread-safety: Finished() may be called from any thread; one thread of its
// own polls and prints.
#ifndef COHORT_WORKER_LLAMA_GENERATION_PROGRESS_H_
#define COHORT_WORKER_LLAMA_GENERATION_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cohort::worker::llama {

struct GenerationSnapshot {
  uint64_t done = 0;   // problems with a journal row (earlier runs included)
  uint64_t total = 0;
  int in_flight = 0;
  double tokens_per_second = 0;  // 0: not known yet
  double eta_seconds = -1;       // < 0: not known yet
};

// "progress: 3/20 problems, 2 in flight, 812 tok/s, eta 1m35s".
std::string FormatProgressLine(const GenerationSnapshot& s);

// Sum of next_token.n_decoded over the processing slots of a /slots reply;
// 0 for anything else.
int64_t DecodedInFlight(const std::string& slots_json);

class GenerationProgress {
 public:
  // `read_slots` returns llama-server's /slots reply ("" when it has none;
  // null: tokens in flight are not polled); `print` receives each line
  // (stderr in production).
  GenerationProgress(uint64_t done_before, uint64_t total, int slots,
                     std::function<std::string()> read_slots, absl::Duration period,
                     std::function<void(const std::string&)> print);
  ~GenerationProgress();  // stops the thread, prints a last line
  GenerationProgress(const GenerationProgress&) = delete;
  GenerationProgress& operator=(const GenerationProgress&) = delete;

  void Finished(int64_t completion_tokens);
  GenerationSnapshot Snapshot(int64_t decoded_in_flight) const;

 private:
  void Loop();

  const uint64_t done_before_;
  const uint64_t total_;
  const int slots_;
  const std::function<std::string()> read_slots_;
  const absl::Duration period_;
  const std::function<void(const std::string&)> print_;
  const absl::Time start_;
  mutable absl::Mutex mu_;
  uint64_t finished_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t finished_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_GENERATION_PROGRESS_H_
