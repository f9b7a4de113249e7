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

}  // namespace cohort::worker
