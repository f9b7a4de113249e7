// cohortd --metrics-listen as a real process: a few worker and client RPCs,
// then GET /metrics over HTTP and check the series and their values.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/strings/str_split.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "cohort/v1/worker.grpc.pb.h"
#include "common/status_macros.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "curl/curl.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"

namespace cohort {
namespace {

using testing::CohortdProcess;
using testing::FreePort;
using testing::TempDir;

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// GET http://127.0.0.1:<port><path>; nullopt when it does not answer 200.
std::optional<std::string> HttpGet(int port, const std::string& path) {
  CURL* curl = curl_easy_init();
  std::string body;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK || code != 200) return std::nullopt;
  return body;
}

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// Parses the text exposition format (enough of it for prometheus-cpp's
// output: no escaped quotes in our label values).
std::vector<Sample> ParseMetrics(const std::string& text) {
  std::vector<Sample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    size_t space = line.rfind(' ');
    Sample s;
    std::string value(line.substr(space + 1));
    if (!absl::SimpleAtod(value, &s.value)) continue;
    absl::string_view series = line.substr(0, space);
    size_t brace = series.find('{');
    s.name = std::string(series.substr(0, brace));
    if (brace != absl::string_view::npos) {
      absl::string_view inner = series.substr(brace + 1, series.size() - brace - 2);
      for (absl::string_view pair : absl::StrSplit(inner, "\",", absl::SkipEmpty())) {
        size_t eq = pair.find("=\"");
        std::string v(pair.substr(eq + 2));
        if (!v.empty() && v.back() == '"') v.pop_back();
        s.labels[std::string(pair.substr(0, eq))] = v;
      }
    }
    samples.push_back(std::move(s));
  }
  return samples;
}

// The value of the one sample with exactly `name` and `labels`.
std::optional<double> Value(const std::vector<Sample>& samples,
                            const std::string& name, const Labels& labels = {}) {
  for (const Sample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

// dropmap -> prune: one READY step and one WAITING after submit.
v1::SubmitCampaignRequest TwoStepRequest() {
  v1::SubmitCampaignRequest request;
  v1::CampaignSpec* spec = request.mutable_spec();
  spec->set_name("metrics");
  v1::StepSpec* dm = spec->add_steps();
  dm->set_node_id("dm");
  dm->set_kind(v1::STEP_KIND_DROPMAP);
  dm->set_params_json(R"({"target": 98})");
  v1::StepSpecInput* contrib = dm->add_inputs();
  contrib->set_name("contrib");
  contrib->set_artifact_digest("sha256:" + std::string(64, 'b'));
  v1::StepSpec* pr = spec->add_steps();
  pr->set_node_id("pr");
  pr->set_kind(v1::STEP_KIND_PRUNE);
  v1::StepSpecInput* base = pr->add_inputs();
  base->set_name("checkpoint");
  base->set_artifact_digest("sha256:" + std::string(64, 'a'));
  v1::StepSpecInput* map = pr->add_inputs();
  map->set_name("drop_map");
  map->mutable_node_output()->set_node_id("dm");
  map->mutable_node_output()->set_output("drop_map");
  return request;
}

// cohortd serving /metrics on a free loopback port, written to *metrics_port.
absl::StatusOr<std::unique_ptr<CohortdProcess>> StartWithMetrics(const std::string& dir,
                                                                 int* metrics_port) {
  *metrics_port = FreePort();
  if (*metrics_port <= 0) return absl::UnavailableError("no free port for /metrics");
  auto cohortd = std::make_unique<CohortdProcess>(
      dir, std::vector<std::string>{"--metrics-listen",
                                    "127.0.0.1:" + std::to_string(*metrics_port)});
  COHORT_RETURN_IF_ERROR(cohortd->Start());
  return cohortd;
}

TEST(MetricsIntegrationTest, ServesCoordinatorStateAndRpcLatency) {
  TempDir dir;
  int metrics_port = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CohortdProcess> cohortd,
                       StartWithMetrics(dir.path(), &metrics_port));
  ASSERT_OK_AND_ASSIGN(std::string client_token, cohortd->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd->CreateToken("worker"));
  auto channel = cohortd->Channel();
  auto client = v1::Coordinator::NewStub(channel);
  auto gateway = v1::WorkerGateway::NewStub(channel);

  // Nothing yet: every state is present at zero.
  std::optional<std::string> empty = HttpGet(metrics_port, "/metrics");
  ASSERT_TRUE(empty.has_value());
  std::vector<Sample> before = ParseMetrics(*empty);
  EXPECT_EQ(Value(before, "cohort_steps", {{"state", "ready"}}), 0);
  EXPECT_EQ(Value(before, "cohort_workers_registered"), 0);

  v1::SubmitCampaignResponse submitted;
  ASSERT_TRUE(client
                  ->SubmitCampaign(CohortdProcess::Context(client_token).get(),
                                   TwoStepRequest(), &submitted)
                  .ok());
  for (const char* id : {"w1", "w2"}) {
    v1::RegisterRequest request;
    request.mutable_worker()->set_id(id);
    v1::RegisterResponse response;
    ASSERT_TRUE(gateway
                    ->Register(CohortdProcess::Context(worker_token).get(), request,
                               &response)
                    .ok());
  }
  v1::LeaseRequest lease_request;
  lease_request.set_worker_id("w1");
  lease_request.set_free_slots(1);
  lease_request.set_free_disk_bytes(1ull << 40);
  lease_request.set_wait_ms(2000);
  v1::LeaseResponse leased;
  ASSERT_TRUE(gateway
                  ->Lease(CohortdProcess::Context(worker_token).get(), lease_request,
                          &leased)
                  .ok());
  ASSERT_EQ(leased.leases_size(), 1);
  const v1::Lease& lease = leased.leases(0);
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_worker_id("w1");
  v1::LeaseStatus* held = heartbeat.add_leases();
  held->set_lease_id(lease.lease_id());
  held->set_epoch(lease.epoch());
  v1::HeartbeatResponse renewed;
  ASSERT_TRUE(gateway
                  ->Heartbeat(CohortdProcess::Context(worker_token).get(), heartbeat,
                              &renewed)
                  .ok());
  // Three new rows, then one of them again.
  {
    auto context = CohortdProcess::Context(worker_token);
    auto stream = gateway->ReportResults(context.get());
    for (int batch_id : {1, 2}) {
      v1::ReportResultsRequest batch;
      batch.set_lease_id(lease.lease_id());
      batch.set_epoch(lease.epoch());
      batch.set_batch_id(batch_id);
      // Batch 1: rows 0..2; batch 2: row 2 again.
      for (int i = batch_id == 1 ? 0 : 2; i < 3; ++i) {
        v1::ProblemResult* r = batch.add_results();
        r->set_problem_id("gsm8k/" + std::to_string(i));
        r->set_verdict(v1::VERDICT_PASS);
      }
      ASSERT_TRUE(stream->Write(batch));
      v1::ReportResultsResponse ack;
      ASSERT_TRUE(stream->Read(&ack));
    }
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  // A call with a bad token is timed too, under its status code.
  v1::ListWorkersResponse workers;
  grpc::Status refused = client->ListWorkers(
      CohortdProcess::Context("cht_client_bogus").get(), v1::ListWorkersRequest(),
      &workers);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  std::optional<std::string> text = HttpGet(metrics_port, "/metrics");
  ASSERT_TRUE(text.has_value());
  std::vector<Sample> after = ParseMetrics(*text);
  EXPECT_EQ(Value(after, "cohort_steps", {{"state", "leased"}}), 1) << *text;
  EXPECT_EQ(Value(after, "cohort_steps", {{"state", "waiting"}}), 1);
  EXPECT_EQ(Value(after, "cohort_steps", {{"state", "ready"}}), 0);
  EXPECT_EQ(Value(after, "cohort_steps", {{"state", "succeeded"}}), 0);
  EXPECT_EQ(Value(after, "cohort_ready_queue_depth"), 0);
  EXPECT_EQ(Value(after, "cohort_workers_registered"), 2);
  EXPECT_EQ(Value(after, "cohort_workers_active"), 2);
  EXPECT_EQ(Value(after, "cohort_lease_polls_waiting"), 0);
  EXPECT_EQ(Value(after, "cohort_leases_granted_total"), 1);
  EXPECT_EQ(Value(after, "cohort_lease_expiries_total"), 0);
  EXPECT_EQ(Value(after, "cohort_results_inserted_total"), 3);
  EXPECT_EQ(Value(after, "cohort_results_duplicate_total"), 1);
  const std::string kGateway = "/cohort.v1.WorkerGateway/";
  EXPECT_EQ(Value(after, "cohort_rpc_duration_seconds_count",
                  {{"method", kGateway + "Register"}, {"code", "OK"}}),
            2);
  EXPECT_EQ(Value(after, "cohort_rpc_duration_seconds_count",
                  {{"method", kGateway + "Lease"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(Value(after, "cohort_rpc_duration_seconds_count",
                  {{"method", kGateway + "ReportResults"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(Value(after, "cohort_rpc_duration_seconds_count",
                  {{"method", "/cohort.v1.Coordinator/SubmitCampaign"}, {"code", "OK"}}),
            1);
  // Refused from its headers: counted, never timed by a handler.
  EXPECT_EQ(Value(after, "cohort_rpc_refused_unread_total",
                  {{"method", "/cohort.v1.Coordinator/ListWorkers"},
                   {"code", "UNAUTHENTICATED"}}),
            1);
  // Buckets are cumulative: the +Inf bucket holds every call, and a
  // successful Register took well under the 30 s top bound but more than 0.
  EXPECT_EQ(Value(after, "cohort_rpc_duration_seconds_bucket",
                  {{"method", kGateway + "Register"}, {"code", "OK"}, {"le", "+Inf"}}),
            2);
  std::optional<double> sum = Value(after, "cohort_rpc_duration_seconds_sum",
                                     {{"method", kGateway + "Register"}, {"code", "OK"}});
  ASSERT_TRUE(sum.has_value());
  EXPECT_GT(*sum, 0);
  EXPECT_LT(*sum, 30);

  // A parked poll shows up while it waits.
  lease_request.set_worker_id("w2");
  lease_request.set_wait_ms(3000);
  grpc::ClientContext poll_context;
  poll_context.AddMetadata("authorization", "Bearer " + worker_token);
  poll_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::LeaseResponse nothing;
  std::optional<grpc::Status> poll_status;
  absl::Mutex mu;
  gateway->async()->Lease(&poll_context, &lease_request, &nothing,
                          [&](grpc::Status s) {
                            absl::MutexLock lock(&mu);
                            poll_status = s;
                          });
  std::optional<double> waiting;
  for (int i = 0; i < 100 && waiting.value_or(0) < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    std::optional<std::string> polled = HttpGet(metrics_port, "/metrics");
    if (polled.has_value()) waiting = Value(ParseMetrics(*polled), "cohort_lease_polls_waiting");
  }
  EXPECT_EQ(waiting, 1);
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](std::optional<grpc::Status>* s) { return s->has_value(); }, &poll_status));
  EXPECT_TRUE(poll_status->ok());
}

// A client that sends half a request (and then nothing) held the one
// listener thread, and every scrape waited behind it. Scrapes are served
// beside three such clients.
TEST(MetricsIntegrationTest, HalfSentRequestsDoNotBlockScrapes) {
  TempDir dir;
  int metrics_port = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CohortdProcess> cohortd,
                       StartWithMetrics(dir.path(), &metrics_port));
  std::vector<int> stalled;
  for (int i = 0; i < 3; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(metrics_port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const char half[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // no blank line: unfinished
    ASSERT_GT(::send(fd, half, sizeof(half) - 1, 0), 0);
    stalled.push_back(fd);
  }
  std::optional<std::string> scrape = HttpGet(metrics_port, "/metrics");
  EXPECT_TRUE(scrape.has_value()) << "a scrape waited behind half-sent requests";
  if (scrape.has_value()) {
    EXPECT_NE(scrape->find("cohort_steps"), std::string::npos);
  }
  for (int fd : stalled) ::close(fd);
}

// A call whose token is unknown, or of a role that may not call the method,
// is refused from its headers: its request (here 24 MiB) is never read or
// parsed and no handler runs. Before, the handler refused it after gRPC had
// parsed the whole request (an rpc_duration sample with the refusal's code).
//
// The same on a plaintext listener off loopback (--insecure-plaintext),
// where gRPC runs no header check: cohortd serves it through its relay to a
// loopback port that has one (server/service/plaintext_relay.h). Before,
// such a listener parsed every request before its token was looked at.
class RefusedUnreadTest : public ::testing::TestWithParam<bool> {};

TEST_P(RefusedUnreadTest, CallsWithoutAValidTokenAreRefusedBeforeTheirRequestIsRead) {
  TempDir dir;
  int metrics_port = FreePort();
  ASSERT_GT(metrics_port, 0);
  std::vector<std::string> flags = {"--metrics-listen",
                                    "127.0.0.1:" + std::to_string(metrics_port)};
  if (GetParam()) flags.insert(flags.end(), {"--listen", "0.0.0.0:0", "--insecure-plaintext"});
  auto cohortd = std::make_unique<CohortdProcess>(dir.path(), flags);
  ASSERT_OK(cohortd->Start());
  ASSERT_OK_AND_ASSIGN(std::string client_token, cohortd->CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd->CreateToken("worker"));
  auto client = v1::Coordinator::NewStub(cohortd->Channel());
  v1::SubmitCampaignRequest big = TwoStepRequest();
  big.mutable_spec()->set_spec_json(std::string(24 << 20, ' '));
  v1::SubmitCampaignResponse response;
  grpc::Status unknown =
      client->SubmitCampaign(CohortdProcess::Context("not-a-token").get(), big, &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED) << unknown.error_message();
  grpc::Status role =
      client->SubmitCampaign(CohortdProcess::Context(worker_token).get(), big, &response);
  EXPECT_EQ(role.error_code(), grpc::StatusCode::PERMISSION_DENIED) << role.error_message();
  // A valid token passes the same door, and health needs none.
  grpc::Status ok = client->SubmitCampaign(CohortdProcess::Context(client_token).get(),
                                           TwoStepRequest(), &response);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(cohortd->HealthServing());

  std::optional<std::string> text = HttpGet(metrics_port, "/metrics");
  ASSERT_TRUE(text.has_value());
  std::vector<Sample> samples = ParseMetrics(*text);
  const std::string submit = "/cohort.v1.Coordinator/SubmitCampaign";
  EXPECT_EQ(Value(samples, "cohort_rpc_refused_unread_total",
                  {{"method", submit}, {"code", "UNAUTHENTICATED"}}),
            1);
  EXPECT_EQ(Value(samples, "cohort_rpc_refused_unread_total",
                  {{"method", submit}, {"code", "PERMISSION_DENIED"}}),
            1);
  // No handler saw them: the only SubmitCampaign it timed is the good one.
  EXPECT_EQ(Value(samples, "cohort_rpc_duration_seconds_count",
                  {{"method", submit}, {"code", "UNAUTHENTICATED"}}),
            std::nullopt);
  EXPECT_EQ(Value(samples, "cohort_rpc_duration_seconds_count",
                  {{"method", submit}, {"code", "PERMISSION_DENIED"}}),
            std::nullopt);
  EXPECT_EQ(Value(samples, "cohort_rpc_duration_seconds_count",
                  {{"method", submit}, {"code", "OK"}}),
            1);
}

INSTANTIATE_TEST_SUITE_P(Listeners, RefusedUnreadTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "PlaintextOffLoopback" : "Loopback";
                         });

TEST(MetricsIntegrationTest, RefusesABadAddress) {
  TempDir dir;
  CohortdProcess cohortd(dir.path(), {"--metrics-listen", "no-port-here"});
  EXPECT_FALSE(cohortd.Start().ok());
}

}  // namespace
}  // namespace cohort
