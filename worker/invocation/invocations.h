// File: invocations.h
//
// The contract between the executor (worker/exec, which runs steps as
// `cohort-worker <subcommand> ...` child processes) and the subcommands
// (worker/tools, which parse those flags): one struct per subcommand, read
// by the subcommand through AddFlags and written by the executor through
// ToArgv, so the two sides share one definition of every flag.
// InvocationTest round-trips every field through a real CLI11 parse.
//
// Covered: dropmap, quantmap, score, upweight, prune, bench.
//
// What comes back has a type too: score and bench print an
// eval::ScoreSummary (worker/eval/summary.h), which the executor reads back
// before storing it and a gate reads from summary.json; quantmap writes a
// quant::QuantMapSummary (quant_map.json); dropmap writes the reference
// generator's summary byte for byte (worker/prune), of which quantmap reads
// classes_used and weights_used. prune and upweight return files only.
//
// Thread safety: plain values; AddFlags binds the struct's fields to the
// CLI11 app, which writes them while parsing (one thread).
#ifndef COHORT_WORKER_INVOCATION_INVOCATIONS_H_
#define COHORT_WORKER_INVOCATION_INVOCATIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "worker/prune/dropmap_options.h"

namespace CLI {
class App;
}  // namespace CLI

namespace cohort::worker {

// `cohort-worker dropmap`: the drop-map generator, with the reference's long
// flags (prune::DropMapFlagSpecs, those of generate_drop_map_v5.py). Values
// stay text, as argparse receives them: the pruning core converts them
// (DropMapOptionsFromFlags), so int, float and choice handling is argparse's.
struct DropmapInvocation {
  static constexpr const char* kName = "dropmap";
  // Flag name (without "--") -> its value tokens; a flag with no tokens is
  // not given.
  prune::DropMapFlags flags;

  std::vector<std::string> ToArgv() const;
  // Binds every generator flag (nargs as the spec says; a repeated
  // single-value flag keeps its last value, as argparse does).
  void AddFlags(CLI::App* cmd);
  // The flags given, for DropMapOptionsFromFlags.
  prune::DropMapFlags Given() const;
};

// `cohort-worker quantmap`: a per-layer tensor-type map for llama-quantize
// from contribution data and a drop map (worker/quant/quant_plan.h).
struct QuantmapInvocation {
  static constexpr const char* kName = "quantmap";
  std::string data;      // contribution JSON (v5)
  std::string drop_map;  // drop_map.json; its .summary.json names classes and weights
  std::string gguf;      // the model the map is for (convert's output)
  double target_bpw = 0;
  std::vector<std::string> types;    // the ladder; empty: q4_K q5_K q6_K q8_0
  std::vector<std::string> tensors;  // expert tensor kinds; empty: the routed experts'
  std::string output;                // tensor_types.txt (llama-quantize --tensor-type-file)
  std::string summary_output;        // quant_map.json

  std::vector<std::string> ToArgv() const;
  void AddFlags(CLI::App* cmd);
};

// `cohort-worker score`: re-score completions of a bench offline.
struct ScoreInvocation {
  static constexpr const char* kName = "score";
  std::string bench;
  std::string dataset;
  std::string fewshot;  // optional: the split few-shot exemplars came from
  std::string completions;
  std::string out;      // optional: per-problem verdicts (JSONL)
  std::string profile;  // built-in profile name or profile JSON file

  // The flags, after the subcommand's name.
  std::vector<std::string> ToArgv() const;
  // Binds the flags to this struct's fields; `default_profile` is shown as
  // the default and used when the flag is absent.
  void AddFlags(CLI::App* cmd, const std::string& default_profile);
};

// `cohort-worker upweight`: scale shared-expert tensors in place.
struct UpweightInvocation {
  static constexpr const char* kName = "upweight";
  std::string model_dir;
  double alpha = 0;
  std::string target = "mlp.down_proj.weight_scale_2";
  bool restore = false;
  bool force = false;

  std::vector<std::string> ToArgv() const;
  void AddFlags(CLI::App* cmd);
};

// `cohort-worker prune`: drop experts, optionally fused with the upweight.
struct PruneInvocation {
  static constexpr const char* kName = "prune";
  std::string source_dir;
  std::string drop_map;
  std::string output_dir;
  std::string suffix;  // may start with '-' (docs/pruning.md §6)
  std::string layout;
  uint64_t max_shard_bytes = 0;  // 0: the default (5 GiB)
  bool even_group_drop = false;
  bool overwrite = false;
  std::optional<double> upweight_alpha;
  std::string upweight_target;

  std::vector<std::string> ToArgv() const;
  // Also takes "--suffix -x" (a value starting with '-') as the reference
  // script does; call TakeSuffixFromExtras in the callback.
  void AddFlags(CLI::App* cmd);
  // The prune callback's fix-up for "--suffix -x"; false when other extra
  // arguments are left (a usage error).
  bool TakeSuffixFromExtras(CLI::App* cmd);
};

// `cohort-worker bench`: generate completions on llama-server and score
// them. Defaults are cohort-worker's; ToArgv writes only what differs.
struct BenchInvocation {
  static constexpr const char* kName = "bench";
  std::string bench;
  std::string dataset;
  std::string fewshot;
  std::string out;  // the resumable journal
  std::string profile;
  int limit = -1;  // >= 0 overrides the profile's subset (0 = all)
  int shard_index = 0;
  int shard_count = 1;
  std::string scores;  // per-problem verdicts, as `score --out`
  int concurrency = 0;  // 0: the server's slots
  double request_timeout_s = 7200;
  int retries = 6;
  double retry_backoff_s = 2;
  double max_server_error_share = -1;  // < 0: the profile's, else 0.02
  // The server: a running one (server_url) or one started here (model).
  std::string server_url;
  std::string server_model;  // an OpenAI-compatible server's model name
  std::string api_key_file;  // its key, sent as "Authorization: Bearer"

  std::string model;  // a GGUF, or with backend "vllm" a checkpoint folder
  std::string backend = "llama-server";  // or "vllm"
  std::string llama_server = "llama-server";
  std::string vllm = "vllm";
  std::string reasoning_parser;  // vLLM's --reasoning-parser
  int parallel = 2;
  int ctx_size = 0;  // 0: parallel x (generation budget + 4096)
  int gpu = -1;
  std::string server_log;
  std::vector<std::string> server_args;  // extra server arguments
  double progress_every_s = 5;
  double start_timeout_s = 720;

  std::vector<std::string> ToArgv() const;
  void AddFlags(CLI::App* cmd, const std::string& default_profile);
};

// A double as its shortest round-trip decimal text (what Python's repr and
// nlohmann::json's dump print), so alpha reaches the tool bit for bit.
std::string RoundTripDecimal(double value);

}  // namespace cohort::worker

#endif  // COHORT_WORKER_INVOCATION_INVOCATIONS_H_
