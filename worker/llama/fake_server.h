// File: fake_server.h
//
// Test helper: runs tests/fakes/fake_llama_server (Python) as a child on a
// free loopback port and waits until it answers /health. Not thread-safe.
#ifndef COHORT_WORKER_LLAMA_FAKE_SERVER_H_
#define COHORT_WORKER_LLAMA_FAKE_SERVER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::llama::testing {

// The fake's path in the source tree.
std::string FakeServerPath();
// tests/fakes/vllm: `vllm serve` over the fake in vLLM's shapes.
std::string FakeVllmPath();

// A small valid GGUF (one F32 tensor, llama architecture) to pass as -m: the
// fake, like llama-server, exits 1 on a missing, corrupt or truncated model.
// Written once per process into a temporary folder removed at exit.
std::string FakeModelPath();

class FakeLlamaServer {
 public:
  // Starts the fake with `args` (llama-server flags and fake knobs; --port
  // is added) and `env`. When `wait_ready` is set, waits for /health 200.
  static absl::StatusOr<std::unique_ptr<FakeLlamaServer>> Start(
      std::vector<std::string> args, std::map<std::string, std::string> env = {},
      bool wait_ready = true);
  ~FakeLlamaServer();

  const std::string& url() const { return url_; }
  Subprocess& process() { return process_; }
  // GET /fake/stats: requests, served, status_counts, max_processing, ...
  absl::StatusOr<nlohmann::json> Stats() const;

 private:
  FakeLlamaServer() = default;
  Subprocess process_;
  std::string url_;
};

}  // namespace cohort::worker::llama::testing

#endif  // COHORT_WORKER_LLAMA_FAKE_SERVER_H_
