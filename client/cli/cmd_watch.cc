// watch: live progress per step and per bench from the Watch stream, resumed
// with its cursor after a disconnect (the server replays nothing twice and
// skips nothing).
//
// A step's progress is what its worker reports (tensors for convert and
// quantize, problems where the tool reports them). A bench (a model's suite,
// over its shards) counts the problems of its finished score steps, read
// from the stored results, so its pass rate is the one `cohort report` will
// show; its total is the suite's limit when it has one.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/rpc.h"
#include "client/hub/progress.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

struct StepLive {
  std::string name;
  std::string worker;  // the worker holding its lease, when leased
  v1::StepKind kind = v1::STEP_KIND_UNSPECIFIED;
  v1::StepState state = v1::STEP_STATE_UNSPECIFIED;
  v1::StepProgress progress;
  absl::Time first_time = absl::InfinitePast();
  uint64_t first_done = 0;
};

struct ScoreCount {
  uint64_t problems = 0;
  uint64_t passed = 0;
};

// Rows of one score step, counted.
using ScoreCounter = std::function<absl::StatusOr<ScoreCount>(const std::string& step_key)>;

std::string FormatEta(uint64_t done, uint64_t total, double per_second) {
  if (per_second <= 0 || done >= total) return "";
  absl::Duration left = absl::Seconds((total - done) / per_second);
  return absl::StrCat("eta ", absl::FormatDuration(absl::Trunc(left, absl::Seconds(1))));
}

std::string Eta(const StepLive& s, absl::Time now) {
  const v1::StepProgress& p = s.progress;
  if (s.first_time == absl::InfinitePast() || p.done() <= s.first_done || p.total() == 0) {
    return "";
  }
  double seconds = absl::ToDoubleSeconds(now - s.first_time);
  if (seconds <= 0) return "";
  return FormatEta(p.done(), p.total(), (p.done() - s.first_done) / seconds);
}

std::string Percent(uint64_t part, uint64_t whole) {
  return absl::StrFormat("%.1f%%", 100.0 * part / whole);
}

// One model's suite over its shards.
struct BenchLive {
  std::vector<std::string> generate, score;  // step keys, one per shard
  uint64_t limit = 0;                        // 0: unknown until every shard is scored
  std::map<std::string, ScoreCount> scored;  // succeeded score steps
  absl::Time first_time = absl::InfinitePast();
  uint64_t first_scored = 0;
  std::string last_printed;  // plain mode: the line without its ETA
};

class Watcher {
 public:
  Watcher(const WatchOptions& o, CampaignModel model, ScoreCounter count)
      : options_(o), model_(std::move(model)), count_(std::move(count)),
        tty_(!o.plain && isatty(1)) {
    for (const v1::Step& s : model_.campaign.steps()) {
      StepLive& live = steps_[s.key()];
      live.name = s.display_name();
      live.kind = s.kind();
      live.state = s.state();
      live.progress = s.progress();
      live.worker = s.worker_id();
    }
    for (const ModelNodes& m : model_.graph.models) {
      for (const auto& [suite, scores] : m.scores) AddBench(m.name + " " + suite, scores);
    }
  }

  // Returns true when the watch is over (campaign finished, or --once).
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
    if (!e.worker_id().empty()) s.worker = e.worker_id();
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
      return false;
    }
    std::printf("%s %-10s %-30s %s\n", Clock(now).c_str(), StateName(s.state).c_str(),
                s.name.c_str(), Line(s, now).c_str());
    for (auto& [name, bench] : benches_) {
      if (!Involves(bench, e.step_key())) continue;
      std::string line = BenchLine(bench, now, /*with_eta=*/false);
      if (line == bench.last_printed) continue;
      bench.last_printed = line;
      std::printf("%s bench %s: %s\n", Clock(now).c_str(), name.c_str(),
                  BenchLine(bench, now, true).c_str());
    }
    std::fflush(stdout);
    return false;
  }

  // The benches as they ended, after the campaign finished.
  void PrintSummary() {
    absl::Time now = absl::Now();
    if (tty_) Render(now, true);
    std::printf("campaign %s finished: %s\n", model_.campaign.id().c_str(),
                succeeded() ? "succeeded" : "not every step succeeded");
    for (auto& [name, bench] : benches_) {
      std::printf("  bench %-40s %s\n", name.c_str(), BenchLine(bench, now, false).c_str());
    }
    std::fflush(stdout);
  }

  uint64_t cursor() const { return cursor_; }
  bool succeeded() const {
    for (const auto& [k, s] : steps_) {
      if (s.state != v1::STEP_STATE_SUCCEEDED && s.state != v1::STEP_STATE_SKIPPED) return false;
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  void AddBench(const std::string& name, const std::vector<std::string>& score_nodes) {
    BenchLive& b = benches_[name];
    for (const std::string& score : score_nodes) {
      const GraphNode* node = model_.graph.Find(score);
      Add(&b.score, score);
      if (node == nullptr) continue;
      if (!node->inputs.empty()) Add(&b.generate, node->inputs[0].node_id);
      const nlohmann::json& profile = node->params["profile"];
      std::string bench = node->params.value("bench", "");
      if (profile.contains("benches") && profile["benches"].contains(bench)) {
        const nlohmann::json& settings = profile["benches"][bench];
        if (settings.contains("limit") && settings["limit"].is_number_integer() &&
            settings["limit"].get<int64_t>() > 0) {
          b.limit = settings["limit"].get<uint64_t>();
        }
      }
    }
  }
  void Add(std::vector<std::string>* keys, const std::string& node) {
    auto it = model_.node_to_key.find(node);
    if (it != model_.node_to_key.end() && steps_.count(it->second) != 0) {
      keys->push_back(it->second);
    }
  }
  static bool Involves(const BenchLive& b, const std::string& key) {
    return std::find(b.score.begin(), b.score.end(), key) != b.score.end() ||
           std::find(b.generate.begin(), b.generate.end(), key) != b.generate.end();
  }
  static std::string Clock(absl::Time now) {
    return absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone());
  }

  std::string Line(const StepLive& s, absl::Time now) const {
    const v1::StepProgress& p = s.progress;
    if (p.total() == 0) return p.message();
    std::string out = absl::StrCat(p.done(), "/", p.total(), " ", p.unit());
    if (p.done() > 0 && p.passed() > 0) absl::StrAppend(&out, " pass ", Percent(p.passed(), p.done()));
    std::string eta = Eta(s, now);
    if (!eta.empty() && s.state == v1::STEP_STATE_LEASED) absl::StrAppend(&out, " ", eta);
    return out;
  }

  // Counts the rows of score steps that finished since the last look, and
  // forgets those that were re-armed (retry, rerun).
  void Refresh(BenchLive& b, absl::Time now) {
    for (const std::string& key : b.score) {
      bool done = steps_.at(key).state == v1::STEP_STATE_SUCCEEDED;
      if (!done) {
        b.scored.erase(key);
      } else if (b.scored.count(key) == 0) {
        absl::StatusOr<ScoreCount> count = count_(key);
        if (count.ok()) {
          b.scored[key] = *count;
        } else if (error_.empty()) {
          error_ = std::string(count.status().message());
        }
      }
    }
    if (b.first_time == absl::InfinitePast()) {
      b.first_time = now;
      b.first_scored = Scored(b).problems;
    }
  }
  static ScoreCount Scored(const BenchLive& b) {
    ScoreCount sum;
    for (const auto& [key, c] : b.scored) {
      sum.problems += c.problems;
      sum.passed += c.passed;
    }
    return sum;
  }

  // `fraction`, when given, gets (problems done or generated, total) for a
  // progress bar.
  std::string BenchLine(BenchLive& b, absl::Time now, bool with_eta,
                        std::pair<uint64_t, uint64_t>* fraction = nullptr) {
    Refresh(b, now);
    ScoreCount sum = Scored(b);
    int finished = 0, failed = 0, cancelled = 0, skipped = 0, active = 0;
    uint64_t generating = 0;
    std::string rate;  // a generating shard's "2 in flight, 812 tok/s, eta 1m35s"
    for (const std::string& key : b.score) {
      v1::StepState s = steps_.at(key).state;
      finished += s == v1::STEP_STATE_SUCCEEDED;
      failed += s == v1::STEP_STATE_FAILED || s == v1::STEP_STATE_BLOCKED;
      cancelled += s == v1::STEP_STATE_CANCELLED;
      skipped += s == v1::STEP_STATE_SKIPPED;
      active += s == v1::STEP_STATE_LEASED;
    }
    for (const std::string& key : b.generate) {
      const StepLive& g = steps_.at(key);
      active += g.state == v1::STEP_STATE_LEASED;
      if (g.state == v1::STEP_STATE_LEASED && g.progress.unit() == "problems") {
        generating += g.progress.done();
        if (!g.progress.message().empty()) {
          std::string where = Placement(g.worker, g.progress);
          rate = absl::StrCat(b.generate.size() > 1 ? absl::StrCat(b.generate.size(), " shards, ")
                                                    : "",
                              where, where.empty() ? "" : ": ", g.progress.message());
        }
      }
    }
    size_t shards = b.score.size();
    bool all_done =
        shards > 0 && finished + failed + cancelled + skipped == static_cast<int>(shards);
    // A bench that ended short (failed, cancelled) is out of its limit, not
    // of what it scored.
    uint64_t total = all_done && failed + cancelled == 0 ? sum.problems : b.limit;
    std::string state = skipped == static_cast<int>(shards) && shards > 0 ? "skipped"
                        : failed > 0                                        ? "failed"
                        : cancelled > 0                                     ? "cancelled"
                        : all_done                                          ? "done"
                        : active > 0 || finished > 0                        ? "running"
                                                                            : "waiting";
    if (fraction != nullptr) {
      *fraction = {std::min(total, std::max(sum.problems, generating)), total};
    }
    std::string out = absl::StrCat(state, ", ", sum.problems, "/",
                                   total > 0 ? absl::StrCat(total) : "?", " problems scored");
    if (sum.problems > 0) {
      absl::StrAppend(&out, ", pass ", Percent(sum.passed, sum.problems), " (", sum.passed,
                      "/", sum.problems, ")");
    }
    if (shards > 1) absl::StrAppend(&out, ", shards ", finished, "/", shards);
    if (generating > 0) absl::StrAppend(&out, ", ", generating, " generated in flight");
    if (!rate.empty() && !all_done) absl::StrAppend(&out, " (", rate, ")");
    double seconds = absl::ToDoubleSeconds(now - b.first_time);
    if (with_eta && !all_done && total > 0 && sum.problems > b.first_scored && seconds > 0) {
      std::string eta = FormatEta(sum.problems, total, (sum.problems - b.first_scored) / seconds);
      if (!eta.empty()) absl::StrAppend(&out, ", ", eta);
    }
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
    for (auto& [name, b] : benches_) {
      std::pair<uint64_t, uint64_t> fraction{0, 0};
      std::string line = BenchLine(b, now, true, &fraction);
      b.last_printed = BenchLine(b, now, false);
      if (tty_) {
        std::printf("  %-44s %s %s\n", name.c_str(),
                    hub::TextBar(fraction.first, fraction.second, 20).c_str(), line.c_str());
      } else {
        std::printf("  %-44s %s\n", name.c_str(), line.c_str());
      }
    }
    std::fflush(stdout);
  }

  WatchOptions options_;
  CampaignModel model_;
  ScoreCounter count_;
  bool tty_;
  std::map<std::string, StepLive> steps_;
  std::map<std::string, BenchLive> benches_;
  uint64_t cursor_ = 0;
  bool snapshot_done_ = false;
  absl::Time last_render_ = absl::InfinitePast();
  std::string error_;  // the first failed results query
};

absl::StatusOr<ScoreCount> CountScores(Connection& conn, const std::string& campaign_id,
                                       const std::string& step_key) {
  v1::QueryResultsRequest request;
  request.set_campaign_id(campaign_id);
  request.set_step_key(step_key);
  auto context = conn.Context();
  auto reader = conn.stub().QueryResults(context.get(), request);
  ScoreCount count;
  v1::ProblemResult row;
  while (reader->Read(&row)) {
    ++count.problems;
    count.passed += row.verdict() == v1::VERDICT_PASS;
  }
  COHORT_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "results of " + ShortKey(step_key)));
  return count;
}

absl::Status Ended(const Watcher& watcher) {
  if (!watcher.error().empty()) {
    std::fprintf(stderr, "cohort: bench counts may be incomplete: %s\n", watcher.error().c_str());
  }
  return watcher.succeeded() ? absl::OkStatus()
                             : absl::AbortedError("campaign finished with unsuccessful steps");
}

absl::Status Watch(const GlobalOptions& g, const WatchOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  COHORT_ASSIGN_OR_RETURN(CampaignModel model, LoadCampaign(*conn, o.campaign_id));
  bool running = model.campaign.state() == v1::CAMPAIGN_STATE_RUNNING;
  Connection* raw = conn.get();
  Watcher watcher(o, std::move(model), [raw, id = o.campaign_id](const std::string& key) {
    return CountScores(*raw, id, key);
  });
  if (!running && !o.once) {
    watcher.PrintSummary();
    return Ended(watcher);
  }
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
        watcher.PrintSummary();
        return Ended(watcher);
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
