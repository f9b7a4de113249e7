#include "worker/llama/bench_run.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "worker/eval/bench.h"
#include "worker/eval/profile.h"
#include "worker/eval/score.h"
#include "worker/llama/driver.h"
#include "worker/llama/generation_progress.h"
#include "worker/llama/http.h"
#include "worker/llama/supervisor.h"

namespace cohort::worker::llama {
namespace {

using Json = nlohmann::json;

// What the run needs from the eval core, resolved once.
struct Plan {
  const eval::BenchSpec* bench = nullptr;
  eval::Profile profile;
  eval::BenchSettings settings;
  std::vector<eval::Problem> problems;  // this run's (subset, shard)
};

absl::StatusOr<Plan> MakePlan(const BenchRunOptions& options) {
  Plan plan;
  COHORT_ASSIGN_OR_RETURN(eval::BenchSetup setup,
                          eval::SetUpBench(options.bench, options.profile, options.fewshot));
  plan.bench = setup.bench;
  plan.profile = std::move(setup.profile);
  plan.settings = std::move(setup.settings);
  if (options.limit >= 0) plan.settings.limit = options.limit;
  if (options.shard_count < 1 || options.shard_index < 0 ||
      options.shard_index >= options.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("bad shard ", options.shard_index, " of ",
                                                   options.shard_count));
  }
  COHORT_ASSIGN_OR_RETURN(plan.problems, plan.bench->load(options.dataset, plan.settings));
  eval::ApplyLimit(plan.settings, &plan.problems);
  // Contiguous shards: shard i gets rows [n*i/k, n*(i+1)/k).
  size_t n = plan.problems.size();
  size_t begin = n * options.shard_index / options.shard_count;
  size_t end = n * (options.shard_index + 1) / options.shard_count;
  plan.problems = std::vector<eval::Problem>(plan.problems.begin() + begin,
                                             plan.problems.begin() + end);
  return plan;
}

ChatRequest RequestFor(const eval::BenchSettings& settings, const eval::Problem& problem) {
  ChatRequest request;
  request.prompt = problem.prompt;
  for (const eval::ChatTurn& turn : problem.history) {
    request.history.emplace_back(turn.role, turn.content);
  }
  request.max_tokens = settings.max_tokens;
  request.sampler = SamplerParams{settings.sampler.temperature, settings.sampler.top_k,
                                  settings.sampler.top_p, settings.sampler.min_p,
                                  settings.sampler.seed};
  request.stop = settings.stop;
  request.enable_thinking = settings.thinking;
  request.reasoning_budget = settings.thinking ? settings.reasoning_budget : -1;
  return request;
}

// The journal's sidecar: which run the journal belongs to. Resuming into a
// journal of another bench, profile, dataset or serving setup would mix
// regimes silently (docs/protocol.md T5), so that is refused. An empty
// `fingerprint` (no server contacted: nothing left to generate) skips the
// server and writes nothing new.
absl::Status CheckRunIdentity(const BenchRunOptions& options, const Plan& plan,
                              const std::string& fingerprint) {
  COHORT_ASSIGN_OR_RETURN(std::string dataset_digest, Sha256File(options.dataset));
  std::string fewshot_digest;
  if (!options.fewshot.empty()) {
    COHORT_ASSIGN_OR_RETURN(fewshot_digest, Sha256File(options.fewshot));
  }
  Json identity = {{"bench", plan.bench->name},
                   {"profile_digest", plan.profile.digest},
                   {"dataset_sha256", dataset_digest},
                   {"fewshot_sha256", fewshot_digest},
                   {"limit", plan.settings.limit},
                   {"shard", {options.shard_index, options.shard_count}},
                   {"server", fingerprint}};
  std::string path = options.out + ".run.json";
  absl::StatusOr<std::string> existing = ReadFileToString(path);
  if (existing.ok()) {
    Json old = Json::parse(*existing, nullptr, /*allow_exceptions=*/false);
    for (const auto& [key, value] : identity.items()) {
      if (key == "server" && fingerprint.empty()) continue;
      if (!old.is_object() || !old.contains(key) || old[key] != value) {
        return absl::FailedPreconditionError(absl::StrCat(
            options.out, " belongs to another run (", key, " was ",
            old.is_object() && old.contains(key) ? old[key].dump() : "absent", ", now ",
            value.dump(), "); use a new --out"));
      }
    }
    return absl::OkStatus();
  }
  if (fingerprint.empty()) return absl::OkStatus();
  return WriteFileAtomically(path, identity.dump(2) + "\n");
}

GenerationRecord MakeRecord(const eval::Problem& problem, const GenerationOutcome& outcome) {
  GenerationRecord r;
  r.id = problem.id;
  r.index = problem.index;
  r.prompt_digest = eval::PromptDigest(problem);
  r.attempts = outcome.attempts;
  r.latency_ms = absl::ToDoubleMilliseconds(outcome.latency);
  if (!outcome.result.ok()) {
    r.finish_reason = "error";
    r.error_code = absl::StatusCodeToString(outcome.result.status().code());
    r.error = std::string(outcome.result.status().message());
    r.error_kind = outcome.error_kind;
    r.error_message = outcome.error_message;
    return r;
  }
  const ChatResult& chat = *outcome.result;
  r.completion = chat.content;
  r.reasoning = chat.reasoning;
  r.finish_reason = chat.finish_reason;
  r.completion_chars = CountCodePoints(chat.content);
  r.reasoning_chars = CountCodePoints(chat.reasoning);
  if (chat.usage) {
    r.completion_tokens = chat.usage->completion_tokens;
    r.prompt_tokens = chat.usage->prompt_tokens;
    r.cached_tokens = chat.usage->cached_tokens;
  } else if (chat.timings) {
    r.completion_tokens = chat.timings->predicted_n;
    r.prompt_tokens = chat.timings->prompt_n + chat.timings->cache_n;
  }
  r.timings = chat.timings;
  return r;
}

// Per-problem failures are recorded and the run goes on: the prompt does not
// fit (400 exceed_context_size_error), the server refused this prompt (400
// invalid_request_error, e.g. a vocabulary that cannot encode it) or kept
// failing on this one problem (500, e.g. its chat parser rejecting the
// output). The share check after scoring fails a run where that is more than
// a few problems. Anything else (unreachable server, 401, 404) stops the run.
bool IsPerProblemFailure(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kOutOfRange ||
      status.code() == absl::StatusCode::kInternal) {
    return true;
  }
  return status.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWith(ClassifyFailure(status).kind, "400");
}

std::string Percent(double share) {
  std::string text = absl::StrFormat("%.1f", 100.0 * share);
  if (absl::EndsWith(text, ".0")) text.resize(text.size() - 2);
  return text + "%";
}

// kFailedPrecondition when more than `limit` of the run's problems ended in
// server errors (see bench_run.h).
absl::Status CheckServerErrors(const std::vector<eval::ProblemResult>& results, double limit) {
  struct Kind {
    int64_t count = 0;
    std::string example;
  };
  std::map<std::string, Kind> kinds;
  int64_t errors = 0;
  for (const eval::ProblemResult& r : results) {
    if (!r.server_error()) continue;
    ++errors;
    Kind& kind = kinds[r.error_kind];
    if (kind.count++ == 0) kind.example = r.error_message;
  }
  int64_t n = static_cast<int64_t>(results.size());
  if (errors == 0 || static_cast<double>(errors) <= limit * static_cast<double>(n)) {
    return absl::OkStatus();
  }
  std::vector<std::pair<std::string, Kind>> order(kinds.begin(), kinds.end());
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
  std::vector<std::string> parts;
  for (const auto& [name, kind] : order) {
    std::string example = kind.example.size() > 200 ? kind.example.substr(0, 200) + "..."
                                                    : kind.example;
    parts.push_back(absl::StrCat(name, order.size() > 1 ? absl::StrCat(" x", kind.count) : "",
                                 ": '", example, "'"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      errors, " of ", n, " problems (", Percent(static_cast<double>(errors) / n),
      ") ended in server errors (", absl::StrJoin(parts, "; "), "); over the ",
      Percent(limit), " limit"));
}

// The server, external or ours, and how the driver reaches it.
struct Server {
  std::unique_ptr<ServerSupervisor> supervisor;
  std::string url;
  ServerProps props;
  std::vector<std::string> headers;  // with every request (an API key)
  bool llama_server() const { return props.server == "llama-server"; }
};

// "Authorization: Bearer KEY" from the key file (a file, so the key is in
// no command line and no step's params); none without a file.
absl::StatusOr<std::vector<std::string>> AuthHeaders(const std::string& key_file) {
  if (key_file.empty()) return std::vector<std::string>{};
  COHORT_ASSIGN_OR_RETURN(std::string key, ReadFileToString(key_file));
  key = std::string(absl::StripAsciiWhitespace(key));
  if (key.empty() || key.size() > 4096 ||
      std::any_of(key.begin(), key.end(), [](char c) { return c < 0x21 || c > 0x7e; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        key_file, ": an API key is one line of printable ASCII without spaces"));
  }
  return std::vector<std::string>{"Authorization: Bearer " + key};
}

absl::StatusOr<Server> Connect(const BenchRunOptions& options, const Plan& plan) {
  Server server;
  if (!options.server_url.empty()) {
    server.url = options.server_url;
    while (!server.url.empty() && server.url.back() == '/') server.url.pop_back();
    COHORT_ASSIGN_OR_RETURN(server.headers, AuthHeaders(options.api_key_file));
    COHORT_RETURN_IF_ERROR(
        WaitForReady(server.url, nullptr, "", options.server_start_timeout));
    absl::StatusOr<ServerProps> props = ReadProps(server.url, server.headers);
    if (props.status().code() == absl::StatusCode::kNotFound) {
      if (options.concurrency <= 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            server.url, " is not llama-server (no /props): give the requests to keep in "
            "flight (--concurrency, the spec's server.parallel)"));
      }
      props = ReadOpenAiProps(server.url, server.headers, options.concurrency,
                              options.server_model);
    }
    COHORT_ASSIGN_OR_RETURN(server.props, std::move(props));
    return server;
  }
  if (options.model.empty()) {
    return absl::InvalidArgumentError("bench: give --server-url or --model");
  }
  SupervisorOptions spawn;
  spawn.args.backend = options.backend;
  spawn.args.binary =
      options.backend == ServerBackend::kVllm ? options.vllm : options.llama_server;
  spawn.args.model = options.model;
  spawn.args.reasoning_parser = options.reasoning_parser;
  spawn.args.parallel = options.parallel;
  int64_t per_slot = GenerationNeed(plan.settings, options.answer_reserve) +
                     options.prompt_allowance;
  spawn.args.ctx_size = options.ctx_size > 0
                            ? options.ctx_size
                            : static_cast<int>((per_slot + 255) / 256 * 256 * options.parallel);
  spawn.args.thinking = plan.settings.thinking;
  spawn.args.reasoning_budget = plan.settings.reasoning_budget;
  spawn.args.seed = plan.settings.sampler.seed;
  spawn.args.extra_args = options.server_extra_args;
  spawn.gpu = options.gpu;
  spawn.log_path = options.server_log.empty()
                       ? absl::StrCat(options.out, ".", BackendName(options.backend), ".log")
                       : options.server_log;
  spawn.start_timeout = options.server_start_timeout;
  spawn.max_restarts = options.max_restarts;
  spawn.restart_backoff = options.restart_backoff;
  COHORT_ASSIGN_OR_RETURN(server.supervisor, ServerSupervisor::Start(std::move(spawn)));
  server.url = server.supervisor->base_url();
  server.props = server.supervisor->props();
  return server;
}

absl::StatusOr<DriverStats> Generate(const BenchRunOptions& options, const Plan& plan,
                                     const std::vector<const eval::Problem*>& pending,
                                     Server& server, ResultLog& log, BenchRunResult& out,
                                     const std::function<void(const GenerationRecord&)>& on_result) {
  std::vector<GenerationJob> jobs;
  std::map<std::string, const eval::Problem*> by_id;
  std::vector<ChatRequest> requests;
  for (const eval::Problem* problem : pending) {
    jobs.push_back(GenerationJob{problem->id, RequestFor(plan.settings, *problem)});
    // An OpenAI-compatible server routes by model name; llama-server ignores it.
    if (!server.llama_server()) jobs.back().request.model = server.props.model_id;
    requests.push_back(jobs.back().request);
    by_id[problem->id] = problem;
  }
  // Only llama-server renders and counts a prompt as it will serve it
  // (/apply-template, /tokenize); elsewhere the slot check has no prompt.
  int64_t longest = 0;
  if (server.llama_server()) {
    COHORT_ASSIGN_OR_RETURN(longest, LongestPromptTokens(server.url, requests, server.headers));
  }
  // The protocol's rule (docs/protocol.md 1.4): a slot must hold
  // max(max_tokens, budget + headroom); the prompt is not counted, which is
  // how the card's own geometry (16384 per slot) passes. A prompt that pushes
  // a long answer past the slot ends it silently with finish_reason=length,
  // so say so in the log rather than refuse the protocol being reproduced.
  int64_t required = std::max<int64_t>(
      plan.settings.max_tokens,
      (plan.settings.thinking ? plan.settings.reasoning_budget : 0) + options.answer_reserve);
  // A server that does not say its context (a plain OpenAI-compatible one)
  // is taken at its word.
  if (server.props.n_ctx > 0) {
    COHORT_RETURN_IF_ERROR(CheckSlotFits(server.props, 0, required));
    absl::Status tight = CheckSlotFits(server.props, longest,
                                       GenerationNeed(plan.settings, options.answer_reserve));
    if (!tight.ok()) {
      spdlog::warn("{} (answers that long will end with finish_reason=length)",
                   std::string(tight.message()));
    }
  }
  if (!server.llama_server() && plan.settings.thinking && plan.settings.reasoning_budget >= 0) {
    spdlog::warn("{} ({}) cannot hold reasoning to the protocol's budget of {} tokens per "
                 "request (llama-server's --reasoning-budget); only max_tokens {} bounds it",
                 server.url, server.props.server, plan.settings.reasoning_budget,
                 plan.settings.max_tokens);
  }
  DriverOptions driver;
  ServerSupervisor* supervisor = server.supervisor.get();
  std::string url = server.url;
  driver.base_url = [supervisor, url] { return supervisor ? supervisor->base_url() : url; };
  if (supervisor != nullptr) driver.maintain = [supervisor] { return supervisor->EnsureRunning(); };
  driver.concurrency = options.concurrency > 0 ? options.concurrency : server.props.total_slots;
  driver.headers = server.headers;
  std::unique_ptr<GenerationProgress> progress;
  if (options.progress_sink) {
    std::function<std::string()> read_slots;  // none: tokens in flight unknown
    if (server.llama_server()) {
      read_slots = [supervisor, url, headers = server.headers]() {
        std::string slots = absl::StrCat(supervisor ? supervisor->base_url() : url, "/slots");
        absl::StatusOr<HttpResponse> r = HttpFetch(slots, "", absl::Seconds(2), headers);
        return r.ok() && r->status == 200 ? r->body : std::string();
      };
    }
    progress = std::make_unique<GenerationProgress>(
        plan.problems.size() - pending.size(), plan.problems.size(), driver.concurrency,
        read_slots, options.progress_period, options.progress_sink);
  }
  driver.request_timeout = options.request_timeout;
  driver.retry = options.retry;
  return RunGeneration(driver, std::move(jobs), [&](GenerationOutcome outcome) -> absl::Status {
    if (!outcome.result.ok() && !IsPerProblemFailure(outcome.result.status())) {
      return Annotate(outcome.result.status(), absl::StrCat("problem ", outcome.key));
    }
    GenerationRecord record = MakeRecord(*by_id.at(outcome.key), outcome);
    COHORT_RETURN_IF_ERROR(log.Append(record));
    ++out.generated;
    if (progress) progress->Finished(record.completion_tokens.value_or(0));
    if (on_result) on_result(record);
    return absl::OkStatus();
  });
}

absl::Status Score(const Plan& plan, const ResultLog& log, const std::string& path,
                   BenchRunResult& out) {
  std::map<std::string, const GenerationRecord*> records;
  for (const GenerationRecord& r : log.records()) records[r.id] = &r;
  std::vector<eval::CompletionRow> rows;
  for (const eval::Problem& problem : plan.problems) {
    auto it = records.find(problem.id);
    if (it == records.end()) continue;
    out.failed += it->second->error_code.empty() ? 0 : 1;
    eval::CompletionRow row;
    static_cast<eval::Answer&>(row) = it->second->ForScoring();
    row.line = static_cast<int>(rows.size()) + 1;
    row.id = problem.id;
    rows.push_back(std::move(row));
  }
  eval::BenchSettings settings = plan.settings;
  settings.limit = 0;  // plan.problems is already the run's subset
  COHORT_ASSIGN_OR_RETURN(eval::ScoreRun run, eval::ScoreCompletions(*plan.bench, settings,
                                                                     plan.problems, rows, path));
  out.results = std::move(run.results);
  out.summary = std::move(run.summary);
  out.summary.profile = plan.profile.name;
  out.summary.profile_digest = plan.profile.digest;
  return absl::OkStatus();
}

}  // namespace

int64_t GenerationNeed(const eval::BenchSettings& settings, int answer_reserve) {
  int64_t cap = (settings.thinking ? settings.reasoning_budget : 0) + answer_reserve;
  return settings.max_tokens > 0 ? std::min<int64_t>(settings.max_tokens, cap) : cap;
}

absl::StatusOr<BenchRunResult> RunBench(
    const BenchRunOptions& options,
    const std::function<void(const GenerationRecord&)>& on_result) {
  if (options.out.empty()) return absl::InvalidArgumentError("bench: no --out");
  COHORT_ASSIGN_OR_RETURN(Plan plan, MakePlan(options));
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ResultLog> log, ResultLog::Open(options.out));
  if (log->torn_bytes() > 0) {
    spdlog::warn("{}: dropped a torn last line ({} bytes)", options.out, log->torn_bytes());
  }
  BenchRunResult out;
  std::vector<const eval::Problem*> pending;
  for (const eval::Problem& problem : plan.problems) {
    if (log->Has(problem.id)) {
      ++out.resumed;
    } else {
      pending.push_back(&problem);
    }
  }
  eval::GenerationStats generation;
  generation.resumed = out.resumed;
  if (pending.empty()) COHORT_RETURN_IF_ERROR(CheckRunIdentity(options, plan, ""));
  if (!pending.empty()) {
    COHORT_ASSIGN_OR_RETURN(Server server, Connect(options, plan));
    out.server_fingerprint = server.props.Fingerprint();
    COHORT_RETURN_IF_ERROR(CheckRunIdentity(options, plan, out.server_fingerprint));
    absl::StatusOr<DriverStats> stats =
        Generate(options, plan, pending, server, *log, out, on_result);
    COHORT_RETURN_IF_ERROR(log->Sync());
    if (server.supervisor) server.supervisor->Stop();
    COHORT_RETURN_IF_ERROR(stats.status());
    eval::ServerRunStats& run = generation.server_run.emplace();
    run.server = out.server_fingerprint;
    run.reasoning_budget_enforced = server.llama_server();
    run.requests_sent = stats->requests_sent;
    run.retries = stats->retries;
    run.wall_s = absl::ToDoubleSeconds(stats->wall);
    run.in_flight_share = stats->in_flight_share;
    run.restarts = server.supervisor ? server.supervisor->restarts() : 0;
  }
  COHORT_RETURN_IF_ERROR(Score(plan, *log, options.out, out));
  generation.generated = out.generated;
  generation.failed = out.failed;
  out.summary.generation = generation;
  double limit = options.max_server_error_share >= 0 ? options.max_server_error_share
                 : plan.settings.max_server_error_share >= 0
                     ? plan.settings.max_server_error_share
                     : kDefaultMaxServerErrorShare;
  COHORT_RETURN_IF_ERROR(CheckServerErrors(out.results, limit));
  return out;
}

}  // namespace cohort::worker::llama
