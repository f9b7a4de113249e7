// Eval-driver benchmark (built, not run by ctest):
//   llama_driver_perf [--slots N] [--latency-ms M] [--tokens T] [--rounds R]
// Starts tests/fakes/fake_llama_server (from the repository root, or
// $COHORT_SOURCE_DIR) with N slots and a fixed per-token latency, answers
// every request with T tokens, and drives N x R requests through it with
// RunGeneration at concurrency N. Prints slot occupancy as the fake saw it
// (busy slot-seconds / (N x first-start-to-last-end)), the driver's own view
// (in-flight share) and the driver's CPU use from getrusage(RUSAGE_SELF)
// (the fake is a child process, so it is not counted). Exits 1 when
// occupancy < 98% or CPU >= 5% of a core.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "worker/llama/driver.h"
#include "worker/llama/http.h"
#include "worker/llama/server_args.h"
#include "worker/llama/supervisor.h"

namespace {

using namespace cohort::worker::llama;  // NOLINT: a benchmark's main file

struct Config {
  int slots = 64;
  double latency_ms = 5.0;
  int tokens = 100;
  int rounds = 20;
};

Config ParseFlags(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--slots") c.slots = std::atoi(argv[i + 1]);
    if (flag == "--latency-ms") c.latency_ms = std::atof(argv[i + 1]);
    if (flag == "--tokens") c.tokens = std::atoi(argv[i + 1]);
    if (flag == "--rounds") c.rounds = std::atoi(argv[i + 1]);
  }
  return c;
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "llama_driver_perf: %s\n", std::string(status.message()).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config config = ParseFlags(argc, argv);
  const char* root = std::getenv("COHORT_SOURCE_DIR");
  std::string source = root != nullptr ? root : ".";
  const char* tmp = std::getenv("TMPDIR");
  std::string answers = std::string(tmp != nullptr ? tmp : "/tmp") + "/llama_driver_perf_answers.jsonl";
  std::string words;
  for (int i = 0; i < config.tokens; ++i) absl::StrAppend(&words, i ? " " : "", "w", i);
  absl::Status written = cohort::WriteFileAtomically(
      answers, nlohmann::json{{"match", ""}, {"content", words}}.dump() + "\n");
  if (!written.ok()) return Fail(written);
  absl::StatusOr<int> port = PickFreePort();
  if (!port.ok()) return Fail(port.status());
  cohort::SubprocessOptions spawn;
  spawn.argv = {source + "/tests/fakes/fake_llama_server", "--port", absl::StrCat(*port), "-m",
                "perf.gguf", "--no-model-check", "-c", absl::StrCat(config.slots * 4096), "--parallel",
                absl::StrCat(config.slots), "--reasoning", "off", "--token-latency-ms",
                absl::StrCat(config.latency_ms), "--answers", answers};
  spawn.kill_grace = absl::Seconds(1);
  cohort::Subprocess fake;
  if (absl::Status s = fake.Start(spawn); !s.ok()) return Fail(s);
  std::string url = absl::StrCat("http://127.0.0.1:", *port);
  if (absl::Status s = WaitForReady(url, &fake, "", absl::Seconds(30)); !s.ok()) return Fail(s);

  std::vector<GenerationJob> jobs(static_cast<size_t>(config.slots) * config.rounds);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].key = absl::StrCat("p", i);
    jobs[i].request.prompt = absl::StrCat("Problem ", i, ": what is ", i, " + 1?");
    jobs[i].request.max_tokens = config.tokens;
  }
  DriverOptions options;
  options.base_url = [url] { return url; };
  options.concurrency = config.slots;
  int64_t failed = 0;
  double cpu_before = CpuSeconds();
  absl::StatusOr<DriverStats> stats = RunGeneration(options, jobs, [&](GenerationOutcome o) {
    failed += o.result.ok() ? 0 : 1;
    return absl::OkStatus();
  });
  double cpu = CpuSeconds() - cpu_before;
  if (!stats.ok()) return Fail(stats.status());
  absl::StatusOr<HttpResponse> reply = HttpFetch(url + "/fake/stats", "", absl::Seconds(5));
  fake.Terminate(absl::Seconds(1));
  if (!reply.ok()) return Fail(reply.status());
  nlohmann::json fake_stats = nlohmann::json::parse(reply->body);
  double span = fake_stats["last_end"].get<double>() - fake_stats["first_start"].get<double>();
  double occupancy = fake_stats["busy_slot_seconds"].get<double>() / (config.slots * span);
  double wall = absl::ToDoubleSeconds(stats->wall);
  double cpu_share = cpu / wall;
  std::printf(
      "slots=%d latency_ms=%.2f tokens=%d requests=%zu failed=%lld wall_s=%.3f\n"
      "ideal_s=%.3f occupancy(server)=%.2f%% in_flight_share(driver)=%.2f%% "
      "max_processing=%d\n"
      "driver_cpu_s=%.3f driver_cpu=%.2f%% of a core (%.1f us/request)\n",
      config.slots, config.latency_ms, config.tokens, jobs.size(),
      static_cast<long long>(failed), wall, config.rounds * config.tokens * config.latency_ms / 1e3,
      100 * occupancy, 100 * stats->in_flight_share, fake_stats["max_processing"].get<int>(),
      cpu, 100 * cpu_share, 1e6 * cpu / jobs.size());
  bool ok = failed == 0 && occupancy >= 0.98 && cpu_share < 0.05;
  std::printf("%s\n", ok ? "PASS (occupancy >= 98%, driver CPU < 5%)" : "FAIL");
  return ok ? 0 : 1;
}
