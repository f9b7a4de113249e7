#include "worker/invocation/invocations.h"

#include <CLI/CLI.hpp>

#include "nlohmann/json.hpp"

namespace cohort::worker {
namespace {

void AddIfSet(std::vector<std::string>* argv, const char* flag, const std::string& value) {
  if (!value.empty()) argv->insert(argv->end(), {flag, value});
}

}  // namespace

std::string RoundTripDecimal(double value) { return nlohmann::json(value).dump(); }

std::vector<std::string> DropmapInvocation::ToArgv() const {
  std::vector<std::string> argv;
  for (const auto& [name, values] : flags) {
    if (values.empty()) continue;
    argv.push_back("--" + name);
    argv.insert(argv.end(), values.begin(), values.end());
  }
  return argv;
}

void DropmapInvocation::AddFlags(CLI::App* cmd) {
  for (const prune::DropMapFlagSpec& spec : prune::DropMapFlagSpecs()) {
    // std::map nodes never move: the binding stays valid while flags lives.
    CLI::Option* option =
        cmd->add_option(std::string("--") + spec.name, flags[spec.name], spec.help);
    if (spec.nargs < 0) {
      option->expected(1, CLI::detail::expected_max_vector_size);
    } else {
      option->expected(spec.nargs);
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
}

prune::DropMapFlags DropmapInvocation::Given() const {
  prune::DropMapFlags given;
  for (const auto& [name, values] : flags) {
    if (!values.empty()) given[name] = values;
  }
  return given;
}

std::vector<std::string> QuantmapInvocation::ToArgv() const {
  std::vector<std::string> argv = {"--data", data, "--drop-map", drop_map, "--gguf", gguf,
                                   "--target-bpw", RoundTripDecimal(target_bpw)};
  for (const std::string& type : types) argv.insert(argv.end(), {"--type", type});
  for (const std::string& kind : tensors) argv.insert(argv.end(), {"--tensor", kind});
  argv.insert(argv.end(), {"--output", output, "--summary-output", summary_output});
  return argv;
}

void QuantmapInvocation::AddFlags(CLI::App* cmd) {
  cmd->add_option("--data", data, "contribution JSON (v5), as dropmap read it")->required();
  cmd->add_option("--drop-map", drop_map,
                  "drop_map.json; DROP_MAP.summary.json beside it names the classes and weights")
      ->required();
  cmd->add_option("--gguf", gguf, "the GGUF the map is for (convert's output)")->required();
  cmd->add_option("--target-bpw", target_bpw,
                  "average bits per weight over the governed tensors")
      ->required();
  cmd->add_option("--type", types, "a type of the ladder (repeat; default q4_K q5_K q6_K q8_0)");
  cmd->add_option("--tensor", tensors,
                  "a tensor kind the map sets per layer (repeat): expert kinds (default "
                  "ffn_gate_exps ffn_up_exps ffn_gate_up_exps ffn_down_exps) and any other "
                  "matrix of the layer (attn_v, ffn_down_shexp, ...)");
  cmd->add_option("--output", output, "the map, one PATTERN=TYPE per line")->required();
  cmd->add_option("--summary-output", summary_output, "quant_map.json")->required();
}

std::vector<std::string> ScoreInvocation::ToArgv() const {
  std::vector<std::string> argv = {"--bench", bench, "--dataset", dataset,
                                   "--completions", completions};
  AddIfSet(&argv, "--fewshot", fewshot);
  AddIfSet(&argv, "--out", out);
  AddIfSet(&argv, "--profile", profile);
  return argv;
}

void ScoreInvocation::AddFlags(CLI::App* cmd, const std::string& default_profile) {
  profile = default_profile;
  cmd->add_option("--bench", bench,
                  "arc_challenge, gpqa_diamond, gsm8k, math500, aime2024, ifeval, humaneval, "
                  "humanevalplus, lcb, multipl-e-rs, multipl-e-java or multipl-e-js")
      ->required();
  cmd->add_option("--dataset", dataset,
                  "the bench's published data file (.jsonl, .jsonl.gz, GPQA .csv)")
      ->required();
  cmd->add_option("--fewshot", fewshot,
                  "the split few-shot exemplars were drawn from (as given to bench)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--completions", completions,
                  "JSONL: {task_id|id|problem_id|idx|prompt, completion|response}")
      ->required();
  cmd->add_option("--out", out, "per-problem verdicts as JSONL (atomic)");
  cmd->add_option("--profile", profile, "built-in profile name or profile JSON file")
      ->capture_default_str();
}

std::vector<std::string> UpweightInvocation::ToArgv() const {
  std::vector<std::string> argv = {"--model-dir", model_dir, "--alpha", RoundTripDecimal(alpha),
                                   "--target", target};
  if (restore) argv.push_back("--restore");
  if (force) argv.push_back("--force");
  return argv;
}

void UpweightInvocation::AddFlags(CLI::App* cmd) {
  cmd->add_option("--model-dir", model_dir, "model folder")->required();
  cmd->add_option("--alpha", alpha, "scale factor (> 0)");
  cmd->add_option("--target", target, "tensor name suffix")->default_str(target);
  cmd->add_flag("--restore", restore, "copy the .pre_shared_upweight backups back");
  cmd->add_flag("--force", force, "apply even if .shared_applied exists");
}

std::vector<std::string> PruneInvocation::ToArgv() const {
  std::vector<std::string> argv = {"--source-dir", source_dir, "--drop-map", drop_map};
  AddIfSet(&argv, "--output-dir", output_dir);
  // "--suffix=-x": the '=' form keeps a leading '-' from reading as a flag.
  if (!suffix.empty()) argv.push_back("--suffix=" + suffix);
  AddIfSet(&argv, "--layout", layout);
  if (max_shard_bytes != 0) {
    argv.insert(argv.end(), {"--max-shard-bytes", std::to_string(max_shard_bytes)});
  }
  if (even_group_drop) argv.push_back("--even-group-drop");
  if (overwrite) argv.push_back("--overwrite");
  if (upweight_alpha.has_value()) {
    argv.insert(argv.end(), {"--upweight-alpha", RoundTripDecimal(*upweight_alpha)});
  }
  AddIfSet(&argv, "--upweight-target", upweight_target);
  return argv;
}

void PruneInvocation::AddFlags(CLI::App* cmd) {
  cmd->add_option("--source-dir", source_dir, "input model folder")->required();
  cmd->add_option("--drop-map", drop_map, "drop_map.json")->required();
  cmd->add_option("--output-dir", output_dir,
                  "output folder (must not exist; default from --suffix)");
  // A value starting with '-' ("--suffix -hybrid") is taken verbatim
  // (docs/pruning.md §6, item 2): the option takes 0..1 values and a
  // leftover "-x" becomes its value (TakeSuffixFromExtras).
  cmd->add_option("--suffix", suffix, "suffix of the default output name")->expected(0, 1);
  cmd->allow_extras();
  // Without this, "--suffix -hybrid" reads as -h (help) + "ybrid".
  cmd->set_help_flag("--help", "Print this help message and exit");
  cmd->add_option("--layout", layout,
                  "gemma4|mixtral|qwen3moe|deepseekv3|gptoss|llama4 (default: from config.json)");
  cmd->add_option("--max-shard-bytes", max_shard_bytes,
                  "output shard size limit (default 5 GiB)");
  cmd->add_flag("--even-group-drop", even_group_drop,
                "DeepSeek group-limited routing: accept drops that are even per group");
  cmd->add_flag("--overwrite", overwrite, "replace an existing output folder");
  cmd->add_option("--upweight-alpha", upweight_alpha, "fused upweight: alpha");
  cmd->add_option("--upweight-target", upweight_target, "fused upweight: tensor name suffix");
}

bool PruneInvocation::TakeSuffixFromExtras(CLI::App* cmd) {
  std::vector<std::string> extras = cmd->remaining();
  if (cmd->count("--suffix") > 0 && suffix.empty() && extras.size() == 1) {
    suffix = extras[0];
    extras.clear();
  }
  return extras.empty();
}

std::vector<std::string> BenchInvocation::ToArgv() const {
  const BenchInvocation defaults;
  std::vector<std::string> argv = {"--bench", bench, "--dataset", dataset, "--out", out};
  AddIfSet(&argv, "--fewshot", fewshot);
  AddIfSet(&argv, "--profile", profile);
  auto add_int = [&](const char* flag, int value, int fallback) {
    if (value != fallback) argv.insert(argv.end(), {flag, std::to_string(value)});
  };
  auto add_double = [&](const char* flag, double value, double fallback) {
    if (value != fallback) argv.insert(argv.end(), {flag, RoundTripDecimal(value)});
  };
  add_int("--limit", limit, defaults.limit);
  add_int("--shard-index", shard_index, defaults.shard_index);
  add_int("--shard-count", shard_count, defaults.shard_count);
  AddIfSet(&argv, "--scores", scores);
  add_int("--concurrency", concurrency, defaults.concurrency);
  add_double("--request-timeout", request_timeout_s, defaults.request_timeout_s);
  add_int("--retries", retries, defaults.retries);
  add_double("--retry-backoff", retry_backoff_s, defaults.retry_backoff_s);
  add_double("--max-server-error-share", max_server_error_share,
             defaults.max_server_error_share);
  AddIfSet(&argv, "--server-url", server_url);
  // "--server-model=NAME": a served name may start with '-'.
  if (!server_model.empty()) argv.push_back("--server-model=" + server_model);
  AddIfSet(&argv, "--api-key-file", api_key_file);
  AddIfSet(&argv, "--model", model);
  if (backend != defaults.backend) argv.insert(argv.end(), {"--backend", backend});
  if (llama_server != defaults.llama_server) argv.insert(argv.end(), {"--llama-server", llama_server});
  if (vllm != defaults.vllm) argv.insert(argv.end(), {"--vllm", vllm});
  AddIfSet(&argv, "--reasoning-parser", reasoning_parser);
  add_int("--parallel", parallel, defaults.parallel);
  add_int("--ctx-size", ctx_size, defaults.ctx_size);
  add_int("--gpu", gpu, defaults.gpu);
  AddIfSet(&argv, "--server-log", server_log);
  // "--server-arg=-fa": the '=' form keeps a leading '-' from reading as a flag.
  for (const std::string& arg : server_args) argv.push_back("--server-arg=" + arg);
  add_double("--progress-every", progress_every_s, defaults.progress_every_s);
  add_double("--start-timeout", start_timeout_s, defaults.start_timeout_s);
  return argv;
}

void BenchInvocation::AddFlags(CLI::App* cmd, const std::string& default_profile) {
  profile = default_profile;
  cmd->add_option("--bench", bench, "arc_challenge, gpqa_diamond, gsm8k, math500, aime2024 or ifeval")
      ->required();
  cmd->add_option("--dataset", dataset, "the bench's published data file")->required();
  cmd->add_option("--fewshot", fewshot,
                  "the split few-shot exemplars are drawn from (GSM8K: train.jsonl; default: "
                  "train.jsonl beside --dataset)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", out, "completions journal (JSONL; resumed if present)")->required();
  cmd->add_option("--limit", limit, "first N problems (default: the profile's)");
  cmd->add_option("--shard-index", shard_index,
                  "run only this contiguous shard of the problems (0-based)")
      ->capture_default_str();
  cmd->add_option("--shard-count", shard_count, "number of shards")->capture_default_str();
  cmd->add_option("--profile", profile, "built-in profile name or profile JSON file")
      ->capture_default_str();
  cmd->add_option("--scores", scores, "per-problem verdicts as JSONL (atomic)");
  cmd->add_option("--concurrency", concurrency, "requests in flight (default: the server's slots)");
  cmd->add_option("--request-timeout", request_timeout_s, "seconds per request")
      ->capture_default_str();
  cmd->add_option("--retries", retries,
                  "retries per request for transient failures (connection, timeout, 503); "
                  "a 500 from the chat parser is tried twice at most")
      ->capture_default_str();
  cmd->add_option("--retry-backoff", retry_backoff_s, "first retry delay, seconds (doubles)")
      ->capture_default_str();
  cmd->add_option("--max-server-error-share", max_server_error_share,
                  "largest share (0..1) of problems that may end in server errors before "
                  "bench fails (default: the profile's max_server_error_share, else 0.02)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--server-url", server_url,
                  "an already running llama-server, e.g. http://127.0.0.1:8080, or any "
                  "OpenAI-compatible server (vLLM; needs --concurrency)");
  cmd->add_option("--server-model", server_model,
                  "with --server-url: the model name requests carry (default: the first "
                  "of /v1/models; llama-server ignores it)");
  cmd->add_option("--api-key-file", api_key_file,
                  "with --server-url: a file holding the server's API key (sent as "
                  "Authorization: Bearer)");
  cmd->add_option("--model", model,
                  "what to serve here: a GGUF (llama-server), or a checkpoint folder with "
                  "--backend vllm");
  cmd->add_option("--backend", backend, "the server --model starts: llama-server or vllm")
      ->check(CLI::IsMember({"llama-server", "vllm"}))
      ->capture_default_str();
  cmd->add_option("--llama-server", llama_server, "llama-server binary")->capture_default_str();
  cmd->add_option("--vllm", vllm, "vllm binary (runs `vllm serve`)")->capture_default_str();
  cmd->add_option("--reasoning-parser", reasoning_parser,
                  "vLLM's --reasoning-parser for the model family (deepseek_r1, qwen3, ...): "
                  "without it a thinking model's reasoning stays in the content");
  cmd->add_option("--parallel", parallel, "server slots (with --model)")->capture_default_str();
  cmd->add_option("--ctx-size", ctx_size,
                  "total -c (default: parallel x (generation budget + 4096)); vLLM's "
                  "--max-model-len is this / parallel");
  cmd->add_option("--gpu", gpu, "CUDA_VISIBLE_DEVICES for the server");
  cmd->add_option("--server-log", server_log, "server output (default: OUT.llama-server.log)");
  cmd->add_option("--server-arg", server_args,
                  "extra llama-server (or vllm serve) argument (repeatable)");
  cmd->add_option("--progress-every", progress_every_s,
                  "seconds between progress lines on stderr while generating (0: none)")
      ->default_str("5");
  cmd->add_option("--start-timeout", start_timeout_s, "seconds to wait for /health")
      ->capture_default_str();
}

}  // namespace cohort::worker
