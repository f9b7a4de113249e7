// The dashboard's load times on a campaign of 100,000 steps and 10^6 result
// rows, against a real cohortd over loopback HTTP.
//
//   dashboard_perf <empty folder> [variants] [rows per score step] [streams]
//
// A folder of an earlier run (it holds campaign.txt) is reused: steps 1 and
// 2 are skipped.
//
// 1. A sweep of `variants` class-weight variants (default 4,167) over ten
//    GSM8K suites (limits 20..29) is submitted with the real `cohort submit`:
//    4 chain steps + 10 x (generate, score) = 24 steps a variant, 100,008
//    steps for the default.
// 2. cohortd is stopped and every score step gets `rows` result rows
//    (default 24: 1,000,080 rows) written straight into its SQLite file in
//    one transaction, each with a ~600-byte body (completion and reasoning),
//    as workers would have reported them.
// 3. cohortd restarts with --dashboard-listen; each dashboard request of the
//    campaign pages is timed cold (first request after the restart: the
//    spec's expansion included) and warm (median of 5), over HTTP.
// 4. Baseline in the same run: `cohort report ID --format json`, the CLI's
//    path to the same scoreboard (every row over gRPC, then the report).
// 5. Event streams at 1,000 workers: 1,000 simulated workers (perf_support.h)
//    each lease one step of a 1,000-variant sweep and heartbeat every 5 s
//    with progress; cohortd's CPU is measured for 30 s without a stream,
//    then for 30 s with `streams` (default 8, the most it serves) following
//    that campaign (0: this step is skipped).
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string_view>
#include <thread>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cohort/v1/types.pb.h"
#include "common/atomic_file.h"
#include "common/sqlite/database.h"
#include "common/subprocess.h"
#include "common/testing/temp_dir.h"
#include "server/store/schema.h"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"
#include "tests/perf/page_cache.h"
#include "tests/perf/perf_support.h"

namespace cohort {
namespace {

using testing::CohortdProcess;
namespace fs = std::filesystem;

std::string Bin(const std::string& name) { return testing::BinDir() + "/" + name; }

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Seconds for one GET, and the body's size; exits on a non-200.
double TimedGet(const std::string& url, const std::string& token, size_t* bytes) {
  CURL* curl = curl_easy_init();
  std::string body;
  curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  absl::Time start = absl::Now();
  CURLcode rc = curl_easy_perform(curl);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK || status != 200) {
    std::fprintf(stderr, "GET %s: %s %ld %s\n", url.c_str(), curl_easy_strerror(rc), status,
                 body.substr(0, 300).c_str());
    std::exit(1);
  }
  *bytes = body.size();
  return seconds;
}

SubprocessResult Run(const std::string& dir, std::vector<std::string> argv,
                     std::map<std::string, std::string> env = {}) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  options.working_dir = dir;
  options.extra_env = std::move(env);
  options.timeout = absl::Minutes(20);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  if (!r.ok() || !r->Succeeded()) {
    std::fprintf(stderr, "%s\n", r.ok() ? r->Describe().c_str() : r.status().ToString().c_str());
    std::exit(1);
  }
  return *r;
}

std::string SweepSpec(const std::string& name, int variants, int suites) {
  std::string spec =
      "kind: sweep\nname: " + name + "\nbase_model: model\ncontrib: contrib.json\n"
      "recipe:\n  dropmap: {target: 12, protect_top: 2}\n  quantize: {type: Q8_0}\n"
      "variants:\n";
  for (int i = 0; i < variants; ++i) {
    // Distinct weights: every variant is its own chain of steps.
    absl::StrAppend(&spec, "  - {name: v", i, ", recipe: {dropmap: {class_weights: [", 1 + i / 1000.0,
                    ", 1, 1, 1, 1, 1, 1, 1]}}}\n");
  }
  spec += "eval:\n  profile: omk-card-2026-07\n  suites:\n";
  for (int limit = 20; limit < 20 + suites; ++limit) {
    absl::StrAppend(&spec, "    - {bench: gsm8k, dataset: gsm8k, limit: ", limit, "}\n");
  }
  return spec;
}

// `rows` scored rows for every score step of the database, as ReportResults
// would have stored them.
int64_t FillResults(const std::string& db_path, int rows) {
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(db_path, {});
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<std::string> keys;
  Statement& select = (*db)->Prepare("SELECT key FROM steps WHERE kind = 8");  // score
  while (select.Step()) keys.push_back(select.ColumnText(0));
  (void)(*db)->Execute("BEGIN");
  Statement& insert = (*db)->Prepare(
      "INSERT INTO results(step_key, problem_id, sample_index, lease_epoch, verdict, "
      "finish_reason, completion_tokens, reasoning_tokens, completion_chars, extracted_answer, "
      "scorer_version, body, created_us, reasoning_chars) "
      "VALUES(?, ?, 0, 1, ?, ?, ?, ?, ?, ?, 'perf', ?, 0, ?)");
  int64_t n = 0;
  for (const std::string& key : keys) {
    for (int p = 0; p < rows; ++p) {
      v1::ProblemResult r;
      r.set_problem_id(std::to_string(p));
      r.set_completion(std::string(150, 'c') + " The answer is " + std::to_string(p) + ".");
      r.set_reasoning(std::string(400, 'r'));
      r.set_completion_tokens(200 + static_cast<uint64_t>((n * 7919) % 12000));
      r.set_reasoning_tokens(100);
      r.set_completion_chars(r.completion().size());
      r.set_reasoning_chars(r.reasoning().size());
      r.set_finish_reason(n % 50 == 0 ? "length" : "stop");
      r.set_verdict(n % 3 == 0 ? v1::VERDICT_FAIL : v1::VERDICT_PASS);
      r.set_extracted_answer(std::to_string(p));
      insert.Bind(1, key)
          .Bind(2, r.problem_id())
          .Bind(3, static_cast<int64_t>(r.verdict()))
          .Bind(4, r.finish_reason())
          .Bind(5, r.completion_tokens())
          .Bind(6, r.reasoning_tokens())
          .Bind(7, r.completion_chars())
          .Bind(8, r.extracted_answer())
          .BindBlob(9, r.SerializeAsString())
          .Bind(10, r.reasoning_chars());
      if (!insert.Run().ok()) {
        std::fprintf(stderr, "insert failed\n");
        std::exit(1);
      }
      ++n;
    }
  }
  // The per-verdict counts and the length rows InsertResults keeps beside
  // the rows (the fresh campaign had none), the latter as the schema's own
  // backfill writes them.
  absl::Status tallies = (*db)->Execute(absl::StrCat(
      "INSERT INTO result_tallies(step_key, verdict, n) SELECT step_key, verdict, count(*) "
      "FROM results GROUP BY step_key, verdict;",
      server::kBackfillResultLengths));
  if (!tallies.ok()) {
    std::fprintf(stderr, "%s\n", tallies.ToString().c_str());
    std::exit(1);
  }
  (void)(*db)->Execute("COMMIT");
  return n;
}

// An SSE reader on its own thread, counting the events it was sent.
class StreamReader {
 public:
  StreamReader(const std::string& url, const std::string& token) {
    thread_ = std::thread([this, url, token] {
      CURL* curl = curl_easy_init();
      curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &StreamReader::Write);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
      curl_easy_perform(curl);
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
    });
  }
  ~StreamReader() {
    stop_.store(true);
    thread_.join();
  }
  int64_t events() const { return events_.load(); }

 private:
  static size_t Write(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<StreamReader*>(self_ptr);
    if (self->stop_.load()) return 0;
    std::string_view text(data, size * n);
    for (size_t at = text.find("data: "); at != std::string_view::npos;
         at = text.find("data: ", at + 1)) {
      ++self->events_;
    }
    return size * n;
  }
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> events_{0};
  std::thread thread_;
};

// cohortd's CPU (% of a core) over `window`.
double CpuPercent(const std::string& needle, absl::Duration window) {
  double cpu0 = CohortdCpuSeconds(needle);
  absl::Time t0 = absl::Now();
  absl::SleepFor(window);
  double cpu1 = CohortdCpuSeconds(needle);
  return 100 * (cpu1 - cpu0) / absl::ToDoubleSeconds(absl::Now() - t0);
}

void MeasureStreams(CohortdProcess& cohortd, const std::string& dir,
                    std::map<std::string, std::string> env,
                    const std::string& base, const std::string& token, int streams) {
  const int kWorkers = 1000;
  SubprocessResult busy = Run(dir, {Bin("cohort"), "submit", "busy.yaml"}, env);
  const std::string campaign(absl::StripAsciiWhitespace(busy.stdout_data));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("perf.channel", i);  // distinct connections
    channels.push_back(grpc::CreateCustomChannel(cohortd.address(),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  std::string worker_token = cohortd.CreateToken("worker").value_or("");
  WorkerSwarm swarm(channels, worker_token, kWorkers);
  swarm.Register();
  swarm.ReportProgress(true);
  swarm.StartHeartbeats(absl::Seconds(5));
  swarm.StartPolling();
  for (int i = 0; i < 600 && static_cast<int>(swarm.Leases().size()) < kWorkers; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::printf("\nevent streams: %zu of %d simulated workers hold a step of %s, heartbeating "
              "every 5 s with progress\n", swarm.Leases().size(), kWorkers, campaign.c_str());
  absl::SleepFor(absl::Seconds(6));  // one round of progress heartbeats
  const absl::Duration kWindow = absl::Seconds(30);
  double without = CpuPercent(dir + "/cohortd", kWindow);
  std::vector<std::unique_ptr<StreamReader>> readers;
  for (int i = 0; i < streams; ++i) {
    readers.push_back(
        std::make_unique<StreamReader>(base + "/api/events?campaign=" + campaign, token));
  }
  absl::SleepFor(absl::Seconds(2));
  int64_t before = 0;
  for (auto& r : readers) before += r->events();
  double with = CpuPercent(dir + "/cohortd", kWindow);
  int64_t after = 0;
  for (auto& r : readers) after += r->events();
  std::printf("| cohortd CPU, 1,000 workers | %% of a core |\n|---|---:|\n"
              "| no event stream | %.1f%% |\n| %d event streams | %.1f%% |\n"
              "| added by the streams | %.1f points (target < 5) |\n"
              "events delivered to the streams in the window: %lld (%.0f/s a stream); "
              "client errors %d\n",
              without, streams, with, with - without, static_cast<long long>(after - before),
              static_cast<double>(after - before) / streams / absl::ToDoubleSeconds(kWindow),
              swarm.errors());
  readers.clear();
  swarm.Stop();
}

struct Timing {
  std::string what;
  double cold = 0;
  double warm = 0;  // median of 5
  size_t bytes = 0;
};

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dashboard_perf <empty folder> [variants] [rows per score step]\n");
    return 2;
  }
  const std::string dir = fs::absolute(argv[1]).string();
  const int variants = argc > 2 ? std::atoi(argv[2]) : 4167;
  const int rows = argc > 3 ? std::atoi(argv[3]) : 24;
  const int streams = argc > 4 ? std::atoi(argv[4]) : 8;
  fs::create_directories(dir + "/cohortd");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string campaign(
      absl::StripAsciiWhitespace(ReadFileToString(dir + "/campaign.txt").value_or("")));
  const bool reuse = !campaign.empty();
  absl::Status inputs = reuse ? absl::OkStatus() : testing::MakeSweepInputs(dir);
  if (!inputs.ok()) {
    std::fprintf(stderr, "%s\n", inputs.ToString().c_str());
    return 1;
  }
  if (!WriteFileAtomically(dir + "/sweep.yaml", SweepSpec("dashboard-perf", variants, 10)).ok() ||
      !WriteFileAtomically(dir + "/busy.yaml", SweepSpec("busy", 1000, 1)).ok()) {
    return 1;
  }

  std::vector<std::string> flags = {"--dashboard-listen", "127.0.0.1:0",
                                    "--dashboard-port-file", dir + "/dashboard.port",
                                    "--max-request-mb", "256"};
  auto cohortd = std::make_unique<CohortdProcess>(dir + "/cohortd", flags);
  if (!cohortd->Start().ok()) return 1;
  // Named: a rerun on the same folder owns the campaign it made.
  std::string token = cohortd->CreateToken("client", {"--name", "perf"}).value_or("");
  std::map<std::string, std::string> env = {
      {"COHORT_COORDINATOR", cohortd->address()}, {"COHORT_TOKEN", token},
      {"COHORT_DATASETS", testing::SourceDir() + "/data"}, {"HOME", dir}};
  absl::Time t0 = absl::Now();
  if (!reuse) {
    SubprocessResult submit =
        Run(dir, {Bin("cohort"), "--timeout", "600", "submit", "sweep.yaml"}, env);
    campaign = std::string(absl::StripAsciiWhitespace(submit.stdout_data));
    std::printf("submitted %s in %.1f s: %s", campaign.c_str(),
                absl::ToDoubleSeconds(absl::Now() - t0), submit.stderr_data.c_str());
  }
  cohortd->Stop();
  if (!reuse) {
    t0 = absl::Now();
    int64_t n = FillResults(dir + "/cohortd/cohort.db", rows);
    std::printf("%lld result rows written in %.1f s\n", static_cast<long long>(n),
                absl::ToDoubleSeconds(absl::Now() - t0));
    if (!WriteFileAtomically(dir + "/campaign.txt", campaign + "\n").ok()) return 1;
  }
  std::printf("campaign %s; cohort.db %.2f GB\n", campaign.c_str(),
              static_cast<double>(fs::file_size(dir + "/cohortd/cohort.db")) / 1e9);

  // Cold means cold on disk too: cohort.db written back and out of the page
  // cache, as after a reboot.
  EvictFromCache(dir + "/cohortd");
  std::printf("cohort.db resident in the page cache before the restart: %.0f%%\n",
              100.0 * ResidentFraction(dir + "/cohortd/cohort.db"));
  if (!cohortd->Start().ok()) return 1;
  int port = 0;
  (void)absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFileToString(dir + "/dashboard.port").value_or("")), &port);
  const std::string base = absl::StrCat("http://127.0.0.1:", port);
  const std::string c = "/api/campaigns/" + campaign;
  std::vector<std::pair<std::string, std::string>> pages = {
      {"page /", "/"},
      {"campaigns list", "/api/campaigns"},
      {"campaign (grid, running, failures)", c},
      {"scoreboard", c + "/scoreboard?ref=v0"},
      {"scoreboard.svg", c + "/plots/scoreboard.svg?ref=v0"},
      {"lengths of one suite", c + "/lengths?suite=gsm8k-20"},
      {"lengths.svg of one suite", c + "/plots/lengths.svg?suite=gsm8k-20"},
      {"compare v0 v1", c + "/compare?a=v0&b=v1"},
      {"one problem, two models", c + "/problem?suite=gsm8k-20&problem=3&models=v0,v1"},
      {"workers", "/api/workers"},
  };
  std::vector<Timing> timings;
  for (const auto& [what, path] : pages) {
    Timing t{what};
    t.cold = TimedGet(base + path, token, &t.bytes);
    std::vector<double> warm;
    for (int i = 0; i < 5; ++i) warm.push_back(TimedGet(base + path, token, &t.bytes));
    std::sort(warm.begin(), warm.end());
    t.warm = warm[2];
    timings.push_back(t);
  }
  std::printf("\n| request | cold (first after restart) | warm (median of 5) | bytes |\n"
              "|---|---:|---:|---:|\n");
  for (const Timing& t : timings) {
    std::printf("| %s | %.3f s | %.3f s | %zu |\n", t.what.c_str(), t.cold, t.warm, t.bytes);
  }
  std::fflush(stdout);
  t0 = absl::Now();
  env["COHORT_COORDINATOR"] = cohortd->address();
  SubprocessResult cli = Run(dir, {Bin("cohort"), "--timeout", "600", "report", campaign,
                                   "--ref", "v0", "--format", "json"}, env);
  double baseline = absl::ToDoubleSeconds(absl::Now() - t0);
  std::printf("\nbaseline, same run: `cohort report %s --ref v0 --format json` (every row over "
              "gRPC): %.2f s, %zu bytes\n", campaign.c_str(), baseline, cli.stdout_data.size());
  std::fflush(stdout);
  if (streams > 0) MeasureStreams(*cohortd, dir, env, base, token, streams);
  cohortd->Stop();
  return 0;
}

}  // namespace
}  // namespace cohort

int main(int argc, char** argv) { return cohort::Main(argc, argv); }
