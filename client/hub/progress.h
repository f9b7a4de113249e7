// File: progress.h
//
// Download progress on stderr: a bar redrawn in place when stderr is a
// terminal, otherwise one plain line every few seconds (logs and CI keep
// readable output, no carriage returns). The line formats are pure.
#ifndef COHORT_CLIENT_HUB_PROGRESS_H_
#define COHORT_CLIENT_HUB_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cohort::client::hub {

// "[########----]": `width` cells, filled for done of total (all '-' when
// the total is 0, i.e. unknown). Shared by downloads and `cohort watch`.
std::string TextBar(uint64_t done, uint64_t total, int width);

// "test.jsonl [########----------------]  34%  1.2 MiB / 3.5 MiB  2.0 MiB/s  0:01 left"
std::string ProgressBarLine(const std::string& label, uint64_t done,
                            std::optional<uint64_t> total, double bytes_per_second);
// "test.jsonl: 1.2 MiB of 3.5 MiB (34%), 2.0 MiB/s"
std::string ProgressPlainLine(const std::string& label, uint64_t done,
                              std::optional<uint64_t> total, double bytes_per_second);

class ProgressDisplay {
 public:
  // `out` is stderr in the CLI; `terminal` says whether it is a terminal.
  ProgressDisplay(std::string label, bool terminal, std::FILE* out,
                  absl::Duration plain_every = absl::Seconds(10));
  // `done` counts from the file's start (a resumed download starts high);
  // the rate counts only this run's bytes.
  void Update(uint64_t done, std::optional<uint64_t> total);
  // Ends the bar's line (terminal only).
  void Finish();

 private:
  std::string label_;
  bool terminal_;
  std::FILE* out_;
  absl::Duration every_;
  absl::Time start_ = absl::Now();
  absl::Time last_ = absl::InfinitePast();
  std::optional<uint64_t> first_done_;
  bool drawn_ = false;
};

}  // namespace cohort::client::hub

#endif  // COHORT_CLIENT_HUB_PROGRESS_H_
