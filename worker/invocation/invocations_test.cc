#include "worker/invocation/invocations.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

// Parses `argv` (flags only) the way cohort-worker does, into a fresh `T`.
template <typename T, typename... Extra>
T Parse(const std::vector<std::string>& flags, Extra... extra) {
  CLI::App app("cohort-worker");
  CLI::App* cmd = app.add_subcommand(T::kName);
  T parsed;
  parsed.AddFlags(cmd, extra...);
  std::vector<std::string> args = {T::kName};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);  // CLI11 takes the arguments in reverse
  return parsed;
}

TEST(InvocationTest, ScoreRoundTripsEveryField) {
  // --fewshot must name an existing file (CLI::ExistingFile).
  std::string train = ::testing::TempDir() + "/invocation_train.jsonl";
  std::ofstream(train) << "{}\n";
  ScoreInvocation in{"gsm8k", "/d/test.jsonl", train, "/c.jsonl", "/o.jsonl", "/p.json"};
  ScoreInvocation out = Parse<ScoreInvocation>(in.ToArgv(), std::string("omk-card-2026-07"));
  EXPECT_EQ(out.bench, in.bench);
  EXPECT_EQ(out.fewshot, in.fewshot);
  EXPECT_EQ(out.dataset, in.dataset);
  EXPECT_EQ(out.completions, in.completions);
  EXPECT_EQ(out.out, in.out);
  EXPECT_EQ(out.profile, in.profile);
  in.fewshot.clear();
  EXPECT_EQ(Parse<ScoreInvocation>(in.ToArgv(), std::string("omk-card-2026-07")).fewshot, "");
  in.profile.clear();
  EXPECT_EQ(Parse<ScoreInvocation>(in.ToArgv(), std::string("omk-card-2026-07")).profile,
            "omk-card-2026-07");
}

TEST(InvocationTest, UpweightRoundTripsEveryFieldAndAlphaBitForBit) {
  UpweightInvocation in{"/m", 1.0000000000000002, "mlp.shared.down_proj.weight", true, true};
  UpweightInvocation out = Parse<UpweightInvocation>(in.ToArgv());
  EXPECT_EQ(out.model_dir, in.model_dir);
  EXPECT_EQ(out.alpha, in.alpha);  // exactly: the shortest round-trip text
  EXPECT_EQ(out.target, in.target);
  EXPECT_TRUE(out.restore);
  EXPECT_TRUE(out.force);
  UpweightInvocation plain{"/m", 1.25};
  UpweightInvocation back = Parse<UpweightInvocation>(plain.ToArgv());
  EXPECT_EQ(back.target, "mlp.down_proj.weight_scale_2");
  EXPECT_FALSE(back.restore || back.force);
  EXPECT_EQ(RoundTripDecimal(0.1), "0.1");
}

TEST(InvocationTest, PruneRoundTripsEveryFieldAndADashSuffix) {
  PruneInvocation in;
  in.source_dir = "/src";
  in.drop_map = "/map.json";
  in.output_dir = "/out";
  in.suffix = "-hybrid";  // a leading '-' survives (docs/pruning.md §6)
  in.layout = "gemma4";
  in.max_shard_bytes = 123456789;
  in.even_group_drop = true;
  in.overwrite = true;
  in.upweight_alpha = 1.0625;
  in.upweight_target = "down_proj.weight";
  PruneInvocation out = Parse<PruneInvocation>(in.ToArgv());
  EXPECT_EQ(out.source_dir, in.source_dir);
  EXPECT_EQ(out.drop_map, in.drop_map);
  EXPECT_EQ(out.output_dir, in.output_dir);
  EXPECT_EQ(out.suffix, in.suffix);
  EXPECT_EQ(out.layout, in.layout);
  EXPECT_EQ(out.max_shard_bytes, in.max_shard_bytes);
  EXPECT_TRUE(out.even_group_drop);
  EXPECT_TRUE(out.overwrite);
  EXPECT_EQ(out.upweight_alpha, in.upweight_alpha);
  EXPECT_EQ(out.upweight_target, in.upweight_target);
  PruneInvocation minimal;
  minimal.source_dir = "/src";
  minimal.drop_map = "/m";
  PruneInvocation back = Parse<PruneInvocation>(minimal.ToArgv());
  EXPECT_FALSE(back.upweight_alpha.has_value());
  EXPECT_EQ(back.max_shard_bytes, 0u);
  EXPECT_EQ(back.suffix, "");
}

TEST(InvocationTest, PruneTakesASpaceSeparatedDashSuffixAsTheScriptDoes) {
  CLI::App app("cohort-worker");
  CLI::App* cmd = app.add_subcommand(PruneInvocation::kName);
  PruneInvocation parsed;
  parsed.AddFlags(cmd);
  app.parse(std::vector<std::string>{"-hybrid", "--suffix", "/m", "--drop-map", "/s",
                                     "--source-dir", "prune"});
  EXPECT_TRUE(parsed.TakeSuffixFromExtras(cmd));
  EXPECT_EQ(parsed.suffix, "-hybrid");
}

}  // namespace
}  // namespace cohort::worker
