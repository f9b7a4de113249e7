// prune, upweight, synth-model and inspect: flag parsing around the tensor
// half of the pruning core (worker/prune).
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "worker/prune/expert_drop.h"
#include "worker/prune/inspect.h"
#include "worker/prune/synth_model.h"
#include "worker/prune/upweight.h"
#include "worker/invocation/invocations.h"
#include "worker/tools/commands.h"

namespace cohort::worker {
namespace {

namespace prune = ::cohort::worker::prune;

int RunPrune(const PruneInvocation& flags) {
  prune::PruneOptions options;
  options.source_dir = flags.source_dir;
  options.drop_map = flags.drop_map;
  options.output_dir = flags.output_dir;
  options.suffix = flags.suffix;
  options.layout = flags.layout;
  if (flags.max_shard_bytes != 0) options.max_shard_bytes = flags.max_shard_bytes;
  options.even_group_drop = flags.even_group_drop;
  options.overwrite = flags.overwrite;
  if (flags.upweight_alpha.has_value() || !flags.upweight_target.empty()) {
    if (!flags.upweight_alpha.has_value() || flags.upweight_target.empty()) {
      return ReportStatus("prune", absl::InvalidArgumentError(
          "--upweight-alpha and --upweight-target go together"));
    }
    options.upweight = prune::FusedUpweight{*flags.upweight_alpha, flags.upweight_target};
  }
  auto result = prune::PruneCheckpoint(options);
  if (!result.ok()) return ReportStatus("prune", result.status());
  std::printf("%s: %d -> %d experts, %d sliced tensors, %d upweighted, "
              "%d shard(s), %llu bytes -> %s\n",
              result->layout.c_str(), result->original_experts,
              result->target_experts, result->sliced_tensors,
              result->upweighted_tensors, result->shards,
              static_cast<unsigned long long>(result->total_size),
              result->output_dir.c_str());
  return kExitOk;
}

void AddPrune(CLI::App& app, CommandFn* selected) {
  auto flags = std::make_shared<PruneInvocation>();
  CLI::App* cmd = app.add_subcommand(
      PruneInvocation::kName, "Drop experts from a MoE checkpoint (expert_drop.py), "
                              "optionally fused with the shared-expert upweight.");
  flags->AddFlags(cmd);
  cmd->callback([cmd, flags, selected] {
    if (!flags->TakeSuffixFromExtras(cmd)) throw CLI::ExtrasError(cmd->remaining());
    *selected = [flags] { return RunPrune(*flags); };
  });
}

int RunUpweight(const UpweightInvocation& flags) {
  if (flags.restore) {
    auto restored = prune::RestoreUpweight(flags.model_dir, flags.target);
    if (!restored.ok()) return ReportStatus("upweight", restored.status());
    std::printf("OK restored %d shard(s)\n", *restored);
    return kExitOk;
  }
  prune::UpweightOptions options;
  options.model_dir = flags.model_dir;
  options.alpha = flags.alpha;
  options.target = flags.target;
  options.force = flags.force;
  auto result = prune::UpweightModel(options);
  if (!result.ok()) return ReportStatus("upweight", result.status());
  std::printf("OK scaled %d tensor(s) in %d shard(s) by alpha=%s (%d backup(s) made)\n",
              result->tensors, result->shards, absl::StrCat(options.alpha).c_str(),
              result->backups_created);
  return kExitOk;
}

void AddUpweight(CLI::App& app, CommandFn* selected) {
  auto flags = std::make_shared<UpweightInvocation>();
  CLI::App* cmd = app.add_subcommand(
      UpweightInvocation::kName, "Scale shared-expert tensors in place (router_shared_upweight.py).");
  flags->AddFlags(cmd);
  cmd->callback([flags, selected] { *selected = [flags] { return RunUpweight(*flags); }; });
}

int RunSynth(const prune::SynthOptions& options) {
  auto result = prune::SynthesizeModel(options);
  if (!result.ok()) return ReportStatus("synth-model", result.status());
  std::printf("%s: %d tensors in %d shard(s), %llu bytes, %d MoE layers -> %s\n",
              options.layout.c_str(), result->tensors, result->shards,
              static_cast<unsigned long long>(result->total_size),
              static_cast<int>(result->moe_layers.size()), options.output_dir.c_str());
  return kExitOk;
}

void AddSynth(CLI::App& app, CommandFn* selected) {
  auto o = std::make_shared<prune::SynthOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth-model", "Write a deterministic random MoE checkpoint.");
  cmd->footer(
      "Each checkpoint carries a complete config.json, a tokenizer the project writes\n"
      "(tokenizer.json; tokenizer.model for SentencePiece families; vocab.json and\n"
      "merges.txt for byte-level BPE ones) and a chat template.\n"
      "llama.cpp's convert_hf_to_gguf.py converts the mixtral layout (SentencePiece).\n"
      "It cannot convert the byte-level BPE layouts (qwen3moe, deepseekv3, gptoss,\n"
      "llama4): it identifies a BPE pre-tokenizer by hashing the token ids of a fixed\n"
      "text, and a synthetic vocabulary matches no known hash. gemma4 needs the\n"
      "transformers package (LlamaHfVocab). docs/real-tools.md has the details.");
  cmd->add_option("--layout", o->layout, "gemma4|mixtral|qwen3moe|deepseekv3|gptoss|llama4")
      ->default_str(o->layout);
  cmd->add_option("--output-dir", o->output_dir, "output folder")->required();
  cmd->add_option("--layers", o->layers)->default_str("4");
  cmd->add_option("--experts", o->experts)->default_str("16");
  cmd->add_option("--hidden", o->hidden)->default_str("64");
  cmd->add_option("--moe-intermediate", o->moe_intermediate)->default_str("32");
  cmd->add_option("--intermediate", o->intermediate, "shared/dense MLP width")->default_str("48");
  cmd->add_option("--vocab", o->vocab, "tokens (at least 360: every byte has one)")->default_str("512");
  cmd->add_option("--top-k", o->top_k)->default_str("4");
  cmd->add_option("--n-group", o->n_group, "deepseekv3 routing groups")->default_str("1");
  cmd->add_option("--seed", o->seed)->default_str("1234");
  cmd->add_option("--shards", o->shards, "shard count (0: split by --max-shard-bytes)")
      ->default_str("2");
  cmd->add_option("--max-shard-bytes", o->max_shard_bytes);
  cmd->add_option("--drop-map-out", o->drop_map_out, "also write a random drop map here");
  cmd->add_option("--drop-count", o->drop_count, "experts dropped per layer in that map");
  cmd->add_flag("--overwrite", o->overwrite);
  cmd->callback([o, selected] { *selected = [o] { return RunSynth(*o); }; });
}

struct InspectFlags {
  std::string dir;
  std::string layout;
  bool json = false;
};

int RunInspect(const InspectFlags& flags) {
  auto report = prune::InspectCheckpoint(flags.dir, flags.layout);
  if (!report.ok()) return ReportStatus("inspect", report.status());
  if (flags.json) {
    std::printf("%s\n", prune::PyJsonDumps(prune::InspectJson(*report), 2).c_str());
  } else {
    std::printf("%s", prune::FormatInspectText(*report).c_str());
  }
  return report->problems.empty() ? kExitOk : kExitBadInput;
}

void AddInspect(CLI::App& app, CommandFn* selected) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show the MoE structure of a checkpoint and check it "
                 "(exit 2 if inconsistent).");
  cmd->add_option("dir", flags->dir, "model folder")->required();
  cmd->add_option("--layout", flags->layout, "override the detected layout");
  cmd->add_flag("--json", flags->json, "machine-readable output");
  cmd->callback([flags, selected] { *selected = [flags] { return RunInspect(*flags); }; });
}

}  // namespace

void AddTensorCommands(CLI::App& app, CommandFn* selected) {
  AddPrune(app, selected);
  AddUpweight(app, selected);
  AddSynth(app, selected);
  AddInspect(app, selected);
}

}  // namespace cohort::worker
