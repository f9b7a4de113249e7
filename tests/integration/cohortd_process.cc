#include "tests/integration/cohortd_process.h"

#include <algorithm>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "grpcpp/generic/generic_stub.h"

namespace cohort::testing {

std::string BinDir() { return COHORT_BIN_DIR; }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

CohortdProcess::CohortdProcess(std::string state_dir,
                               std::vector<std::string> extra_flags)
    : state_dir_(std::move(state_dir)), extra_flags_(std::move(extra_flags)) {}

CohortdProcess::~CohortdProcess() { Kill9(); }

absl::Status CohortdProcess::Start() {
  std::string port_file = state_dir_ + "/port";
  std::filesystem::remove(port_file);
  SubprocessOptions options;
  // A restart keeps the port, so workers and clients find it again.
  std::string listen = "127.0.0.1:" + std::to_string(port_);
  options.argv = {BinDir() + "/cohortd", "--state-dir", state_dir_, "--port-file", port_file,
                  "--log-level", "warn"};
  // A test's own --listen (an address off loopback) replaces the default.
  if (std::find(extra_flags_.begin(), extra_flags_.end(), "--listen") == extra_flags_.end()) {
    options.argv.insert(options.argv.end(), {"--listen", listen});
  }
  // One user's test machine: clients may register any shared path, unless
  // the test sets the roots itself.
  if (std::find(extra_flags_.begin(), extra_flags_.end(), "--shared-root") ==
      extra_flags_.end()) {
    options.argv.insert(options.argv.end(), {"--shared-root", "/"});
  }
  options.argv.insert(options.argv.end(), extra_flags_.begin(), extra_flags_.end());
  options.stderr_path = state_dir_ + "/cohortd.log";
  if (absl::Status s = process_.Start(options); !s.ok()) return s;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFileToString(port_file);
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port_) &&
        HealthServing()) {
      return absl::OkStatus();
    }
    if (process_.PollExited()) {
      return absl::InternalError("cohortd exited during start; see " + state_dir_ +
                                 "/cohortd.log");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("cohortd did not start serving");
}

void CohortdProcess::Kill9() {
  if (!process_.running()) return;
  kill(process_.pid(), SIGKILL);
  process_.WaitFor(absl::Seconds(10));
}

void CohortdProcess::Stop() { process_.Terminate(absl::Seconds(15)); }

absl::StatusOr<std::string> CohortdProcess::CreateToken(
    const std::string& role, const std::vector<std::string>& extra_args) {
  SubprocessOptions options;
  options.argv = {BinDir() + "/cohortd", "--state-dir", state_dir_, "token",
                  "create", "--role", role};
  options.argv.insert(options.argv.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<SubprocessResult> result = RunSubprocess(options);
  if (!result.ok()) return result.status();
  if (!result->Succeeded()) return absl::InternalError(result->Describe());
  return std::string(absl::StripAsciiWhitespace(result->stdout_data));
}

std::shared_ptr<grpc::Channel> CohortdProcess::Channel() const {
  if (!tls_ca_.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileToString(tls_ca_).value_or("");
    if (!tls_cert_.empty()) {
      ssl.pem_cert_chain = ReadFileToString(tls_cert_).value_or("");
      ssl.pem_private_key = ReadFileToString(tls_key_).value_or("");
    }
    return grpc::CreateChannel(address(), grpc::SslCredentials(ssl));
  }
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> CohortdProcess::Context(
    const std::string& token, absl::Duration deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

bool CohortdProcess::HealthServing() const {
  // grpc.health.v1.Health/Check through the generic stub: the request is an
  // empty HealthCheckRequest (service ""), the reply's field 1 is the status
  // (1 = SERVING), so no health.proto is needed.
  grpc::GenericStub stub(Channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("", 0);
  request = grpc::ByteBuffer(&empty, 1);
  absl::Mutex mu;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   absl::MutexLock lock(&mu);
                   status = s;
                   done = true;
                 });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(&done));
  if (!status.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes.size() == 2 && bytes[0] == 0x08 && bytes[1] == 0x01;
}

}  // namespace cohort::testing
