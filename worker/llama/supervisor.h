// File: supervisor.h
//
// Owns one llama-server (or vLLM) child: starts it in its own process group
// with the protocol's flags on a free loopback port (CUDA_VISIBLE_DEVICES
// pinned to its GPU, output appended to a log file), waits until /health
// turns 200, reads /props (vLLM: /v1/models and /version), restarts it with
// backoff when it dies, and stops it with SIGTERM, a grace period, then
// SIGKILL.
//
//   SupervisorOptions options;
//   options.args = args;            // server_args.h; port 0 = pick one
//   options.gpu = 0;
//   options.log_path = "step.llama-server.log";
//   COHORT_ASSIGN_OR_RETURN(std::unique_ptr<ServerSupervisor> server,
//                           ServerSupervisor::Start(options));
//   ... driver.base_url = [&] { return server->base_url(); };
//   ... driver.maintain = [&] { return server->EnsureRunning(); };
//   server->Stop();
//
// WaitForReady, ReadProps and ReadOpenAiProps also serve an external server
// (--server-url).
#ifndef COHORT_WORKER_LLAMA_SUPERVISOR_H_
#define COHORT_WORKER_LLAMA_SUPERVISOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "worker/llama/api.h"
#include "worker/llama/server_args.h"

namespace cohort::worker::llama {

// Polls GET {base_url}/health until 200. Connection refused and 503
// ("Loading model") mean "still starting". Returns kFailedPrecondition with
// the tail of `log_path` if `child` (may be null) exits first, and
// kDeadlineExceeded after `timeout`.
absl::Status WaitForReady(const std::string& base_url, Subprocess* child,
                          const std::string& log_path, absl::Duration timeout);

// GET {base_url}/props. `headers` go with every request here and below
// ("Authorization: Bearer KEY" for a server started with --api-key: only
// /health and /models are open without it).
absl::StatusOr<ServerProps> ReadProps(const std::string& base_url,
                                      const std::vector<std::string>& headers);

// What an OpenAI-compatible server without /props says of itself: the model
// it serves (GET /v1/models; vLLM adds max_model_len, the context of one
// request) and, for vLLM, GET /version ("vllm 0.11.1"; else
// "openai-compatible"). Its slots are `concurrency`, the requests the caller
// keeps in flight; requests name `model`, else the first listed.
absl::StatusOr<ServerProps> ReadOpenAiProps(const std::string& base_url,
                                            const std::vector<std::string>& headers,
                                            int concurrency, const std::string& model);

// Prompt tokens of the longest of `prompts` (by bytes, the top few measured
// with /apply-template + /tokenize, since only the server knows its chat
// template and tokenizer). Falls back to bytes / 2 when the server lacks
// those endpoints.
absl::StatusOr<int64_t> LongestPromptTokens(const std::string& base_url,
                                            const std::vector<ChatRequest>& prompts,
                                            const std::vector<std::string>& headers);

// kFailedPrecondition unless longest_prompt_tokens + generation_tokens fits
// one slot (props.n_ctx, per slot); the message gives both sides and the -c
// that would fit.
absl::Status CheckSlotFits(const ServerProps& props, int64_t longest_prompt_tokens,
                           int64_t generation_tokens);

struct SupervisorOptions {
  ServerArgs args;   // port 0: a free one is picked
  int gpu = -1;      // CUDA_VISIBLE_DEVICES; -1 leaves the environment alone
  std::string log_path;  // stdout+stderr, appended; required
  absl::Duration start_timeout = absl::Seconds(720);
  absl::Duration stop_grace = absl::Seconds(10);
  int max_restarts = 5;  // over the supervisor's life
  absl::Duration restart_backoff = absl::Seconds(2);  // doubled per restart
};

// Not thread-safe; owned by the thread that runs the driver loop.
class ServerSupervisor {
 public:
  // Starts the server and waits until it is ready (see WaitForReady).
  static absl::StatusOr<std::unique_ptr<ServerSupervisor>> Start(SupervisorOptions options);
  ~ServerSupervisor();  // Stop()
  ServerSupervisor(const ServerSupervisor&) = delete;
  ServerSupervisor& operator=(const ServerSupervisor&) = delete;

  std::string base_url() const;
  const ServerProps& props() const { return props_; }
  int restarts() const { return restarts_; }
  pid_t pid() const { return child_ ? child_->pid() : -1; }

  // OK while the server runs. If it has exited, starts it again after a
  // backoff and waits until ready; kUnavailable (with the log tail) once
  // max_restarts is spent or a restart fails.
  absl::Status EnsureRunning();

  // Stops the server (idempotent).
  void Stop();

 private:
  explicit ServerSupervisor(SupervisorOptions options) : options_(std::move(options)) {}
  absl::Status Launch();

  SupervisorOptions options_;
  std::unique_ptr<Subprocess> child_;
  ServerProps props_;
  int restarts_ = 0;
};

// The last `lines` lines of a log file ("" if unreadable).
std::string LogTail(const std::string& path, int lines);

}  // namespace cohort::worker::llama

#endif  // COHORT_WORKER_LLAMA_SUPERVISOR_H_
