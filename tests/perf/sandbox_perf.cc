// Scores the HumanEval canonical solutions through the sandbox with a fixed
// number of workers and prints the wall time; compare with the human-eval
// reference as docs/PERFORMANCE.md "## Code scoring" describes.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "worker/eval/bench.h"
#include "worker/eval/humaneval.h"
#include "worker/eval/profile.h"
#include "worker/eval/score.h"

int main(int argc, char** argv) {
  using namespace cohort::worker::eval;
  if (argc < 2) {
    std::fprintf(stderr, "usage: sandbox_perf HumanEval.jsonl.gz [workers]\n");
    return 2;
  }
  if (argc > 2) setenv("COHORT_SANDBOX_WORKERS", argv[2], 1);
  const BenchSpec* bench = FindBench("humaneval");
  absl::StatusOr<Profile> profile = LoadProfile(kDefaultProfile);
  if (bench == nullptr || !profile.ok()) return 1;
  const BenchSettings& settings = *profile->Find("humaneval");
  absl::StatusOr<std::vector<Problem>> problems = bench->load(argv[1], settings);
  absl::StatusOr<std::vector<std::string>> raw = ReadRawLines(argv[1]);
  if (!problems.ok() || !raw.ok()) return 1;
  std::vector<CompletionRow> rows;
  for (const std::string& line : *raw) {
    nlohmann::json j = nlohmann::json::parse(line);
    CompletionRow row;
    row.line = static_cast<int>(rows.size()) + 1;
    row.id = j["task_id"];
    row.completion = j["canonical_solution"];
    rows.push_back(row);
  }
  absl::Time start = absl::Now();
  absl::StatusOr<ScoreRun> run = ScoreCompletions(*bench, settings, *problems, rows, argv[1]);
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!run.ok()) return 1;
  std::printf("humaneval canonical: %d/%zu passed in %.2f s\n",
              ScoreSummaryToJson(run->summary)["passed"].get<int>(), rows.size(), seconds);
  return 0;
}
