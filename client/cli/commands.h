// File: commands.h
//
// The `cohort` commands. Each Run* function does one command and returns the
// process exit code: 0 success, 2 bad user input (a spec, a flag, an unknown
// campaign), 1 anything else (coordinator unreachable, a step failed). No
// gRPC types here: those stay in the .cc files of this folder.
#ifndef COHORT_CLIENT_CLI_COMMANDS_H_
#define COHORT_CLIENT_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/cli/config.h"

namespace cohort::client {

struct GlobalOptions {
  ConfigFlags config;
  double timeout_seconds = 30;
};

// Prints "cohort: <message>" to stderr and maps the code to an exit code.
int ExitWith(const absl::Status& status);

struct SubmitOptions {
  std::string spec_file;
  bool dry_run = false;
  bool quiet = false;
  bool rerun = false;  // run every step again, even cached ones
  std::string idempotency_key;
};
int RunSubmit(const GlobalOptions& g, const SubmitOptions& o);

struct CampaignOptions {
  std::string campaign_id;
  bool all_steps = false;  // status: every step, not only unfinished ones
};
int RunStatus(const GlobalOptions& g, const CampaignOptions& o);
int RunCancel(const GlobalOptions& g, const CampaignOptions& o);
int RunResume(const GlobalOptions& g, const CampaignOptions& o);

struct RetryOptions {
  std::string step_key;     // a full key, a key prefix or a display name
  std::string campaign_id;  // where to look the step up (default: latest campaigns)
};
int RunRetry(const GlobalOptions& g, const RetryOptions& o);

struct LogsOptions {
  std::string step;         // a key, a key prefix, or a display name
  std::string campaign_id;  // to find the step by name, and the fallback
  uint32_t max_bytes = 16384;
};
int RunLogs(const GlobalOptions& g, const LogsOptions& o);

struct WorkersOptions {
  bool long_format = false;  // GPUs, tool versions, endpoint per worker
};
int RunWorkers(const GlobalOptions& g, const WorkersOptions& o);

struct ArtifactsOptions {
  std::string campaign_id;
  std::string kind;
};
int RunArtifacts(const GlobalOptions& g, const ArtifactsOptions& o);

struct WatchOptions {
  std::string campaign_id;
  bool plain = false;  // plain lines even on a terminal
  bool once = false;   // stop after the initial snapshot
};
int RunWatch(const GlobalOptions& g, const WatchOptions& o);

struct ResultsOptions {
  std::string campaign_id;
  std::vector<std::string> references;  // default: the spec's references
  std::string format = "md";            // md | csv | json
  std::string style = "table";          // table | card (report, lengths)
  std::string out;                      // file (written atomically) or stdout
  uint64_t saturation_tokens = 12000;
  std::string model_a, model_b;  // compare
  bool list_problems = false;    // compare: print the flipped problem ids
  std::string model, suite;      // export filters
  std::string export_format = "lm-eval";  // export: the one layout it writes
  std::string plots_dir;  // report: write the SVG plots here as well
  bool png = false;       // report --plots: a PNG beside each SVG (rsvg-convert)
  bool tiers = false;     // report: the tier table (size, bits per weight, benches)
};
int RunReport(const GlobalOptions& g, const ResultsOptions& o);
int RunLengths(const GlobalOptions& g, const ResultsOptions& o);
int RunCompare(const GlobalOptions& g, const ResultsOptions& o);
int RunExport(const GlobalOptions& g, const ResultsOptions& o);

// Manifests and reproduction (docs/cli.md).
struct ManifestOptions {
  std::string campaign_id;
  std::string out;  // file (written atomically) or stdout
};
// A finished campaign as a cohort manifest: variants, lineage, pinned digests.
int RunManifest(const GlobalOptions& g, const ManifestOptions& o);

struct VerifyOptions {
  std::string campaign_id;
  std::string manifest;  // pins from this file instead of the campaign's spec
};
// Each variant's artifacts in a campaign against pinned digests.
int RunVerify(const GlobalOptions& g, const VerifyOptions& o);

struct ReproduceOptions {
  std::string manifest;
  double max_wait_minutes = 0;  // 0: until the campaign finishes
  bool quiet = false;           // no progress lines on stderr
};
// Submits a manifest with rerun (fresh executions, not cache hits), waits,
// and compares every produced artifact with its pin.
int RunReproduce(const GlobalOptions& g, const ReproduceOptions& o);

struct ClusterOptions {
  std::string state_dir = "cohort-local";
  std::string listen = "127.0.0.1:7400";
  int workers = 1;
  int gpus_per_worker = 0;
  std::string llama_cpp_dir;
  std::vector<std::string> endpoints;  // cohort-worker run --endpoint, each worker
  std::string endpoint_key_file;       // cohort-worker run --endpoint-key-file
  std::string vllm;                    // cohort-worker run --vllm, each worker
  bool write_user_config = true;
  bool insecure_plaintext = false;  // cohortd on a non-loopback --listen without TLS
  std::string dashboard_listen;     // cohortd --dashboard-listen; empty: none
};
int RunUp(const GlobalOptions& g, const ClusterOptions& o);
int RunDown(const GlobalOptions& g, const ClusterOptions& o);
// part: "cohortd", "workers" or "" (both); the options come from up.json.
int RunRestart(const GlobalOptions& g, const ClusterOptions& o, const std::string& part);

// The benchmark data catalog (data/datasets.json, data/README.md): local
// only, no cohortd.
struct DatasetsOptions {
  std::string data_dir;            // searched first; fetch writes here
  std::vector<std::string> names;  // verify (none: all), fetch
  std::string name;                // path: NAME[:SPLIT]
  std::string revision;            // fetch: overrides the pinned one
  int retries = 2;                 // fetch: resumes after a broken transfer
};
// NAME, shipped/fetched/missing, records of the test split, license.
int RunDatasetsList(const DatasetsOptions& o);
// sha256 of every file against its pin; exit 1 naming each bad file.
int RunDatasetsVerify(const DatasetsOptions& o);
// The file of NAME[:SPLIT] (default split: test).
int RunDatasetsPath(const DatasetsOptions& o);
// Downloads what is not shipped from the Hugging Face Hub into the cache
// folder (or --data-dir), verified, resumable.
int RunDatasetsFetch(const DatasetsOptions& o);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_CLI_COMMANDS_H_
