#include "worker/llama/generation_progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::llama {
namespace {

std::string Duration(double seconds) {
  int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrCat(s, "s");
}

}  // namespace

std::string FormatProgressLine(const GenerationSnapshot& s) {
  std::string out = absl::StrCat("progress: ", s.done, "/", s.total, " problems, ",
                                 s.in_flight, " in flight");
  if (s.tokens_per_second > 0) {
    absl::StrAppend(&out, absl::StrFormat(", %.0f tok/s", s.tokens_per_second));
  }
  if (s.eta_seconds >= 0) absl::StrAppend(&out, ", eta ", Duration(s.eta_seconds));
  return out;
}

int64_t DecodedInFlight(const std::string& slots_json) {
  nlohmann::json slots = nlohmann::json::parse(slots_json, nullptr, false);
  if (!slots.is_array()) return 0;
  int64_t sum = 0;
  for (const nlohmann::json& slot : slots) {
    if (!slot.is_object() || !slot.value("is_processing", false)) continue;
    auto next = slot.find("next_token");
    if (next == slot.end()) continue;
    // An array of one object in some versions, an object in others.
    const nlohmann::json& token = next->is_array() && !next->empty() ? (*next)[0] : *next;
    if (token.is_object() && token.contains("n_decoded") && token["n_decoded"].is_number_integer()) {
      sum += std::max<int64_t>(0, token["n_decoded"].get<int64_t>());
    }
  }
  return sum;
}

GenerationProgress::GenerationProgress(uint64_t done_before, uint64_t total, int slots,
                                       std::function<std::string()> read_slots,
                                       absl::Duration period,
                                       std::function<void(const std::string&)> print)
    : done_before_(done_before),
      total_(total),
      slots_(slots),
      read_slots_(std::move(read_slots)),
      period_(period),
      print_(std::move(print)),
      start_(absl::Now()) {
  thread_ = std::thread([this] { Loop(); });
}

GenerationProgress::~GenerationProgress() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  print_(FormatProgressLine(Snapshot(0)));
}

void GenerationProgress::Finished(int64_t completion_tokens) {
  absl::MutexLock lock(&mu_);
  ++finished_;
  finished_tokens_ += std::max<int64_t>(0, completion_tokens);
}

GenerationSnapshot GenerationProgress::Snapshot(int64_t decoded_in_flight) const {
  absl::MutexLock lock(&mu_);
  GenerationSnapshot s;
  s.done = std::min(total_, done_before_ + finished_);
  s.total = total_;
  s.in_flight = static_cast<int>(std::min<uint64_t>(slots_, total_ - s.done));
  double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
  if (seconds > 0) {
    s.tokens_per_second = (finished_tokens_ + decoded_in_flight) / seconds;
    if (finished_ > 0) s.eta_seconds = (total_ - s.done) * seconds / finished_;
  }
  return s;
}

void GenerationProgress::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), period_);
    if (stop_) break;
    mu_.Unlock();
    int64_t decoded = read_slots_ ? DecodedInFlight(read_slots_()) : 0;
    print_(FormatProgressLine(Snapshot(decoded)));
    mu_.Lock();
  }
}

}  // namespace cohort::worker::llama
