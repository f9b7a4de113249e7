#include "worker/llama/fake_server.h"

#include <cstdint>
#include <fstream>

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

std::string FakeVllmPath() { return cohort::testing::SourceDir() + "/tests/fakes/vllm"; }

namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutString(std::string* out, const std::string& s) {
  PutU64(out, s.size());
  out->append(s);
}

}  // namespace

std::string FakeModelPath() {
  static cohort::testing::TempDir* dir = new cohort::testing::TempDir();
  static const std::string path = [] {
    // GGUF v3: header, one string KV, one 4x4 F32 tensor, aligned data.
    std::string bytes = "GGUF";
    PutU32(&bytes, 3);
    PutU64(&bytes, 1);  // tensors
    PutU64(&bytes, 1);  // key-value pairs
    PutString(&bytes, "general.architecture");
    PutU32(&bytes, 8);  // string
    PutString(&bytes, "llama");
    PutString(&bytes, "token_embd.weight");
    PutU32(&bytes, 2);
    PutU64(&bytes, 4);
    PutU64(&bytes, 4);
    PutU32(&bytes, 0);  // F32
    PutU64(&bytes, 0);
    bytes.resize((bytes.size() + 31) / 32 * 32, '\0');
    bytes.append(4 * 4 * 4, '\0');
    std::string file = dir->Join("fake-model.gguf");
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }();
  return path;
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
