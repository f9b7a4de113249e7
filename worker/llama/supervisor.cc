#include "worker/llama/supervisor.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "worker/llama/errors.h"
#include "worker/llama/http.h"

namespace cohort::worker::llama {
namespace {

constexpr absl::Duration kProbeTimeout = absl::Seconds(5);
constexpr int kLogTailLines = 12;
// How many of the longest prompts (by bytes) are measured in tokens: bytes
// per token varies, so the longest in bytes is not always the longest in
// tokens, but it is close.
constexpr size_t kPromptsMeasured = 4;

std::string ExitText(const Subprocess& child) {
  return child.term_signal() != 0 ? absl::StrCat("killed by signal ", child.term_signal())
                                  : absl::StrCat("exit code ", child.exit_code());
}

absl::StatusOr<std::string> FetchOk(const std::string& url, const std::string& body,
                                    const std::vector<std::string>& headers) {
  COHORT_ASSIGN_OR_RETURN(HttpResponse response, HttpFetch(url, body, kProbeTimeout, headers));
  if (response.status != 200) return StatusFromHttp(response.status, response.body);
  return std::move(response.body);
}

}  // namespace

std::string LogTail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = std::max<std::streamoff>(0, size - 8192);
  in.seekg(start);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::vector<std::string> all = absl::StrSplit(buffer.str(), '\n', absl::SkipWhitespace());
  size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + from, all.end(), "\n");
}

absl::Status WaitForReady(const std::string& base_url, Subprocess* child,
                          const std::string& log_path, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(20);
  absl::Status last = absl::UnavailableError("no reply yet");
  while (true) {
    if (child != nullptr && child->PollExited()) {
      std::string message =
          absl::StrCat("the server exited while starting (", ExitText(*child),
                       "); last log lines:\n", LogTail(log_path, kLogTailLines));
      // Killed by a signal (the OOM killer, an operator, a crash): worth
      // another attempt. An exit code (the model does not load) is not.
      if (child->term_signal() != 0) return absl::UnavailableError(message);
      return absl::FailedPreconditionError(message);
    }
    absl::StatusOr<HttpResponse> response =
        HttpFetch(absl::StrCat(base_url, "/health"), "", kProbeTimeout);
    if (response.ok()) {
      last = ParseHealth(response->status, response->body);
      if (last.ok()) return absl::OkStatus();
    } else {
      last = response.status();  // refused: the port is not open yet
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the server at ", base_url, " not ready after ", absl::FormatDuration(timeout),
          ": ", last.message()));
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(250));
  }
}

absl::StatusOr<ServerProps> ReadProps(const std::string& base_url,
                                      const std::vector<std::string>& headers) {
  COHORT_ASSIGN_OR_RETURN(std::string body,
                          FetchOk(absl::StrCat(base_url, "/props"), "", headers));
  return ParseProps(body);
}

absl::StatusOr<ServerProps> ReadOpenAiProps(const std::string& base_url,
                                            const std::vector<std::string>& headers,
                                            int concurrency, const std::string& model) {
  COHORT_ASSIGN_OR_RETURN(HttpResponse models,
                          HttpFetch(base_url + "/v1/models", "", absl::Seconds(10), headers));
  if (models.status != 200) return StatusFromHttp(models.status, models.body);
  COHORT_ASSIGN_OR_RETURN(ModelInfo served, ParseModels(models.body));
  ServerProps props;
  props.total_slots = concurrency;
  props.n_ctx = served.n_ctx;
  props.model_id = model.empty() ? served.id : model;
  props.server = "openai-compatible";
  absl::StatusOr<HttpResponse> version =
      HttpFetch(base_url + "/version", "", absl::Seconds(10), headers);
  if (version.ok() && version->status == 200) {
    if (absl::StatusOr<std::string> v = ParseVersion(version->body); v.ok()) {
      props.server = "vllm " + *v;
    }
  }
  return props;
}

absl::StatusOr<int64_t> LongestPromptTokens(const std::string& base_url,
                                            const std::vector<ChatRequest>& prompts,
                                            const std::vector<std::string>& headers) {
  std::vector<const ChatRequest*> sorted;
  for (const ChatRequest& p : prompts) sorted.push_back(&p);
  std::stable_sort(sorted.begin(), sorted.end(), [](const ChatRequest* a, const ChatRequest* b) {
    return a->prompt.size() > b->prompt.size();
  });
  if (sorted.size() > kPromptsMeasured) sorted.resize(kPromptsMeasured);
  int64_t longest = 0;
  for (const ChatRequest* request : sorted) {
    absl::StatusOr<std::string> rendered = FetchOk(absl::StrCat(base_url, "/apply-template"),
                                                   BuildApplyTemplateBody(*request), headers);
    absl::StatusOr<std::string> tokens =
        rendered.ok() ? FetchOk(absl::StrCat(base_url, "/tokenize"),
                                BuildTokenizeBody(*rendered), headers)
                      : rendered.status();
    int64_t count = 0;
    if (tokens.ok()) {
      COHORT_ASSIGN_OR_RETURN(count, ParseTokenizeCount(*tokens));
    } else if (tokens.status().code() == absl::StatusCode::kNotFound ||
               tokens.status().code() == absl::StatusCode::kUnimplemented) {
      count = static_cast<int64_t>(request->prompt.size() / 2);  // no tokenizer endpoint
    } else {
      // llama.cpp's tokenizer throws std::out_of_range for a byte its
      // vocabulary has no token for; the message alone says nothing.
      bool vocab_gap = absl::StrContains(tokens.status().message(), "unordered_map::at");
      return Annotate(tokens.status(),
                      vocab_gap ? "measuring the longest prompt (the model's vocabulary has no "
                                  "token for a byte of the prompt, so llama.cpp cannot tokenize "
                                  "it; a checkpoint without byte tokens?)"
                                : "measuring the longest prompt");
    }
    longest = std::max(longest, count);
  }
  return longest;
}

absl::Status CheckSlotFits(const ServerProps& props, int64_t longest_prompt_tokens,
                           int64_t generation_tokens) {
  int64_t need = longest_prompt_tokens + generation_tokens;
  if (need <= props.n_ctx) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "llama-server slot too small: the longest prompt (", longest_prompt_tokens,
      " tokens) plus the generation budget (", generation_tokens, " tokens) needs ", need,
      " tokens per slot, but each of the ", props.total_slots, " slots has n_ctx ", props.n_ctx,
      "; start the server with -c >= ", need * props.total_slots));
}

absl::StatusOr<std::unique_ptr<ServerSupervisor>> ServerSupervisor::Start(
    SupervisorOptions options) {
  if (options.log_path.empty()) {
    return absl::InvalidArgumentError("llama-server supervisor: no log path");
  }
  std::unique_ptr<ServerSupervisor> supervisor(new ServerSupervisor(std::move(options)));
  COHORT_RETURN_IF_ERROR(supervisor->Launch());
  return supervisor;
}

ServerSupervisor::~ServerSupervisor() { Stop(); }

std::string ServerSupervisor::base_url() const {
  return absl::StrCat("http://", options_.args.host, ":", options_.args.port);
}

absl::Status ServerSupervisor::Launch() {
  ServerArgs args = options_.args;
  if (args.port == 0 || restarts_ > 0) {
    // A fresh port per launch: the old one may linger in TIME_WAIT or have
    // been taken by someone else meanwhile.
    COHORT_ASSIGN_OR_RETURN(args.port, PickFreePort());
  }
  COHORT_RETURN_IF_ERROR(ValidateServerArgs(args));
  options_.args.port = args.port;
  SubprocessOptions spawn;
  spawn.argv = BuildServerArgv(args);
  spawn.extra_env = BuildServerEnv(options_.gpu);
  spawn.stdout_path = options_.log_path;
  spawn.stderr_path = options_.log_path;
  spawn.kill_grace = options_.stop_grace;
  spdlog::info("starting {}: {}", BackendName(args.backend), absl::StrJoin(spawn.argv, " "));
  child_ = std::make_unique<Subprocess>();
  COHORT_RETURN_IF_ERROR(child_->Start(spawn));
  absl::Status ready =
      WaitForReady(base_url(), child_.get(), options_.log_path, options_.start_timeout);
  if (ready.ok()) {
    absl::StatusOr<ServerProps> props =
        args.backend == ServerBackend::kVllm
            ? ReadOpenAiProps(base_url(), {}, args.parallel, args.served_model_name)
            : ReadProps(base_url(), {});
    if (props.ok()) {
      props_ = *std::move(props);
      return absl::OkStatus();
    }
    ready = props.status();
  }
  child_->Terminate(options_.stop_grace);
  return ready;
}

absl::Status ServerSupervisor::EnsureRunning() {
  if (child_ != nullptr && !child_->PollExited()) return absl::OkStatus();
  std::string why = child_ != nullptr ? ExitText(*child_) : "not started";
  while (true) {
    if (restarts_ >= options_.max_restarts) {
      return absl::UnavailableError(absl::StrCat(
          BackendName(options_.args.backend), " died (", why, ") and ", restarts_,
          " restarts are spent; last log lines:\n", LogTail(options_.log_path, kLogTailLines)));
    }
    absl::Duration backoff = options_.restart_backoff * (1 << std::min(restarts_, 6));
    ++restarts_;
    spdlog::warn("{} died ({}); restart {} of {} in {}", BackendName(options_.args.backend),
                 why, restarts_, options_.max_restarts, absl::FormatDuration(backoff));
    absl::SleepFor(backoff);
    absl::Status launched = Launch();
    if (launched.ok()) return absl::OkStatus();
    why = std::string(launched.message());
  }
}

void ServerSupervisor::Stop() {
  if (child_ != nullptr && child_->running()) child_->Terminate(options_.stop_grace);
}

}  // namespace cohort::worker::llama
