// File: cohortd_process.h
//
// Runs the real cohortd binary on a free loopback port for integration
// tests: start, kill -9, restart on the same state folder, create tokens
// with `cohortd token create`, and make authenticated stubs.
#ifndef COHORT_TESTS_INTEGRATION_COHORTD_PROCESS_H_
#define COHORT_TESTS_INTEGRATION_COHORTD_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"

namespace cohort::testing {

// The folder holding cohortd, cohort-worker and cohort (set by CMake).
std::string BinDir();

// A loopback port that was free a moment ago (0 if none could be bound).
int FreePort();

class CohortdProcess {
 public:
  explicit CohortdProcess(std::string state_dir,
                          std::vector<std::string> extra_flags = {});
  ~CohortdProcess();

  // Starts cohortd and waits until it serves (health SERVING). The first
  // start picks a free port; later starts reuse it.
  absl::Status Start();
  void Kill9();
  void Stop();  // SIGTERM and wait
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // `cohortd token create --role ROLE` plus `extra_args` (e.g. {"--ttl", "2s"}).
  absl::StatusOr<std::string> CreateToken(const std::string& role,
                                          const std::vector<std::string>& extra_args = {});
  std::shared_ptr<grpc::Channel> Channel() const;
  // Connect over TLS, verifying cohortd with this CA (PEM file).
  void set_tls_ca(const std::string& ca_file) { tls_ca_ = ca_file; }
  // Present this client certificate (PEM files), for a cohortd started with
  // --tls-client-ca.
  void set_tls_client_cert(const std::string& cert_file, const std::string& key_file) {
    tls_cert_ = cert_file;
    tls_key_ = key_file;
  }
  // A context carrying `token` and a deadline.
  static std::unique_ptr<grpc::ClientContext> Context(
      const std::string& token, absl::Duration deadline = absl::Seconds(10));
  // grpc.health.v1 Check without a token: true when SERVING.
  bool HealthServing() const;

 private:
  std::string state_dir_;
  std::vector<std::string> extra_flags_;
  Subprocess process_;
  int port_ = 0;
  std::string tls_ca_;
  std::string tls_cert_, tls_key_;
};

}  // namespace cohort::testing

#endif  // COHORT_TESTS_INTEGRATION_COHORTD_PROCESS_H_
