#include "client/hub/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/hub/hub_protocol.h"

namespace cohort::client::hub {
namespace {

constexpr int kBarWidth = 24;

std::string Rate(double bytes_per_second) {
  if (bytes_per_second <= 0) return "";
  return FormatBytes(static_cast<uint64_t>(bytes_per_second)) + "/s";
}

std::string Eta(uint64_t done, uint64_t total, double bytes_per_second) {
  if (bytes_per_second <= 0 || done >= total) return "";
  int64_t s = static_cast<int64_t>((total - done) / bytes_per_second);
  return absl::StrFormat("%d:%02d left", s / 60, s % 60);
}

}  // namespace

std::string TextBar(uint64_t done, uint64_t total, int width) {
  int filled = total == 0 ? 0
                          : static_cast<int>(static_cast<double>(std::min(done, total)) /
                                             static_cast<double>(total) * width);
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '-'), "]");
}

std::string ProgressBarLine(const std::string& label, uint64_t done,
                            std::optional<uint64_t> total, double bytes_per_second) {
  if (!total || *total == 0) {
    return absl::StrCat(label, "  ", FormatBytes(done), "  ", Rate(bytes_per_second));
  }
  double share = std::min(1.0, static_cast<double>(done) / static_cast<double>(*total));
  return absl::StrFormat("%s %s %3d%%  %s / %s  %s  %s", label,
                         TextBar(done, *total, kBarWidth),
                         static_cast<int>(share * 100), FormatBytes(done),
                         FormatBytes(*total), Rate(bytes_per_second),
                         Eta(done, *total, bytes_per_second));
}

std::string ProgressPlainLine(const std::string& label, uint64_t done,
                              std::optional<uint64_t> total, double bytes_per_second) {
  std::string out = absl::StrCat(label, ": ", FormatBytes(done));
  if (total && *total > 0) {
    int pct = static_cast<int>(std::min(100.0, 100.0 * static_cast<double>(done) /
                                                   static_cast<double>(*total)));
    absl::StrAppend(&out, " of ", FormatBytes(*total), " (", pct, "%)");
  }
  if (bytes_per_second > 0) absl::StrAppend(&out, ", ", Rate(bytes_per_second));
  return out;
}

ProgressDisplay::ProgressDisplay(std::string label, bool terminal, std::FILE* out,
                                 absl::Duration plain_every)
    : label_(std::move(label)), terminal_(terminal), out_(out), every_(plain_every) {}

void ProgressDisplay::Update(uint64_t done, std::optional<uint64_t> total) {
  absl::Time now = absl::Now();
  if (!first_done_) first_done_ = done;
  // A terminal redraws often; a log gets a line now and then.
  if (now - last_ < (terminal_ ? absl::Milliseconds(100) : every_)) return;
  if (!terminal_ && last_ == absl::InfinitePast()) {
    last_ = now;  // no line at 0 s: the caller said what starts
    return;
  }
  last_ = now;
  double seconds = absl::ToDoubleSeconds(now - start_);
  double rate = seconds > 0.2 ? static_cast<double>(done - *first_done_) / seconds : 0;
  if (terminal_) {
    std::fprintf(out_, "\r%s\x1b[K", ProgressBarLine(label_, done, total, rate).c_str());
    drawn_ = true;
  } else {
    std::fprintf(out_, "%s\n", ProgressPlainLine(label_, done, total, rate).c_str());
  }
  std::fflush(out_);
}

void ProgressDisplay::Finish() {
  if (terminal_ && drawn_) {
    std::fprintf(out_, "\r\x1b[K");
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace cohort::client::hub
