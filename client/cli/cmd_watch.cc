// watch: live progress per step and per bench from the Watch stream, resumed
// with its cursor after a disconnect (the server replays nothing twice and
// skips nothing).
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/rpc.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

struct StepLive {
  std::string name;
  v1::StepKind kind = v1::STEP_KIND_UNSPECIFIED;
  v1::StepState state = v1::STEP_STATE_UNSPECIFIED;
  v1::StepProgress progress;
  absl::Time first_time = absl::InfinitePast();
  uint64_t first_done = 0;
};

std::string Eta(const StepLive& s, absl::Time now) {
  const v1::StepProgress& p = s.progress;
  if (s.first_time == absl::InfinitePast() || p.done() <= s.first_done || p.total() == 0) {
    return "";
  }
  double rate = (p.done() - s.first_done) / absl::ToDoubleSeconds(now - s.first_time);
  if (rate <= 0) return "";
  absl::Duration left = absl::Seconds((p.total() - p.done()) / rate);
  return absl::StrCat("eta ", absl::FormatDuration(absl::Trunc(left, absl::Seconds(1))));
}

class Watcher {
 public:
  Watcher(const WatchOptions& o, CampaignModel model)
      : options_(o), model_(std::move(model)), tty_(!o.plain && isatty(1)) {
    for (const v1::Step& s : model_.campaign.steps()) {
      StepLive& live = steps_[s.key()];
      live.name = s.display_name();
      live.kind = s.kind();
      live.state = s.state();
      live.progress = s.progress();
    }
    // bench groups: (model, suite) -> generate and score keys of its shards
    for (const ModelNodes& m : model_.graph.models) {
      for (const auto& [suite, scores] : m.scores) {
        Bench& b = benches_[m.name + " " + suite];
        for (const std::string& score : scores) {
          const GraphNode* node = model_.graph.Find(score);
          Add(&b.score, score);
          if (node != nullptr) Add(&b.generate, node->inputs[0].node_id);
        }
      }
    }
  }

  // Returns true when the campaign finished.
  bool Apply(const v1::Event& e) {
    cursor_ = e.cursor();
    absl::Time now = absl::Now();
    if (e.type() == v1::EVENT_TYPE_CAMPAIGN_FINISHED) return true;
    if (e.type() == v1::EVENT_TYPE_SNAPSHOT_END) {
      snapshot_done_ = true;
      Render(now, true);
      return options_.once;
    }
    auto it = steps_.find(e.step_key());
    if (it == steps_.end()) return false;
    StepLive& s = it->second;
    if (e.type() == v1::EVENT_TYPE_STEP_STATE) s.state = e.step_state();
    if (e.type() == v1::EVENT_TYPE_STEP_PROGRESS || e.has_progress()) {
      s.progress = e.progress();
      if (s.first_time == absl::InfinitePast()) {
        s.first_time = now;
        s.first_done = s.progress.done();
      }
    }
    if (!snapshot_done_) return false;
    if (tty_) {
      Render(now, false);
    } else {
      std::printf("%s %-10s %-30s %s\n", absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()).c_str(),
                  StateName(s.state).c_str(), s.name.c_str(), Line(s, now).c_str());
      std::fflush(stdout);
    }
    return false;
  }
  uint64_t cursor() const { return cursor_; }
  bool succeeded() const {
    for (const auto& [k, s] : steps_) {
      if (s.state != v1::STEP_STATE_SUCCEEDED && s.state != v1::STEP_STATE_SKIPPED) return false;
    }
    return true;
  }

 private:
  struct Bench {
    std::vector<std::string> generate, score;
  };
  void Add(std::vector<std::string>* keys, const std::string& node) {
    auto it = model_.node_to_key.find(node);
    if (it != model_.node_to_key.end()) keys->push_back(it->second);
  }
  std::string Line(const StepLive& s, absl::Time now) const {
    const v1::StepProgress& p = s.progress;
    if (p.total() == 0) return p.message();
    std::string out = absl::StrCat(p.done(), "/", p.total(), " ", p.unit());
    if (p.done() > 0 && p.passed() > 0) {
      absl::StrAppend(&out, absl::StrFormat(" pass %.1f%%", 100.0 * p.passed() / p.done()));
    }
    std::string eta = Eta(s, now);
    if (!eta.empty() && s.state == v1::STEP_STATE_LEASED) absl::StrAppend(&out, " ", eta);
    return out;
  }
  std::string BenchLine(const Bench& b, absl::Time now) const {
    uint64_t done = 0, total = 0, passed = 0, scored = 0;
    std::string eta;
    for (const std::string& k : b.generate) {
      const StepLive& s = steps_.at(k);
      done += s.state == v1::STEP_STATE_SUCCEEDED ? s.progress.total() : s.progress.done();
      total += s.progress.total();
      if (s.state == v1::STEP_STATE_LEASED && eta.empty()) eta = Eta(s, now);
    }
    for (const std::string& k : b.score) {
      const StepLive& s = steps_.at(k);
      passed += s.progress.passed();
      scored += s.progress.done();
    }
    std::string out = total ? absl::StrCat(done, "/", total, " generated") : "waiting";
    if (scored) absl::StrAppend(&out, absl::StrFormat(", pass %.1f%% of %d", 100.0 * passed / scored, scored));
    if (!eta.empty()) absl::StrAppend(&out, ", ", eta);
    return out;
  }
  void Render(absl::Time now, bool first) {
    if (!tty_ && !first) return;
    if (tty_) {
      if (now - last_render_ < absl::Milliseconds(500) && !first) return;
      last_render_ = now;
      std::printf("\033[H\033[2J");
    }
    std::printf("campaign %s  %s\n", model_.campaign.id().c_str(), model_.campaign.name().c_str());
    for (const auto& [key, s] : steps_) {
      if (!tty_ || s.state != v1::STEP_STATE_SUCCEEDED) {
        std::printf("  %-10s %-34s %s\n", StateName(s.state).c_str(), s.name.c_str(),
                    Line(s, now).c_str());
      }
    }
    if (!benches_.empty()) std::printf("benches:\n");
    for (const auto& [name, b] : benches_) {
      std::printf("  %-44s %s\n", name.c_str(), BenchLine(b, now).c_str());
    }
    std::fflush(stdout);
  }

  WatchOptions options_;
  CampaignModel model_;
  bool tty_;
  std::map<std::string, StepLive> steps_;
  std::map<std::string, Bench> benches_;
  uint64_t cursor_ = 0;
  bool snapshot_done_ = false;
  absl::Time last_render_ = absl::InfinitePast();
};

absl::Status Watch(const GlobalOptions& g, const WatchOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  COHORT_ASSIGN_OR_RETURN(CampaignModel model, LoadCampaign(*conn, o.campaign_id));
  if (model.campaign.state() != v1::CAMPAIGN_STATE_RUNNING && !o.once) {
    std::printf("campaign %s is %s\n", o.campaign_id.c_str(),
                CampaignStateName(model.campaign.state()).c_str());
    return absl::OkStatus();
  }
  Watcher watcher(o, std::move(model));
  absl::Duration backoff = absl::Milliseconds(250);
  while (true) {
    v1::WatchRequest request;
    request.set_campaign_id(o.campaign_id);
    request.set_after_cursor(watcher.cursor());
    auto context = conn->Context(false);
    auto reader = conn->stub().Watch(context.get(), request);
    v1::Event event;
    while (reader->Read(&event)) {
      backoff = absl::Milliseconds(250);
      if (watcher.Apply(event)) {
        context->TryCancel();
        reader->Finish();
        if (o.once) return absl::OkStatus();
        std::printf("campaign finished\n");
        return watcher.succeeded() ? absl::OkStatus()
                                   : absl::AbortedError("campaign finished with unsuccessful steps");
      }
    }
    grpc::Status status = reader->Finish();
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        status.error_code() == grpc::StatusCode::NOT_FOUND) {
      return FromGrpc(status, "watch");
    }
    // Disconnected: resume after the last cursor seen.
    std::fprintf(stderr, "cohort: watch disconnected (%s); resuming after cursor %llu\n",
                 status.error_message().c_str(),
                 static_cast<unsigned long long>(watcher.cursor()));
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

}  // namespace

int RunWatch(const GlobalOptions& g, const WatchOptions& o) { return ExitWith(Watch(g, o)); }

}  // namespace cohort::client
