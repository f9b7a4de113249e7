#include "worker/llama/fake_server.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/testing/temp_dir.h"
#include "worker/llama/http.h"
#include "worker/llama/server_args.h"
#include "worker/llama/supervisor.h"

namespace cohort::worker::llama::testing {

std::string FakeServerPath() {
  return cohort::testing::SourceDir() + "/tests/fakes/fake_llama_server";
}

absl::StatusOr<std::unique_ptr<FakeLlamaServer>> FakeLlamaServer::Start(
    std::vector<std::string> args, std::map<std::string, std::string> env, bool wait_ready) {
  std::unique_ptr<FakeLlamaServer> server(new FakeLlamaServer());
  COHORT_ASSIGN_OR_RETURN(int port, PickFreePort());
  SubprocessOptions options;
  options.argv = {FakeServerPath(), "--port", absl::StrCat(port)};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.extra_env = std::move(env);
  options.kill_grace = absl::Seconds(1);
  COHORT_RETURN_IF_ERROR(server->process_.Start(options));
  server->url_ = absl::StrCat("http://127.0.0.1:", port);
  if (wait_ready) {
    COHORT_RETURN_IF_ERROR(WaitForReady(server->url_, &server->process_, "", absl::Seconds(20)));
  }
  return server;
}

FakeLlamaServer::~FakeLlamaServer() {
  if (process_.running()) process_.Terminate(absl::Seconds(1));
}

absl::StatusOr<nlohmann::json> FakeLlamaServer::Stats() const {
  COHORT_ASSIGN_OR_RETURN(HttpResponse response,
                          HttpFetch(url_ + "/fake/stats", "", absl::Seconds(5)));
  nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_discarded()) return absl::InternalError("bad /fake/stats");
  return json;
}

}  // namespace cohort::worker::llama::testing
