// cohortd's web dashboard over real HTTP, with real processes: cohortd
// (--dashboard-listen), one cohort-worker agent (llama.cpp and llama-server
// faked), the cohort CLI. One small sweep (two quantize types of a pruned
// model; gsm8k and ARC-Challenge, 4 problems each) runs in two phases: its
// quantize steps fail first (the failures page shows their log tail), then
// `cohort retry` and a healthy worker finish it while an event stream
// follows. The pages' numbers are then checked against what the CLI prints
// for the same campaign (report, lengths, compare, --plots: the same bytes)
// and against cohortd's gRPC API; then auth, hostile requests, HTTPS and
// shutdown with a stream open.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"

namespace cohort {
namespace {

using nlohmann::json;
using testing::CohortdProcess;
using testing::WorkerProcess;
using testing::WorkerSpec;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Bin(const std::string& name) { return testing::BinDir() + "/" + name; }

constexpr char kSweep[] = R"(kind: sweep
name: dashboard
max_attempts: 1
base_model: model
contrib: contrib.json
recipe:
  dropmap: {target: 12, protect_top: 2}
grid:
  quantize.type: {q8: Q8_0, q6: Q6_K}
eval:
  profile: omk-card-2026-07
  server: {parallel: 2}
  suites:
    - {bench: gsm8k, dataset: gsm8k, limit: 4}
    - {bench: arc_challenge, dataset: arc_challenge, limit: 4}
)";

struct HttpReply {
  long status = 0;
  std::string body;
  std::string headers;
  std::string error;  // curl's, when no reply came
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct HttpOptions {
  std::vector<std::string> headers;
  std::string post;      // a POST body when set
  bool is_post = false;
  std::string ca_file;   // HTTPS: verify with this CA
  absl::Duration timeout = absl::Seconds(20);
};

HttpReply Http(const std::string& url, const HttpOptions& o = {}) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  for (const std::string& h : o.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(o.timeout)));
  if (o.is_post) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, o.post.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(o.post.size()));
  }
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  } else {
    reply.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return reply;
}

// An event stream read on its own thread until stopped: the SSE frames as
// they came.
class EventStreamReader {
 public:
  EventStreamReader(std::string url, std::string token) {
    thread_ = std::thread([this, url = std::move(url), token = std::move(token)] {
      CURL* curl = curl_easy_init();
      curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &EventStreamReader::Write);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
      CURLcode rc = curl_easy_perform(curl);
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
      absl::MutexLock lock(&mu_);
      ended_ = true;
      end_ = curl_easy_strerror(rc);
    });
  }
  ~EventStreamReader() { Stop(); }
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  std::string Text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }
  bool WaitFor(const std::string& needle, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto seen = [&] { return absl::StrContains(text_, needle) || ended_; };
    mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
    return absl::StrContains(text_, needle);
  }
  bool Ended(std::string* why) {
    absl::MutexLock lock(&mu_);
    *why = end_;
    return ended_;
  }

 private:
  static size_t Write(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<EventStreamReader*>(self_ptr);
    absl::MutexLock lock(&self->mu_);
    if (self->stop_) return 0;  // aborts the transfer
    self->text_.append(data, size * n);
    return size * n;
  }

  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::string end_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The JSON objects of an SSE text's data lines.
std::vector<json> Events(const std::string& text) {
  std::vector<json> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "data: ")) out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

// Sends raw bytes to 127.0.0.1:port and returns what came back before the
// server closed the connection (or 5 s passed).
std::string RawExchange(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "(connect failed)";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) reply.append(buffer, static_cast<size_t>(n));
  close(fd);
  return reply;
}

struct Shared {
  testing::TempDir dir;
  std::unique_ptr<CohortdProcess> cohortd;
  int dashboard_port = 0;
  std::string client_token, worker_token;
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  std::string campaign;
  json failed_page;             // the campaign page while its quantize steps had failed
  std::string stream_text;      // the event stream that followed the rest of the run
  std::string stream_end;
};

Shared* shared = nullptr;

std::string Url(const std::string& path) {
  return absl::StrCat("http://127.0.0.1:", shared->dashboard_port, path);
}

HttpReply Get(const std::string& path, const std::string& token) {
  HttpOptions o;
  if (!token.empty()) o.headers.push_back("Authorization: Bearer " + token);
  return Http(Url(path), o);
}

json GetJson(const std::string& path) {
  HttpReply r = Get(path, shared->client_token);
  EXPECT_EQ(r.status, 200) << path << ": " << r.body << r.error;
  return json::parse(r.body, nullptr, false);
}

SubprocessResult Cohort(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {Bin("cohort")};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.working_dir = shared->dir.path();
  options.extra_env = {{"COHORT_COORDINATOR", shared->cohortd->address()},
                       {"COHORT_TOKEN", shared->client_token},
                       {"COHORT_DATASETS", testing::DatasetsDir()},
                       {"HOME", shared->dir.path()}};
  options.timeout = absl::Minutes(2);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : SubprocessResult{};
}

json CohortJson(std::vector<std::string> args) {
  SubprocessResult r = Cohort(std::move(args));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  return json::parse(r.stdout_data, nullptr, false);
}

std::string CampaignState() {
  json page = GetJson("/api/campaigns/" + shared->campaign);
  return page.is_object() ? page.value("state", "") : "";
}

bool WaitWhileRunning(absl::Duration limit) {
  absl::Time deadline = absl::Now() + limit;
  while (CampaignState() == "running" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  return CampaignState() != "running";
}

absl::Status StartWorker(const std::string& id, std::map<std::string, std::string> env = {}) {
  WorkerSpec spec;
  spec.id = id;
  spec.state_dir = shared->dir.Join(id);
  spec.coordinator = shared->cohortd->address();
  spec.token_file = shared->dir.Join("worker.token");
  spec.gpus = 1;
  spec.slots = 2;
  spec.env = std::move(env);
  shared->workers.push_back(std::make_unique<WorkerProcess>(spec));
  return shared->workers.back()->Start();
}

class DashboardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    shared = new Shared;
    RunCampaign();
  }
  static void TearDownTestSuite() {
    delete shared;
    shared = nullptr;
  }
  void SetUp() override {
    ASSERT_FALSE(shared->campaign.empty()) << "the shared campaign did not start";
  }

  static void RunCampaign() {
    Shared& s = *shared;
    ASSERT_OK(testing::MakeSweepInputs(s.dir.path()));
    ASSERT_OK(WriteFileAtomically(s.dir.Join("sweep.yaml"), kSweep));
    fs::create_directories(s.dir.Join("cohortd"));
    s.cohortd = std::make_unique<CohortdProcess>(
        s.dir.Join("cohortd"),
        std::vector<std::string>{"--dashboard-listen", "127.0.0.1:0", "--dashboard-port-file",
                                 s.dir.Join("dashboard.port")});
    ASSERT_OK(s.cohortd->Start());
    ASSERT_OK_AND_ASSIGN(std::string port_text, ReadFileToString(s.dir.Join("dashboard.port")));
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(port_text), &s.dashboard_port));
    ASSERT_OK_AND_ASSIGN(s.client_token, s.cohortd->CreateToken("client", {"--name", "alice"}));
    ASSERT_OK_AND_ASSIGN(s.worker_token, s.cohortd->CreateToken("worker"));
    ASSERT_OK(WriteFileAtomically(s.dir.Join("worker.token"), s.worker_token));

    // Phase 1: llama-quantize fails on this worker; the campaign fails.
    ASSERT_OK(StartWorker("w1", {{"COHORT_FAKE_FAIL", "exit1"},
                                 {"COHORT_FAKE_FAIL_ONLY", "llama-quantize"}}));
    SubprocessResult submit = Cohort({"submit", "sweep.yaml"});
    ASSERT_EQ(submit.exit_code, 0) << submit.stderr_data;
    s.campaign = std::string(absl::StripAsciiWhitespace(submit.stdout_data));
    ASSERT_TRUE(WaitWhileRunning(absl::Seconds(120)));
    s.failed_page = GetJson("/api/campaigns/" + s.campaign);
    s.workers[0]->Terminate();

    // Phase 2: a stream follows the campaign from now on; retry, and the
    // healthy worker finishes it.
    EventStreamReader stream(Url("/api/events?campaign=" + s.campaign), s.client_token);
    ASSERT_TRUE(stream.WaitFor("retry: 3000", absl::Seconds(10))) << stream.Text();
    for (const json& f : s.failed_page["failures"]) {
      SubprocessResult r = Cohort({"retry", f["key"].get<std::string>()});
      ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
    }
    // The simulated model answers some problems right (tests/fakes/README.md).
    ASSERT_OK(StartWorker("w1", {{"FAKE_LLAMA_SIMULATE", s.dir.Join("contrib.json")}}));
    ASSERT_TRUE(WaitWhileRunning(absl::Seconds(150)));
    stream.WaitFor("\"type\":\"campaign_finished\"", absl::Seconds(10));
    stream.Stop();
    s.stream_text = stream.Text();
  }
};

TEST_F(DashboardTest, TheFailuresPageShowsTheFailedStepsWithTheirToolOutput) {
  const json& page = shared->failed_page;
  ASSERT_TRUE(page.is_object());
  SCOPED_TRACE(page.dump(1));
  EXPECT_EQ(page["state"], "failed");
  EXPECT_EQ(page["failure_total"], 2);  // both quantize steps
  for (const json& f : page["failures"]) {
    EXPECT_EQ(f["kind"], "quantize");
    EXPECT_EQ(f["state"], "failed");
    EXPECT_EQ(f["worker"], "w1");
    EXPECT_THAT(f["error"].get<std::string>(), HasSubstr("failed to quantize"));
    EXPECT_THAT(f["log_tail"].get<std::string>(), HasSubstr("failed to quantize"));
  }
  // The grid: each variant's row, its quantize failed and what follows
  // blocked; the shared upstream steps are the first variant's.
  ASSERT_EQ(page["grid"].size(), 2u);
  const json& q8 = page["grid"][0];
  const json& q6 = page["grid"][1];
  EXPECT_EQ(q8["model"], "q8");
  EXPECT_EQ(q6["model"], "q6");
  for (const json& row : {q8, q6}) {
    EXPECT_EQ(row["stages"].value("quantize", json::object()).value("failed", 0), 1) << row;
    EXPECT_EQ(row["stages"].value("generate", json::object()).value("blocked", 0), 2) << row;
    EXPECT_EQ(row["stages"].value("score", json::object()).value("blocked", 0), 2) << row;
  }
  EXPECT_EQ(q8["stages"].value("prune", json::object()).value("succeeded", 0), 1);
  EXPECT_FALSE(q6["stages"].contains("prune"));
}

TEST_F(DashboardTest, TheCampaignsPageCountsEveryStepOfTheFinishedCampaign) {
  json list = GetJson("/api/campaigns");
  ASSERT_EQ(list["campaigns"].size(), 1u);
  const json& c = list["campaigns"][0];
  EXPECT_EQ(c["id"], shared->campaign);
  EXPECT_EQ(c["state"], "succeeded");
  EXPECT_EQ(c["owner"], "alice");
  v1::GetCampaignRequest request;
  request.set_campaign_id(shared->campaign);
  request.set_include_steps(true);
  v1::Campaign grpc_campaign;
  auto stub = v1::Coordinator::NewStub(shared->cohortd->Channel());
  ASSERT_TRUE(stub->GetCampaign(CohortdProcess::Context(shared->client_token).get(), request,
                                &grpc_campaign).ok());
  EXPECT_EQ(c["total"], grpc_campaign.steps_size());
  EXPECT_EQ(c["done"], grpc_campaign.steps_size());
  EXPECT_EQ(c["steps"]["succeeded"], grpc_campaign.steps_size());
  EXPECT_TRUE(c["eta_seconds"].is_null());
  json page = GetJson("/api/campaigns/" + shared->campaign);
  EXPECT_EQ(page["failure_total"], 0);
  EXPECT_EQ(page["running_total"], 0);
  EXPECT_EQ(page["models"], json({"q8", "q6"}));
  EXPECT_EQ(page["suites"], json({"gsm8k-4", "arc_challenge-4"}));
}

TEST_F(DashboardTest, TheEventStreamFollowedTheRetriedStepsToTheEnd) {
  std::vector<json> events = Events(shared->stream_text);
  ASSERT_FALSE(events.empty()) << shared->stream_text;
  std::set<std::string> succeeded;
  uint64_t last = 0;
  for (const json& e : events) {
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e["campaign"], shared->campaign);
    EXPECT_GT(e["cursor"].get<uint64_t>(), last);  // in order, none twice
    last = e["cursor"];
    if (e["type"] == "step_state" && e["state"] == "succeeded") succeeded.insert(e["step"]);
  }
  // The two quantize steps, then 2 x 2 generate and 2 x 2 score steps.
  EXPECT_EQ(succeeded.size(), 10u) << shared->stream_text;
  EXPECT_THAT(shared->stream_text, HasSubstr("\"type\":\"campaign_finished\""));
  // A reconnect with Last-Event-ID resumes after it, as browsers do.
  HttpOptions o;
  o.headers = {"Authorization: Bearer " + shared->client_token,
               absl::StrCat("Last-Event-ID: ", last - 1)};
  o.timeout = absl::Seconds(2);  // the stream stays open: read what came
  HttpReply resumed = Http(Url("/api/events?campaign=" + shared->campaign), o);
  std::vector<json> again = Events(resumed.body);
  ASSERT_EQ(again.size(), 1u) << resumed.body;
  EXPECT_EQ(again[0]["cursor"], last);
}

TEST_F(DashboardTest, TheScoreboardLengthsAndCompareAreTheCliOwn) {
  const std::string& id = shared->campaign;
  json board_json = GetJson("/api/campaigns/" + id + "/scoreboard");
  EXPECT_EQ(board_json, CohortJson({"report", id, "--format", "json"}));
  int passed = 0, n = 0;  // the simulated model passes some, not all
  for (const json& suite : board_json["suites"]) {
    for (const auto& [model, cell] : suite["cells"].items()) {
      passed += cell["passed"].get<int>();
      n += cell["n"].get<int>();
    }
  }
  EXPECT_GT(passed, 0);
  EXPECT_LT(passed, n);
  EXPECT_EQ(GetJson("/api/campaigns/" + id + "/scoreboard?ref=q8"),
            CohortJson({"report", id, "--format", "json", "--ref", "q8"}));
  json lengths = CohortJson({"lengths", id, "--format", "json"});
  for (const std::string suite : {"gsm8k-4", "arc_challenge-4"}) {
    json expected = json::array();
    for (const json& row : lengths) {
      if (row["suite"] == suite) expected.push_back(row);
    }
    ASSERT_EQ(expected.size(), 2u);
    EXPECT_EQ(GetJson("/api/campaigns/" + id + "/lengths?suite=" + suite), expected) << suite;
  }
  EXPECT_EQ(GetJson("/api/campaigns/" + id + "/compare?a=q8&b=q6"),
            CohortJson({"compare", id, "q8", "q6", "--format", "json"}));
  // The plots: the same SVG bytes `cohort report --plots` writes.
  SubprocessResult plots = Cohort({"report", id, "--ref", "q8", "--plots", "plots"});
  ASSERT_EQ(plots.exit_code, 0) << plots.stderr_data;
  HttpReply board = Get("/api/campaigns/" + id + "/plots/scoreboard.svg?ref=q8",
                        shared->client_token);
  EXPECT_EQ(board.status, 200);
  EXPECT_THAT(board.headers, HasSubstr("Content-Type: image/svg+xml"));
  EXPECT_EQ(board.body, ReadFileToString(shared->dir.Join("plots/scoreboard.svg")).value_or("?"));
  HttpReply gsm8k = Get("/api/campaigns/" + id + "/plots/lengths.svg?suite=gsm8k-4",
                        shared->client_token);
  EXPECT_EQ(gsm8k.body,
            ReadFileToString(shared->dir.Join("plots/lengths-gsm8k-4.svg")).value_or("?"));
  EXPECT_EQ(Get("/api/campaigns/" + id + "/lengths?suite=nope", shared->client_token).status,
            404);
  EXPECT_EQ(Get("/api/campaigns/" + id + "/compare?a=q8&b=nope", shared->client_token).status,
            404);
}

TEST_F(DashboardTest, AProblemsCompletionsAreTheStoredOnes) {
  v1::QueryResultsRequest request;
  request.set_campaign_id(shared->campaign);
  auto stub = v1::Coordinator::NewStub(shared->cohortd->Channel());
  auto context = CohortdProcess::Context(shared->client_token);
  auto reader = stub->QueryResults(context.get(), request);
  std::multiset<std::string> stored;  // gsm8k problem 0's scored completions
  v1::ProblemResult row;
  while (reader->Read(&row)) {
    if (row.problem_id() == "0" && row.verdict() != v1::VERDICT_UNSPECIFIED) {
      stored.insert(row.completion());
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(stored.size(), 2u);  // q8 and q6
  json p = GetJson("/api/campaigns/" + shared->campaign +
                   "/problem?suite=gsm8k-4&problem=0&models=q8,q6");
  ASSERT_TRUE(p.is_object()) << p;
  std::multiset<std::string> shown;
  std::set<std::string> models;
  for (const json& a : p["answers"]) {
    shown.insert(a["completion"].get<std::string>());
    models.insert(a["model"].get<std::string>());
  }
  EXPECT_EQ(shown, stored);
  EXPECT_EQ(models, std::set<std::string>({"q8", "q6"}));
  EXPECT_EQ(Get("/api/campaigns/" + shared->campaign + "/problem?suite=gsm8k-4&problem=0",
                shared->client_token).status, 400);  // no models
}

TEST_F(DashboardTest, TheWorkersPageListsTheWorkerAndItsTools) {
  json w = GetJson("/api/workers");
  ASSERT_EQ(w["workers"].size(), 1u) << w;
  const json& x = w["workers"][0];
  EXPECT_EQ(x["id"], "w1");
  EXPECT_EQ(x["state"], "live");
  std::set<std::string> tools;
  for (const json& t : x["info"]["tools"]) tools.insert(t["name"].get<std::string>());
  EXPECT_TRUE(tools.count("llama-server")) << x;
  EXPECT_TRUE(x["leases"].empty());
}

TEST_F(DashboardTest, TokensCookiesAndOriginsAsTheGrpcApiHasThem) {
  EXPECT_EQ(Get("/api/campaigns", "").status, 401);
  EXPECT_EQ(Get("/api/campaigns", shared->worker_token).status, 403);
  ASSERT_OK_AND_ASSIGN(std::string bob, shared->cohortd->CreateToken("client", {"--name", "bob"}));
  EXPECT_EQ(json::parse(Get("/api/campaigns", bob).body)["campaigns"].size(), 0u);
  EXPECT_EQ(Get("/api/campaigns/" + shared->campaign + "/scoreboard", bob).status, 403);
  HttpOptions events;
  events.headers = {"Authorization: Bearer " + bob};
  EXPECT_EQ(Http(Url("/api/events?campaign=" + shared->campaign), events).status, 403);

  // Sign in: the cookie reads the API; a form on another site cannot sign in.
  HttpOptions login;
  login.is_post = true;
  login.post = "token=" + shared->client_token;
  HttpReply signed_in = Http(Url("/login"), login);
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  size_t at = signed_in.headers.find("Set-Cookie: ");
  ASSERT_NE(at, std::string::npos) << signed_in.headers;
  std::string cookie = signed_in.headers.substr(at + 12);
  cookie = cookie.substr(0, cookie.find(';'));
  EXPECT_THAT(signed_in.headers, HasSubstr("HttpOnly; SameSite=Strict"));
  HttpOptions with_cookie;
  with_cookie.headers = {"Cookie: " + cookie};
  EXPECT_EQ(Http(Url("/api/campaigns"), with_cookie).status, 200);
  login.headers = {"Origin: https://evil.example"};
  EXPECT_EQ(Http(Url("/login"), login).status, 403);
  login.headers = {};
  login.post = "token=" + shared->client_token + "%0d%0aSet-Cookie:%20x=1";
  HttpReply injected = Http(Url("/login"), login);
  EXPECT_EQ(injected.status, 401);
  EXPECT_THAT(injected.headers, ::testing::Not(HasSubstr("x=1")));
}

TEST_F(DashboardTest, HostileRequestsGetAnErrorAndTheDashboardServesOn) {
  const int port = shared->dashboard_port;
  EXPECT_THAT(RawExchange(port, "\x16\x03\x01garbage\r\n\r\n"), ::testing::Not(HasSubstr("200 OK")));
  EXPECT_THAT(RawExchange(port, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\n\r\n"),
              HasSubstr("431"));
  EXPECT_THAT(RawExchange(port, "GET / HTTP/1.1\r\nX: " + std::string(100000, 'b') + "\r\n\r\n"),
              ::testing::Not(HasSubstr("200 OK")));
  EXPECT_THAT(RawExchange(port, "POST /login HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" +
                                    std::string(100000, 'c')),
              HasSubstr("413"));
  EXPECT_THAT(RawExchange(port, "BREW /api/campaigns HTTP/1.1\r\n\r\n"),
              ::testing::Not(HasSubstr("200 OK")));
  EXPECT_EQ(Get("/static/..%2f..%2f..%2fetc%2fpasswd", shared->client_token).status, 400);
  EXPECT_EQ(Get("/api/campaigns/..%2f..%2f/scoreboard", shared->client_token).status, 400);
  EXPECT_EQ(Get("/api/campaigns/" + shared->campaign + "/problem?suite=%00&problem=%ff&models=q8",
                shared->client_token).status, 404);
  HttpReply page = Get("/", "");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.headers, HasSubstr("Content-Security-Policy: default-src 'none'"));
}

// HTTPS with cohortd's certificate: verified with the CA, Secure cookies,
// no plaintext on that port; plaintext off loopback refused at start.
TEST(DashboardTlsTest, ServesHttpsWithTheServerCertificate) {
  testing::TempDir dir;
  auto openssl = [&](std::vector<std::string> args) {
    SubprocessOptions o;
    o.argv = {"openssl"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.working_dir = dir.path();
    absl::StatusOr<SubprocessResult> r = RunSubprocess(o);
    ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
  };
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
           "/CN=dash-test-ca", "-keyout", "ca.key", "-out", "ca.pem"});
  openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
           "server.key", "-out", "server.csr"});
  ASSERT_OK(WriteFileAtomically(dir.Join("san.ext"), "subjectAltName=IP:127.0.0.1\n"));
  openssl({"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem"});
  fs::create_directories(dir.Join("cohortd"));
  CohortdProcess cohortd(dir.Join("cohortd"),
                         {"--tls-cert", dir.Join("server.pem"), "--tls-key", dir.Join("server.key"),
                          "--dashboard-listen", "127.0.0.1:0", "--dashboard-port-file",
                          dir.Join("dashboard.port")});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  ASSERT_OK(cohortd.Start());
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFileToString(dir.Join("dashboard.port")).value_or("")),
      &port));
  ASSERT_OK_AND_ASSIGN(std::string token, cohortd.CreateToken("client"));
  HttpOptions o;
  o.ca_file = dir.Join("ca.pem");
  o.headers = {"Authorization: Bearer " + token};
  const std::string https = absl::StrCat("https://127.0.0.1:", port);
  HttpReply r = Http(https + "/api/campaigns", o);
  EXPECT_EQ(r.status, 200) << r.error << r.body;
  HttpOptions login = o;
  login.is_post = true;
  login.post = "token=" + token;
  EXPECT_THAT(Http(https + "/login", login).headers, HasSubstr("; Secure"));
  HttpOptions untrusted;  // the system CAs do not know this certificate
  EXPECT_NE(Http(https + "/", untrusted).error, "");
  EXPECT_NE(Http(absl::StrCat("http://127.0.0.1:", port, "/"), o).status, 200);

  // Plaintext off loopback is refused at start, naming the flag.
  SubprocessOptions refuse;
  refuse.argv = {Bin("cohortd"), "--listen", "127.0.0.1:0", "--state-dir", dir.Join("other"),
                 "--dashboard-listen", "0.0.0.0:0"};
  refuse.timeout = absl::Seconds(20);
  absl::StatusOr<SubprocessResult> refused = RunSubprocess(refuse);
  ASSERT_OK(refused.status());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_THAT(refused->stderr_data, HasSubstr("--dashboard-listen 0.0.0.0:0 is not a loopback"));
}

// SIGTERM with an event stream open: cohortd ends the stream and exits.
TEST(DashboardShutdownTest, AnOpenEventStreamDoesNotHoldCohortdUp) {
  testing::TempDir dir;
  fs::create_directories(dir.Join("cohortd"));
  CohortdProcess cohortd(dir.Join("cohortd"), {"--dashboard-listen", "127.0.0.1:0",
                                               "--dashboard-port-file", dir.Join("port2")});
  ASSERT_OK(cohortd.Start());
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFileToString(dir.Join("port2")).value_or("")), &port));
  ASSERT_OK_AND_ASSIGN(std::string admin, cohortd.CreateToken("admin"));
  EventStreamReader stream(absl::StrCat("http://127.0.0.1:", port, "/api/events"), admin);
  ASSERT_TRUE(stream.WaitFor("retry: 3000", absl::Seconds(10))) << stream.Text();
  absl::Time start = absl::Now();
  cohortd.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  std::string why;
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!stream.Ended(&why) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(stream.Ended(&why)) << "the stream outlived cohortd";
}

}  // namespace
}  // namespace cohort
