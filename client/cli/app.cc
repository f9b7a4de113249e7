#include "client/cli/app.h"

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "client/cli/commands.h"
#include "common/version.h"

namespace cohort::client {
namespace {

struct Options {
  GlobalOptions global;
  SubmitOptions submit;
  CampaignOptions campaign;
  RetryOptions retry;
  LogsOptions logs;
  ArtifactsOptions artifacts;
  WorkersOptions workers;
  ManifestOptions manifest;
  VerifyOptions verify;
  ReproduceOptions reproduce;
  WatchOptions watch;
  ResultsOptions results;
  ClusterOptions cluster;
  DatasetsOptions datasets;
};

using Action = std::function<int()>;

void AddResultFlags(CLI::App* cmd, ResultsOptions* r, bool refs) {
  cmd->add_option("campaign", r->campaign_id, "campaign id")->required();
  cmd->add_option("--format", r->format, "md, csv or json")->capture_default_str();
  cmd->add_option("--out", r->out, "write here (atomically) instead of stdout");
  if (refs) {
    cmd->add_option("--ref", r->references,
                    "reference model(s) for the Δ columns (default: the spec's references)");
  }
}

void AddCampaignCommands(CLI::App& app, Options* o, Action* action) {
  CLI::App* submit = app.add_subcommand(
      "submit", "Expand a sweep or cohort spec, register its local inputs and submit it; "
                "prints the campaign id");
  submit->add_option("spec", o->submit.spec_file, "spec file (YAML or JSON)")->required();
  submit->add_flag("--dry-run", o->submit.dry_run,
                   "print the expanded graph and what is cached; store nothing");
  submit->add_flag("-q,--quiet", o->submit.quiet, "print only the campaign id");
  submit->add_flag("--rerun", o->submit.rerun,
                   "run every step again, even where its key already succeeded");
  submit->add_option("--idempotency-key", o->submit.idempotency_key,
                     "a retried submit with the same key returns the same campaign");
  submit->callback([=] { *action = [=] { return RunSubmit(o->global, o->submit); }; });

  CLI::App* status = app.add_subcommand("status", "List campaigns, or show one with its steps");
  status->add_option("campaign", o->campaign.campaign_id, "campaign id (none: list)");
  status->add_flag("--all", o->campaign.all_steps, "show succeeded steps too");
  status->callback([=] { *action = [=] { return RunStatus(o->global, o->campaign); }; });

  struct Simple {
    const char* name;
    const char* help;
    int (*run)(const GlobalOptions&, const CampaignOptions&);
  };
  for (const Simple& s : {Simple{"cancel", "Cancel a campaign's unfinished steps", RunCancel},
                          Simple{"resume", "Put failed, blocked and cancelled steps back "
                                           "to waiting", RunResume}}) {
    CLI::App* cmd = app.add_subcommand(s.name, s.help);
    cmd->add_option("campaign", o->campaign.campaign_id, "campaign id")->required();
    auto run = s.run;
    cmd->callback([=] { *action = [=] { return run(o->global, o->campaign); }; });
  }

  CLI::App* retry = app.add_subcommand("retry", "Retry one step");
  retry->add_option("step", o->retry.step_key,
                    "step key, key prefix (as status prints it) or display name")
      ->required();
  retry->add_option("--campaign", o->retry.campaign_id, "find the step in this campaign");
  retry->callback([=] { *action = [=] { return RunRetry(o->global, o->retry); }; });

  CLI::App* logs = app.add_subcommand("logs", "Show a step's log tail (the tool output; else its last error)");
  logs->add_option("step", o->logs.step, "step key, key prefix, or display name")->required();
  logs->add_option("--campaign", o->logs.campaign_id, "find the step in this campaign");
  logs->add_option("--max-bytes", o->logs.max_bytes, "log bytes to show")->capture_default_str();
  logs->callback([=] { *action = [=] { return RunLogs(o->global, o->logs); }; });

  CLI::App* watch = app.add_subcommand(
      "watch", "Live progress per step and bench (problems, pass rate, ETA) until the "
               "campaign finishes");
  watch->add_option("campaign", o->watch.campaign_id, "campaign id")->required();
  watch->add_flag("--plain", o->watch.plain, "plain lines even on a terminal");
  watch->add_flag("--once", o->watch.once, "print the current state and exit");
  watch->callback([=] { *action = [=] { return RunWatch(o->global, o->watch); }; });
}

void AddManifestCommands(CLI::App& app, Options* o, Action* action) {
  CLI::App* manifest = app.add_subcommand(
      "manifest", "Write a finished campaign as a cohort manifest: named variants, their "
                  "lineage (inputs and whole recipes) and the digests of their artifacts");
  manifest->add_option("campaign", o->manifest.campaign_id, "campaign id")->required();
  manifest->add_option("--out", o->manifest.out, "write here (atomically) instead of stdout");
  manifest->callback([=] { *action = [=] { return RunManifest(o->global, o->manifest); }; });

  CLI::App* verify = app.add_subcommand(
      "verify", "Compare a campaign's artifacts, one by one, with pinned digests (exit 1 on "
                "a mismatch)");
  verify->add_option("campaign", o->verify.campaign_id, "campaign id")->required();
  verify->add_option("--manifest", o->verify.manifest,
                     "pins from this manifest (default: the campaign's own spec)");
  verify->callback([=] { *action = [=] { return RunVerify(o->global, o->verify); }; });

  CLI::App* reproduce = app.add_subcommand(
      "reproduce", "Run a manifest's whole chain again (fresh executions, not cache hits), "
                   "wait, and report artifact by artifact whether each digest matches its "
                   "pin (exit 1 on a mismatch)");
  reproduce->add_option("manifest", o->reproduce.manifest, "manifest file (YAML or JSON)")
      ->required();
  reproduce->add_option("--max-wait", o->reproduce.max_wait_minutes,
                        "minutes to wait for the campaign (0: no limit)")
      ->capture_default_str();
  reproduce->add_flag("-q,--quiet", o->reproduce.quiet, "no progress lines on stderr");
  reproduce->callback([=] { *action = [=] { return RunReproduce(o->global, o->reproduce); }; });
}

void AddResultCommands(CLI::App& app, Options* o, Action* action) {
  CLI::App* report = app.add_subcommand(
      "report", "Scoreboard: benches x models with n and Δ columns against references");
  AddResultFlags(report, &o->results, true);
  report->add_option("--style", o->results.style,
                     "table, or card: the model card's layout (Markdown, paste-ready)")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "card"}));
  report->add_option("--plots", o->results.plots_dir,
                     "also write the plots here: scoreboard.svg and lengths-<bench>.svg");
  report->add_flag("--tiers", o->results.tiers,
                   "the tier table instead: per quantized variant its tier, size on disk, "
                   "bits per weight and each bench's accuracy");
  report->add_flag("--png", o->results.png,
                   "with --plots: a PNG beside each SVG (rsvg-convert, Debian librsvg2-bin)");
  report->add_option("--saturation-tokens", o->results.saturation_tokens,
                     "the length plots' saturation line")
      ->capture_default_str();
  report->callback([=] { *action = [=] { return RunReport(o->global, o->results); }; });

  CLI::App* lengths = app.add_subcommand(
      "lengths", "Answer lengths: chars and tokens p50/p90/max, budget saturation, "
                 "saturated-and-failed, mean tokens of passes vs failures");
  AddResultFlags(lengths, &o->results, false);
  lengths->add_option("--style", o->results.style,
                      "table, or card: one row per bench, a p50 / p90 / max cell per model")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "card"}));
  lengths->add_option("--saturation-tokens", o->results.saturation_tokens,
                      "tokens at which an answer counts as budget-saturated")
      ->capture_default_str();
  lengths->callback([=] { *action = [=] { return RunLengths(o->global, o->results); }; });

  CLI::App* compare = app.add_subcommand("compare", "Per-problem flips of model A against B");
  AddResultFlags(compare, &o->results, false);
  compare->add_option("a", o->results.model_a, "model A")->required();
  compare->add_option("b", o->results.model_b, "model B")->required();
  compare->add_flag("--list", o->results.list_problems, "list the flipped problem ids");
  compare->callback([=] { *action = [=] { return RunCompare(o->global, o->results); }; });

  CLI::App* exp = app.add_subcommand(
      "export",
      "Results as lm-evaluation-harness writes them: <out>/<model>/results_<date>.json and "
      "samples_<task>_<date>.jsonl (the suites' datasets must be readable here)");
  exp->add_option("campaign", o->results.campaign_id, "campaign id")->required();
  exp->add_option("--out", o->results.out, "output folder")->required();
  exp->add_option("--model", o->results.model, "only this model");
  exp->add_option("--suite", o->results.suite, "only this suite");
  exp->add_option("--format", o->results.export_format, "lm-eval (lm-eval's own files)")
      ->capture_default_str();
  exp->callback([=] { *action = [=] { return RunExport(o->global, o->results); }; });

  CLI::App* workers = app.add_subcommand(
      "workers", "List registered workers with their capabilities (GPUs, slots, labels, tools)");
  workers->add_flag("-l,--long", o->workers.long_format,
                    "also each GPU's model and memory, tool versions, artifact endpoint");
  workers->callback([=] { *action = [=] { return RunWorkers(o->global, o->workers); }; });
  CLI::App* artifacts = app.add_subcommand("artifacts", "List artifacts");
  artifacts->add_option("--campaign", o->artifacts.campaign_id, "only this campaign's");
  artifacts->add_option("--kind", o->artifacts.kind, "checkpoint, gguf, drop_map, ...");
  artifacts->callback([=] { *action = [=] { return RunArtifacts(o->global, o->artifacts); }; });
}

void AddClusterCommands(CLI::App& app, Options* o, Action* action) {
  CLI::App* up = app.add_subcommand(
      "up", "Start a local cluster (cohortd and N workers) with its state in one folder");
  up->add_option("--state-dir", o->cluster.state_dir, "cluster folder")->capture_default_str();
  up->add_option("--listen", o->cluster.listen, "cohortd address (port 0: any)")
      ->capture_default_str();
  // Bounded: a negative count started a cluster, a huge one a fork storm.
  up->add_option("--workers", o->cluster.workers, "cohort-worker processes (0-256)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  up->add_option("--gpus", o->cluster.gpus_per_worker, "GPUs per worker (0-64)")
      ->check(CLI::Range(0, 64));
  up->add_option("--llama-cpp-dir", o->cluster.llama_cpp_dir, "llama.cpp build for the workers");
  up->add_option("--endpoint", o->cluster.endpoints,
                 "an OpenAI-compatible server (vLLM) the workers may send a reference's "
                 "requests to (repeat; cohort-worker run --endpoint)");
  up->add_option("--endpoint-key-file", o->cluster.endpoint_key_file,
                 "its API key, for the workers (cohort-worker run --endpoint-key-file)");
  up->add_option("--vllm", o->cluster.vllm,
                 "vLLM's `vllm` command, for references served from a checkpoint folder "
                 "(cohort-worker run --vllm)");
  up->add_flag("--insecure-plaintext", o->cluster.insecure_plaintext,
               "let cohortd serve plaintext on a non-loopback --listen");
  up->add_option("--dashboard-listen", o->cluster.dashboard_listen,
                 "serve cohortd's web dashboard on host:port (127.0.0.1:0: any free port)");
  up->add_flag("!--no-user-config", o->cluster.write_user_config,
               "do not write ~/.config/cohort/config.yaml even if it is missing");
  up->callback([=] { *action = [=] { return RunUp(o->global, o->cluster); }; });
  CLI::App* down = app.add_subcommand("down", "Stop the local cluster started by `up`");
  down->add_option("--state-dir", o->cluster.state_dir, "cluster folder")->capture_default_str();
  down->callback([=] { *action = [=] { return RunDown(o->global, o->cluster); }; });
  CLI::App* restart = app.add_subcommand(
      "restart", "Restart a local cluster's cohortd, its workers, or both, with the options "
                 "`up` used (same port; state kept)");
  restart->add_option("--state-dir", o->cluster.state_dir, "cluster folder")
      ->capture_default_str();
  auto part = std::make_shared<std::string>();
  restart->add_option("part", *part, "cohortd or workers (default: both)")
      ->check(CLI::IsMember({"cohortd", "workers"}));
  restart->callback([=] { *action = [=] { return RunRestart(o->global, o->cluster, *part); }; });
}

void AddDatasetCommands(CLI::App& app, Options* o, Action* action) {
  CLI::App* datasets = app.add_subcommand(
      "datasets", "The benchmark data: list, verify, locate, and fetch what is not shipped "
                  "(data/README.md); needs no cohortd");
  datasets->require_subcommand(1);
  auto data_dir = [o](CLI::App* cmd) {
    cmd->add_option("--data-dir", o->datasets.data_dir,
                    "data folder searched first (fetch writes here; default: the cache "
                    "folder, $XDG_CACHE_HOME/cohort/datasets)");
  };
  CLI::App* list = datasets->add_subcommand(
      "list", "Each dataset: shipped, fetched or missing, records, license");
  data_dir(list);
  list->callback([=] { *action = [=] { return RunDatasetsList(o->datasets); }; });

  CLI::App* verify = datasets->add_subcommand(
      "verify", "Check the sha256 of every file (exit 1 naming each mismatch or missing file)");
  verify->add_option("names", o->datasets.names, "datasets (default: all that are present)");
  data_dir(verify);
  verify->callback([=] { *action = [=] { return RunDatasetsVerify(o->datasets); }; });

  CLI::App* path = datasets->add_subcommand("path", "Print the file of NAME[:SPLIT]");
  path->add_option("name", o->datasets.name, "dataset, optionally :SPLIT (default: test)")
      ->required();
  data_dir(path);
  path->callback([=] { *action = [=] { return RunDatasetsPath(o->datasets); }; });

  CLI::App* fetch = datasets->add_subcommand(
      "fetch", "Download a dataset that is not shipped from the Hugging Face Hub "
               "(HF_TOKEN for gated ones, HF_ENDPOINT for a mirror), verified and resumable");
  fetch->add_option("names", o->datasets.names, "datasets")->required();
  fetch->add_option("--revision", o->datasets.revision,
                    "branch, tag or commit (default: the pinned one, else main)");
  fetch->add_option("--retries", o->datasets.retries,
                    "resume a broken transfer this many times (0-100)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  data_dir(fetch);
  fetch->callback([=] { *action = [=] { return RunDatasetsFetch(o->datasets); }; });
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "cohort: submit, watch, resume and report prune-and-eval sweeps of "
      "Mixture-of-Experts models run by a cohortd coordinator."};
  app.set_version_flag("--version", std::string("cohort ") + COHORT_VERSION);
  Options o;
  app.add_option("--coordinator", o.global.config.coordinator,
                 "cohortd host:port (env COHORT_COORDINATOR; default 127.0.0.1:7400)");
  app.add_option("--token", o.global.config.token, "client bearer token (env COHORT_TOKEN)");
  app.add_option("--config", o.global.config.config_file,
                 "config file (env COHORT_CONFIG; default ~/.config/cohort/config.yaml)");
  app.add_option("--tls-ca", o.global.config.tls_ca,
                 "CA certificate (PEM) that signs cohortd's: TLS (env COHORT_TLS_CA)");
  app.add_option("--tls-cert", o.global.config.tls_cert,
                 "client certificate (PEM) for a cohortd that requires one, mTLS "
                 "(env COHORT_TLS_CERT)");
  app.add_option("--tls-key", o.global.config.tls_key,
                 "the client certificate's private key (PEM) (env COHORT_TLS_KEY)");
  app.add_option("--tls-server-name", o.global.config.tls_server_name,
                 "the name cohortd's certificate must carry (default: the coordinator's host; "
                 "env COHORT_TLS_SERVER_NAME)");
  app.add_option("--timeout", o.global.timeout_seconds, "seconds per call")
      ->capture_default_str();
  app.require_subcommand(1);
  Action action;
  AddCampaignCommands(app, &o, &action);
  AddManifestCommands(app, &o, &action);
  AddResultCommands(app, &o, &action);
  AddClusterCommands(app, &o, &action);
  AddDatasetCommands(app, &o, &action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return action ? action() : 2;
}

}  // namespace cohort::client
