// File: worker_process.h
//
// Runs the real cohort-worker agent (`cohort-worker run`) against a test
// cohortd, with the llama.cpp fakes as its tools.
#ifndef COHORT_TESTS_INTEGRATION_WORKER_PROCESS_H_
#define COHORT_TESTS_INTEGRATION_WORKER_PROCESS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/subprocess.h"

namespace cohort::testing {

// A sweep's inputs in `dir`, as the demo makes them: `model` (a synthetic
// 16-expert qwen3moe checkpoint) and `contrib.json` (4 layers, 16 experts).
absl::Status MakeSweepInputs(const std::string& dir);

struct WorkerSpec {
  std::string id;
  std::string state_dir;
  std::string coordinator;     // host:port
  std::string token_file;
  std::vector<std::string> labels;
  uint32_t slots = 2;
  uint32_t gpus = 0;
  std::map<std::string, std::string> env;  // e.g. COHORT_FAKE_FAIL
  std::vector<std::string> extra_flags;     // e.g. --tls-ca FILE
};

class WorkerProcess {
 public:
  explicit WorkerProcess(WorkerSpec spec) : spec_(std::move(spec)) {}
  ~WorkerProcess() { Kill9(); }
  absl::Status Start();
  void Kill9();
  void Terminate();  // SIGTERM: drain
  // True once the worker has exited on its own (within `timeout`); then
  // exit_code() is its status.
  bool WaitForExit(absl::Duration timeout) { return process_.WaitFor(timeout); }
  int exit_code() const { return process_.exit_code(); }
  const WorkerSpec& spec() const { return spec_; }
  std::string LogPath() const { return spec_.state_dir + ".log"; }

 private:
  WorkerSpec spec_;
  Subprocess process_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_INTEGRATION_WORKER_PROCESS_H_
