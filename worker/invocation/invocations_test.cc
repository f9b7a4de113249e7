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

TEST(InvocationTest, DropmapRoundTripsEveryGeneratorFlag) {
  DropmapInvocation in;
  for (const prune::DropMapFlagSpec& spec : prune::DropMapFlagSpecs()) {
    // Values as the executor writes them: paths, words, negative numbers.
    const int count = spec.nargs < 0 ? 3 : spec.nargs;
    for (int i = 0; i < count; ++i) {
      in.flags[spec.name].push_back(i == 1 ? "-0.5" : std::string(spec.name) + "_" +
                                                          std::to_string(i));
    }
  }
  DropmapInvocation out = Parse<DropmapInvocation>(in.ToArgv());
  EXPECT_EQ(out.Given(), in.flags);
  EXPECT_EQ(in.flags.size(), prune::DropMapFlagSpecs().size());
}

TEST(InvocationTest, DropmapGivesOnlyTheFlagsOnItsCommandLine) {
  DropmapInvocation out =
      Parse<DropmapInvocation>({"--data", "/c.json", "--target", "98", "--target", "100"});
  EXPECT_EQ(out.Given(), (prune::DropMapFlags{{"data", {"/c.json"}}, {"target", {"100"}}}))
      << "argparse keeps a repeated flag's last value";
}

TEST(InvocationTest, QuantmapRoundTripsEveryField) {
  QuantmapInvocation in{"/c.json", "/d/drop_map.json", "/m.gguf", 5.0000000000000009,
                        {"q4_K", "q8_0"}, {"ffn_down_exps"}, "/t.txt", "/q.json"};
  QuantmapInvocation out = Parse<QuantmapInvocation>(in.ToArgv());
  EXPECT_EQ(out.data, in.data);
  EXPECT_EQ(out.drop_map, in.drop_map);
  EXPECT_EQ(out.gguf, in.gguf);
  EXPECT_EQ(out.target_bpw, in.target_bpw);
  EXPECT_EQ(out.types, in.types);
  EXPECT_EQ(out.tensors, in.tensors);
  EXPECT_EQ(out.output, in.output);
  EXPECT_EQ(out.summary_output, in.summary_output);
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

TEST(InvocationTest, BenchRoundTripsEveryField) {
  std::string train = ::testing::TempDir() + "/invocation_bench_train.jsonl";
  std::ofstream(train) << "{}\n";
  BenchInvocation in;
  in.bench = "gsm8k";
  in.dataset = "/d/test.jsonl";
  in.fewshot = train;
  in.out = "/w/completions.jsonl";
  in.profile = "/w/profile.json";
  in.limit = 0;
  in.shard_index = 3;
  in.shard_count = 4;
  in.scores = "/w/scores.jsonl";
  in.concurrency = 5;
  in.request_timeout_s = 12.5;
  in.retries = 2;
  in.retry_backoff_s = 0.25;
  in.max_server_error_share = 0.1;
  in.model = "/m.gguf";
  in.server_url = "http://gpu-box:8000";  // both given: bench refuses, the flags carry both
  in.server_model = "-gemma-4-nvfp4";  // a leading '-' is still the value
  in.api_key_file = "/etc/cohort/vllm.key";
  in.llama_server = "/bin/llama-server";
  in.backend = "vllm";
  in.vllm = "/opt/vllm/bin/vllm";
  in.reasoning_parser = "qwen3";
  in.parallel = 4;
  in.ctx_size = 40960;
  in.gpu = 1;
  in.server_log = "/w/server.log";
  in.server_args = {"--flash-attn", "on", "-ngl"};
  in.progress_every_s = 0;
  in.start_timeout_s = 30;
  BenchInvocation out = Parse<BenchInvocation>(in.ToArgv(), std::string("omk-card-2026-07"));
  EXPECT_EQ(out.bench, in.bench);
  EXPECT_EQ(out.dataset, in.dataset);
  EXPECT_EQ(out.fewshot, in.fewshot);
  EXPECT_EQ(out.out, in.out);
  EXPECT_EQ(out.profile, in.profile);
  EXPECT_EQ(out.limit, in.limit);
  EXPECT_EQ(out.shard_index, in.shard_index);
  EXPECT_EQ(out.shard_count, in.shard_count);
  EXPECT_EQ(out.scores, in.scores);
  EXPECT_EQ(out.concurrency, in.concurrency);
  EXPECT_EQ(out.request_timeout_s, in.request_timeout_s);
  EXPECT_EQ(out.retries, in.retries);
  EXPECT_EQ(out.retry_backoff_s, in.retry_backoff_s);
  EXPECT_EQ(out.max_server_error_share, in.max_server_error_share);
  EXPECT_EQ(out.model, in.model);
  EXPECT_EQ(out.server_url, in.server_url);
  EXPECT_EQ(out.server_model, in.server_model);
  EXPECT_EQ(out.api_key_file, in.api_key_file);
  EXPECT_EQ(out.llama_server, in.llama_server);
  EXPECT_EQ(out.backend, in.backend);
  EXPECT_EQ(out.vllm, in.vllm);
  EXPECT_EQ(out.reasoning_parser, in.reasoning_parser);
  EXPECT_EQ(out.parallel, in.parallel);
  EXPECT_EQ(out.ctx_size, in.ctx_size);
  EXPECT_EQ(out.gpu, in.gpu);
  EXPECT_EQ(out.server_log, in.server_log);
  EXPECT_EQ(out.server_args, in.server_args);
  EXPECT_EQ(out.progress_every_s, in.progress_every_s);
  EXPECT_EQ(out.start_timeout_s, in.start_timeout_s);
  // Defaults stay off the command line and come back as defaults.
  BenchInvocation minimal;
  minimal.bench = "ifeval";
  minimal.dataset = "/d";
  minimal.out = "/o";
  EXPECT_EQ(minimal.ToArgv().size(), 6u);
  BenchInvocation back = Parse<BenchInvocation>(minimal.ToArgv(), std::string("p"));
  EXPECT_EQ(back.profile, "p");
  EXPECT_EQ(back.limit, -1);
  EXPECT_EQ(back.max_server_error_share, -1);
  EXPECT_EQ(back.parallel, 2);
  EXPECT_EQ(back.gpu, -1);
  EXPECT_EQ(back.backend, "llama-server");
}

}  // namespace
}  // namespace cohort::worker
