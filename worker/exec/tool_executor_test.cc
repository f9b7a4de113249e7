// Runs the real offline cores (this build's cohort-worker) and the llama.cpp
// fakes (tests/fakes) through the executor, as a worker would.
#include "worker/exec/tool_executor.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/exec/gate.h"
#include "worker/llama/fake_server.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_summary.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

class ToolExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.self_binary = std::string(COHORT_BIN_DIR) + "/cohort-worker";
    config_.llama_cpp_dir = COHORT_FAKES_DIR;
    Run({config_.self_binary, "synth-model", "--layout", "gemma4", "--output-dir",
         dir_.Join("base"), "--layers", "2", "--experts", "8"});
    Run({config_.self_binary, "synth-contrib", "--layers", "2", "--experts", "8",
         "--output", dir_.Join("contrib.json")});
  }
  static void Run(std::vector<std::string> argv) {
    SubprocessOptions options;
    options.argv = std::move(argv);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
  }
  StepTask Task(TaskKind kind, std::string params,
                std::map<std::string, std::string> inputs) {
    StepTask task;
    task.kind = kind;
    task.key = "sha256:test";
    task.params_json = std::move(params);
    task.inputs = std::move(inputs);
    task.output_root = dir_.Join("out" + std::to_string(++steps_));
    fs::create_directories(task.output_root);
    task.log_path = task.output_root + ".log";
    return task;
  }
  // The card profile with gsm8k alone, limited to `limit` problems.
  static nlohmann::json Gsm8kProfile(int limit) {
    absl::StatusOr<std::string> text = ReadFileToString(
        cohort::testing::SourceDir() + "/worker/eval/profiles/omk-card-2026-07.json");
    EXPECT_OK(text.status());
    nlohmann::json profile = nlohmann::json::parse(text.value_or("{}"));
    nlohmann::json gsm8k = profile["benches"]["gsm8k"];
    gsm8k["limit"] = limit;
    profile["benches"] = {{"gsm8k", gsm8k}};
    return profile;
  }
  // A generate step's summary.json (null when unreadable).
  static nlohmann::json SummaryOf(const StepResult& result) {
    absl::StatusOr<std::string> text =
        ReadFileToString(result.outputs[0].second + "/summary.json");
    if (!text.ok()) return nullptr;
    nlohmann::json s = nlohmann::json::parse(*text, nullptr, false);
    return s.is_discarded() ? nlohmann::json(nullptr) : s;
  }
  absl::StatusOr<StepResult> Execute(const StepTask& task) {
    ToolExecutor executor(config_);
    return executor.Execute(task);
  }

  TempDir dir_;
  ToolConfig config_;
  int steps_ = 0;
};

TEST_F(ToolExecutorTest, ChainFromContributionsToQuantizedGguf) {
  ASSERT_OK_AND_ASSIGN(
      StepResult dropmap,
      Execute(Task(TaskKind::kDropmap,
                   R"({"flags": {"target": 6, "protect_top": 1, "alpha": 2.0}})",
                   {{"contrib", dir_.Join("contrib.json")}})));
  ASSERT_EQ(dropmap.outputs.size(), 1u);
  EXPECT_TRUE(fs::exists(dropmap.outputs[0].second + "/drop_map.json"));
  EXPECT_TRUE(fs::exists(dropmap.outputs[0].second + "/drop_map.json.summary.json"));

  ASSERT_OK_AND_ASSIGN(
      StepResult prune,
      Execute(Task(TaskKind::kPrune,
                   R"({"upweight": {"alpha": 1.2, "target": "mlp.down_proj.weight"}})",
                   {{"checkpoint", dir_.Join("base")},
                    {"drop_map", dropmap.outputs[0].second}})));
  std::string pruned = prune.outputs[0].second;
  ASSERT_OK_AND_ASSIGN(std::string config, ReadFileToString(pruned + "/config.json"));
  EXPECT_EQ(nlohmann::json::parse(config)["text_config"]["num_experts"], 6);

  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, R"({"outtype": "bf16"})",
                                    {{"checkpoint", pruned}})));
  ASSERT_OK_AND_ASSIGN(StepResult quantize,
                       Execute(Task(TaskKind::kQuantize, R"({"type": "Q6_K"})",
                                    {{"gguf", convert.outputs[0].second}})));
  std::string model = quantize.outputs[0].second + "/model-Q6_K.gguf";
  ASSERT_OK_AND_ASSIGN(quant::GgufContents gguf, quant::ReadGgufFile(model));
  ASSERT_OK_AND_ASSIGN(quant::GgufSummary summary, quant::SummarizeGguf(gguf));
  EXPECT_EQ(summary.expert_count, 6u);
  EXPECT_EQ(summary.file_type_name, "MOSTLY_Q6_K");
}

// Inputs at other paths and other output folders (another worker) give the
// same bytes: what the tools record of their paths is the same everywhere.
TEST_F(ToolExecutorTest, ChainOutputsDependOnInputsNotOnPaths) {
  fs::create_directories(dir_.Join("elsewhere"));
  fs::copy(dir_.Join("base"), dir_.Join("elsewhere/base"), fs::copy_options::recursive);
  fs::copy_file(dir_.Join("contrib.json"), dir_.Join("elsewhere/contrib.json"));
  std::vector<std::string> digests[2];
  for (const std::string& root : {dir_.path(), dir_.Join("elsewhere")}) {
    std::vector<std::string>& out = digests[root == dir_.path() ? 0 : 1];
    ASSERT_OK_AND_ASSIGN(
        StepResult dropmap,
        Execute(Task(TaskKind::kDropmap, R"({"flags": {"target": 6, "protect_top": 1}})",
                     {{"contrib", root + "/contrib.json"}})));
    ASSERT_OK_AND_ASSIGN(
        StepResult prune,
        Execute(Task(TaskKind::kPrune, "{}",
                     {{"checkpoint", root + "/base"},
                      {"drop_map", dropmap.outputs[0].second}})));
    ASSERT_OK_AND_ASSIGN(StepResult convert,
                         Execute(Task(TaskKind::kConvert, R"({"outtype": "bf16"})",
                                      {{"checkpoint", prune.outputs[0].second}})));
    for (const StepResult* r : {&dropmap, &prune, &convert}) {
      ASSERT_OK_AND_ASSIGN(std::string digest, Sha256Folder(r->outputs[0].second));
      out.push_back(digest);
    }
  }
  EXPECT_EQ(digests[0], digests[1]);
  // The pruned checkpoint names its drop map as the step's input.
  ASSERT_OK_AND_ASSIGN(std::string meta,
                       ReadFileToString(dir_.Join("out2/checkpoint/expert_drop_metadata.json")));
  EXPECT_THAT(meta, HasSubstr("\"drop_map_file\": \"inputs/drop_map.json\""));
}

TEST_F(ToolExecutorTest, WrongExpertCountFromQuantizeIsRefused) {
  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}})));
  setenv("COHORT_FAKE_FAIL", "wrong_expert_count", 1);
  setenv("COHORT_FAKE_FAIL_ONLY", "llama-quantize", 1);
  absl::StatusOr<StepResult> quantize = Execute(
      Task(TaskKind::kQuantize, R"({"type": "Q6_K"})", {{"gguf", convert.outputs[0].second}}));
  unsetenv("COHORT_FAKE_FAIL");
  unsetenv("COHORT_FAKE_FAIL_ONLY");
  EXPECT_THAT(quantize, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("expert_count is 9, expected 8")));
}

// A worker whose converter Python failed its start-up probe refuses a
// convert step with the probe's message before anything runs.
TEST_F(ToolExecutorTest, ConvertIsRefusedWithTheProbesMessage) {
  config_.converter_problem = "convert_hf_to_gguf.py cannot run: python3 lacks transformers";
  StepTask task = Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}});
  EXPECT_THAT(Execute(task), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      HasSubstr("python3 lacks transformers")));
  EXPECT_FALSE(fs::exists(task.output_root + "/gguf"));
}

// The quantize type names the output file (model-<type>.gguf): a type that
// is a path is refused before the tool runs or anything is written.
TEST_F(ToolExecutorTest, QuantizeTypeThatIsAPathIsRefused) {
  for (const char* params : {R"({"type": "../../../evil"})", R"({"type": "Q4/../../x"})",
                             R"({"type": "Q4_K_M\u0000/../x"})", R"({"type": "/etc/passwd"})"}) {
    StepTask task = Task(TaskKind::kQuantize, params, {{"gguf", dir_.Join("missing.gguf")}});
    EXPECT_THAT(Execute(task), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("is not a llama.cpp type name")))
        << params;
    EXPECT_TRUE(fs::is_empty(task.output_root)) << params;
  }
  EXPECT_FALSE(fs::exists(dir_.Join("evil.gguf")));
}

TEST_F(ToolExecutorTest, CrashingToolIsRetryableAndBadInputIsNot) {
  setenv("COHORT_FAKE_FAIL", "crash", 1);
  absl::StatusOr<StepResult> crashed =
      Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}}));
  unsetenv("COHORT_FAKE_FAIL");
  EXPECT_THAT(crashed, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("signal")));
  std::ofstream(dir_.Join("bad.json")) << "{\"metadata\": ";
  EXPECT_THAT(Execute(Task(TaskKind::kDropmap, R"({"flags": {"target": 6}})",
                           {{"contrib", dir_.Join("bad.json")}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.json")));
  EXPECT_THAT(Execute(Task(TaskKind::kDropmap, R"({"flags": {"output": "x"}})",
                           {{"contrib", dir_.Join("contrib.json")}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inputs")));
}

TEST_F(ToolExecutorTest, UpweightLeavesItsInputUntouched) {
  ASSERT_OK_AND_ASSIGN(std::string before,
                       ReadFileToString(dir_.Join("base/model-00001-of-00002.safetensors")));
  ASSERT_OK_AND_ASSIGN(
      StepResult up,
      Execute(Task(TaskKind::kUpweight, R"({"alpha": 1.5, "target": "mlp.down_proj.weight"})",
                   {{"checkpoint", dir_.Join("base")}})));
  ASSERT_OK_AND_ASSIGN(std::string after,
                       ReadFileToString(dir_.Join("base/model-00001-of-00002.safetensors")));
  EXPECT_EQ(before, after);
  EXPECT_TRUE(fs::exists(up.outputs[0].second + "/config.json"));
}

TEST_F(ToolExecutorTest, CancelledStepStopsTheTool) {
  setenv("COHORT_FAKE_FAIL", "hang", 1);
  StepTask task = Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}});
  absl::Time stop_at = absl::Now() + absl::Milliseconds(300);
  task.should_stop = [&] { return absl::Now() >= stop_at; };
  absl::StatusOr<StepResult> result = Execute(task);
  unsetenv("COHORT_FAKE_FAIL");
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled, ::testing::_));
}

// generate (the fake llama-server) then score, on the real GSM8K file.
TEST_F(ToolExecutorTest, GenerateThenScoreStreamsScoredRows) {
  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}})));
  nlohmann::json profile = Gsm8kProfile(3);
  std::string dataset = cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl";
  nlohmann::json params = {{"bench", "gsm8k"}, {"profile", profile},
                           {"shard", {{"index", 0}, {"count", 1}}},
                           {"server", {{"parallel", 2}, {"ctx_size", 65536}}}};
  StepTask generate = Task(TaskKind::kGenerate, params.dump(),
                           {{"gguf", convert.outputs[0].second}, {"dataset", dataset}});
  generate.work_dir = dir_.Join("work");
  fs::create_directories(generate.work_dir);
  ASSERT_OK_AND_ASSIGN(StepResult completions, Execute(generate));
  ASSERT_OK_AND_ASSIGN(std::string lines,
                       ReadFileToString(completions.outputs[0].second + "/completions.jsonl"));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);

  std::vector<eval::ProblemResult> rows;
  StepTask score = Task(TaskKind::kScore,
                        nlohmann::json{{"bench", "gsm8k"}, {"profile", profile}}.dump(),
                        {{"completions", completions.outputs[0].second}, {"dataset", dataset}});
  score.on_result = [&](const eval::ProblemResult& row) { rows.push_back(row); };
  ASSERT_OK_AND_ASSIGN(StepResult scores, Execute(score));
  ASSERT_EQ(rows.size(), 3u);
  for (const eval::ProblemResult& row : rows) {
    EXPECT_FALSE(row.id.empty());
    EXPECT_FALSE(row.server_error());
    EXPECT_GT(row.completion_tokens.value_or(0), 0);
    EXPECT_FALSE(row.finish_reason.empty());
    EXPECT_FALSE(row.scorer_version.empty());
  }
  const std::string summary_path = scores.outputs[0].second + "/summary.json";
  ASSERT_OK_AND_ASSIGN(std::string summary, ReadFileToString(summary_path));
  ASSERT_OK_AND_ASSIGN(eval::ScoreSummary typed,
                       eval::ScoreSummaryFromJson(nlohmann::json::parse(summary)));
  EXPECT_EQ(typed.n, 3);
  EXPECT_EQ(typed.bench, "gsm8k");
  ASSERT_OK_AND_ASSIGN(std::string completions_summary,
                       ReadFileToString(completions.outputs[0].second + "/summary.json"));
  ASSERT_OK_AND_ASSIGN(eval::ScoreSummary generated,
                       eval::ScoreSummaryFromJson(nlohmann::json::parse(completions_summary)));
  ASSERT_TRUE(generated.generation.has_value());  // bench's summary says how it generated
  EXPECT_EQ(generated.generation->generated, 3);

  // The gate reads the stored summary as its type: a damaged one fails the
  // gate step with the file and the field, instead of gating on a default.
  const std::string scores_dir = scores.outputs[0].second;
  nlohmann::json gate = {{"metric", "accuracy"}, {"op", ">="}, {"value", 0.0}};
  ASSERT_OK_AND_ASSIGN(StepResult held,
                       Execute(Task(TaskKind::kGate, gate.dump(), {{"scores", scores_dir}})));
  EXPECT_FALSE(held.gate_failed);
  nlohmann::json damaged = nlohmann::json::parse(summary);
  damaged["length"]["budget"].erase("at_or_over");
  ASSERT_OK(WriteFileAtomically(summary_path, damaged.dump()));
  EXPECT_THAT(Execute(Task(TaskKind::kGate, gate.dump(), {{"scores", scores_dir}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(summary_path),
                             HasSubstr("summary.length.budget.at_or_over is missing"))));
}

// The worker gives each step the GPUs it holds: the step's tools (here the
// llama-server a generate step starts) see those cards and no others. The
// fake tools print the devices they see as ggml's CUDA backend does
// (tests/fakes/README.md, "GPUs").
TEST_F(ToolExecutorTest, StepToolsSeeOnlyTheGpusTheStepHolds) {
  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}})));
  std::string dataset = cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl";
  nlohmann::json params = {{"bench", "gsm8k"}, {"profile", Gsm8kProfile(1)},
                           {"shard", {{"index", 0}, {"count", 1}}},
                           {"server", {{"parallel", 1}, {"ctx_size", 65536}}}};
  setenv("FAKE_CUDA_DEVICES", "card-a,card-b", 1);
  struct Case {
    std::optional<std::string> visible;
    std::vector<std::string> seen, unseen;
  };
  const Case cases[] = {
      {std::string("1"), {"found 1 CUDA devices", "Device 0: card-b"}, {"card-a"}},
      {std::string(""), {"no CUDA-capable device is detected"}, {"card-a", "card-b"}},
      {std::nullopt, {"found 2 CUDA devices", "Device 1: card-b"}, {}},  // a worker offering no GPUs
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.visible.value_or("(inherit)"));
    StepTask generate = Task(TaskKind::kGenerate, params.dump(),
                             {{"gguf", convert.outputs[0].second}, {"dataset", dataset}});
    generate.work_dir = dir_.Join("work-gpu-" + std::to_string(++n));
    fs::create_directories(generate.work_dir);
    generate.visible_gpus = c.visible;
    ASSERT_OK(Execute(generate).status());
    ASSERT_OK_AND_ASSIGN(std::string log,
                         ReadFileToString(generate.work_dir + "/llama-server.log"));
    for (const std::string& s : c.seen) EXPECT_THAT(log, HasSubstr(s));
    for (const std::string& s : c.unseen) EXPECT_THAT(log, Not(HasSubstr(s)));
  }
  unsetenv("FAKE_CUDA_DEVICES");
}

// A step whose params have the wrong types (a submitter's mistake or an
// attack) fails for good with the reason; it used to throw nlohmann's
// type_error out of the executor and end the worker, which then leased the
// same step again after its restart.
TEST_F(ToolExecutorTest, ParamsOfTheWrongTypeFailTheStepInsteadOfThrowing) {
  const std::string dataset = cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl";
  fs::create_directories(dir_.Join("completions"));
  for (const char* params : {R"({"bench": 1, "profile": {}})",
                             R"({"bench": "gsm8k", "profile": {"benches": 7}})",
                             R"({"bench": ["x"], "profile": "y"})"}) {
    absl::StatusOr<StepResult> result = Execute(Task(
        TaskKind::kScore, params, {{"completions", dir_.Join("completions")}, {"dataset", dataset}}));
    EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_)) << params;
  }
  absl::StatusOr<StepResult> quantize =
      Execute(Task(TaskKind::kQuantize, R"({"type": {"nested": true}})",
                   {{"gguf", dir_.Join("missing.gguf")}}));
  EXPECT_FALSE(quantize.ok());
  EXPECT_NE(quantize.status().code(), absl::StatusCode::kUnknown);
}

// Flags reach the generator only from its own list, with typed values; the
// ones that name files come from the step's inputs. Each of these pointed
// the tool at a file of the worker's machine (or tried to).
TEST_F(ToolExecutorTest, DropmapFlagsAreAnAllowListWithTypedValues) {
  for (const char* flags : {R"({"data=/etc/passwd": 1})", R"({"baseline-drop-map": "x.json"})",
                            R"({"baseline_drop_map": "x.json"})", R"({"v4_floor_data": "y"})",
                            R"({"summary_output": "z"})", R"({"no_such_flag": 1})",
                            R"({"strategy": "--data=/etc/passwd"})", R"({"strategy": "/etc/passwd"})",
                            R"({"strategy": "max x"})", R"({"target": {"a": 1}})",
                            R"({"v4_floor_clamp": [1]})", R"({"classes": []})"}) {
    absl::StatusOr<StepResult> result =
        Execute(Task(TaskKind::kDropmap, absl::StrCat(R"({"target": 6, "flags": )", flags, "}"),
                     {{"contrib", dir_.Join("contrib.json")}}));
    EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("params.flags."))) << flags;
  }
  EXPECT_OK(Execute(Task(TaskKind::kDropmap,
                         R"({"flags": {"target": 6, "strategy": "max", "protect_top": 1,
                                       "class_weights": [1, 2, 1, 1, 1, 1, 1, 1.5]}})",
                         {{"contrib", dir_.Join("contrib.json")}}))
                .status());
}

TEST(ToolProgressTest, ReadsQuantizeLines) {
  TaskProgress p;
  ASSERT_TRUE(ParseToolProgress(
      "[  12/ 363]                  blk.0.attn_q.weight - [ 2816,  4096], type =   bf16",
      &p));
  EXPECT_EQ(p.done, 12u);
  EXPECT_EQ(p.total, 363u);
  EXPECT_FALSE(ParseToolProgress("llama_model_quantize_impl: model size = 48 MB", &p));
  EXPECT_FALSE(ParseToolProgress("[9/3] nonsense", &p));
}

TEST(ToolProgressTest, ReadsTheBenchsGenerationLines) {
  TaskProgress p;
  ASSERT_TRUE(ParseToolProgress("progress: 3/20 problems, 2 in flight, 812 tok/s, eta 1m35s", &p));
  EXPECT_EQ(p.done, 3u);
  EXPECT_EQ(p.total, 20u);
  EXPECT_EQ(p.unit, "problems");
  EXPECT_EQ(p.message, "2 in flight, 812 tok/s, eta 1m35s");
  EXPECT_FALSE(ParseToolProgress("progress: 30/20 problems", &p));
  EXPECT_FALSE(ParseToolProgress("progress: x/20 problems", &p));
  EXPECT_FALSE(ParseToolProgress("progress: 3/20 tensors", &p));
}

// A generate step streams the bench's generation progress (problems with a
// journal row, the rate) as typed progress.
TEST_F(ToolExecutorTest, GenerateReportsGenerationProgress) {
  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}})));
  nlohmann::json profile = Gsm8kProfile(4);
  nlohmann::json params = {{"bench", "gsm8k"}, {"profile", profile},
                           {"server", {{"parallel", 2}, {"ctx_size", 65536}}}};
  StepTask task = Task(TaskKind::kGenerate, params.dump(),
                       {{"gguf", convert.outputs[0].second},
                        {"dataset", cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl"}});
  std::vector<TaskProgress> seen;
  task.on_progress = [&](const TaskProgress& p) { seen.push_back(p); };
  ASSERT_OK(Execute(task).status());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().unit, "problems");
  EXPECT_EQ(seen.back().total, 4u);
  EXPECT_EQ(seen.back().done, 4u);
  EXPECT_THAT(seen.back().message, HasSubstr("in flight"));
}

TEST_F(ToolExecutorTest, QuantizeReportsProgress) {
  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}})));
  StepTask quantize = Task(TaskKind::kQuantize, R"({"type": "Q6_K"})",
                           {{"gguf", convert.outputs[0].second}});
  TaskProgress last;
  int updates = 0;
  quantize.on_progress = [&](const TaskProgress& p) {
    last = p;
    ++updates;
  };
  ASSERT_OK(Execute(quantize).status());
  EXPECT_GT(updates, 1);
  EXPECT_EQ(last.done, last.total);
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(quantize.log_path));
  EXPECT_THAT(log, HasSubstr("llama-quantize"));
}

// A per-layer quant map reaches llama-quantize as --tensor-type rules and
// the output is checked against it: a rule that sets no tensor's type (a
// typo) fails the step instead of passing off the tier's quant as the map's.
TEST_F(ToolExecutorTest, QuantizeAppliesATensorTypeMapAndChecksIt) {
  ASSERT_OK_AND_ASSIGN(StepResult convert,
                       Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", dir_.Join("base")}})));
  const std::string gguf = convert.outputs[0].second;
  StepTask mapped = Task(TaskKind::kQuantize,
                         R"({"type": "Q4_K_M", "tensor_types": ["FFN_DOWN_EXPS=Q8_0"]})",
                         {{"gguf", gguf}});
  ASSERT_OK_AND_ASSIGN(StepResult result, Execute(mapped));
  ASSERT_OK_AND_ASSIGN(quant::GgufContents out,
                       quant::ReadGgufFile(result.outputs[0].second + "/model-Q4_K_M.gguf"));
  int down = 0;
  for (const quant::GgufTensorInfo& t : out.tensors) {
    // The .scale tensors match too; llama-quantize never quantizes those.
    if (!absl::EndsWith(t.name, "ffn_down_exps.weight")) continue;
    ++down;
    EXPECT_STREQ(t.type_info->name, "q8_0") << t.name;
  }
  EXPECT_GT(down, 0);
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(mapped.log_path));
  EXPECT_THAT(log, HasSubstr("--tensor-type ffn_down_exps=q8_0"));
  EXPECT_THAT(log, HasSubstr("applying manual override"));

  EXPECT_THAT(Execute(Task(TaskKind::kQuantize,
                           R"({"type": "Q4_K_M", "tensor_types": ["fnn_down_exps=q8_0"]})",
                           {{"gguf", gguf}})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("set no tensor's type")));
  EXPECT_THAT(Execute(Task(TaskKind::kQuantize,
                           R"({"type": "Q4_K_M", "tensor_types": ["ffn_down_exps=q9_9"]})",
                           {{"gguf", gguf}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ffn_down_exps=q9_9")));
  EXPECT_THAT(Execute(Task(TaskKind::kQuantize, R"({"type": "Q4_K_M", "tensor_types": "x=q8_0"})",
                           {{"gguf", gguf}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tensor_types")));
}

// The quantmap step between dropmap and quantize: a map from the
// contribution data and the drop map, which the quantize step applies and
// checks tensor by tensor.
TEST_F(ToolExecutorTest, AGeneratedQuantMapReachesLlamaQuantize) {
  ASSERT_OK_AND_ASSIGN(
      StepResult dropmap,
      Execute(Task(TaskKind::kDropmap, R"({"flags": {"target": 6, "protect_top": 1}})",
                   {{"contrib", dir_.Join("contrib.json")}})));
  ASSERT_OK_AND_ASSIGN(StepResult prune,
                       Execute(Task(TaskKind::kPrune, "{}",
                                    {{"checkpoint", dir_.Join("base")},
                                     {"drop_map", dropmap.outputs[0].second}})));
  ASSERT_OK_AND_ASSIGN(
      StepResult convert,
      Execute(Task(TaskKind::kConvert, "{}", {{"checkpoint", prune.outputs[0].second}})));
  // q4_0 and q8_0: whole blocks for the synthetic model's rows, so no
  // tensor falls back and every type is the plan's.
  StepTask map_task = Task(TaskKind::kQuantmap,
                           R"({"target_bpw": 6.5, "types": ["q4_0", "q8_0"]})",
                           {{"contrib", dir_.Join("contrib.json")},
                            {"drop_map", dropmap.outputs[0].second},
                            {"gguf", convert.outputs[0].second}});
  ASSERT_OK_AND_ASSIGN(StepResult quantmap, Execute(map_task));
  ASSERT_EQ(quantmap.outputs[0].first, "tensor_types");
  ASSERT_OK_AND_ASSIGN(std::string text,
                       ReadFileToString(quantmap.outputs[0].second + "/quant_map.json"));
  nlohmann::json plan = nlohmann::json::parse(text);
  ASSERT_EQ(plan["layers"].size(), 2u);
  EXPECT_EQ(plan["bits_per_weight"], 6.5);  // two equal layers: one of each
  EXPECT_NE(plan["layers"][0]["type"], plan["layers"][1]["type"]);

  StepTask quantize = Task(TaskKind::kQuantize, R"({"type": "Q6_K"})",
                           {{"gguf", convert.outputs[0].second},
                            {"tensor_types", quantmap.outputs[0].second}});
  ASSERT_OK_AND_ASSIGN(StepResult result, Execute(quantize));
  ASSERT_OK_AND_ASSIGN(quant::GgufContents out,
                       quant::ReadGgufFile(result.outputs[0].second + "/model-Q6_K.gguf"));
  int checked = 0;
  for (const quant::GgufTensorInfo& t : out.tensors) {
    for (const nlohmann::json& layer : plan["layers"]) {
      const std::string prefix = "blk." + std::to_string(layer["layer"].get<int>()) + ".";
      if (!absl::StartsWith(t.name, prefix) || !absl::EndsWith(t.name, "_exps.weight")) continue;
      EXPECT_EQ(t.type_info->name, layer["type"].get<std::string>()) << t.name;
      ++checked;
    }
  }
  EXPECT_GE(checked, 4);  // gate/up and down of each layer
  // The facts the report's tier table shows, measured on the output.
  nlohmann::json facts = nlohmann::json::parse(result.facts_json);
  EXPECT_EQ(facts["type"], "Q6_K");
  EXPECT_EQ(facts["tensor_rules"], 2);             // one per layer
  EXPECT_EQ(facts["quant_map_target_bpw"], 6.5);   // the map's, from quant_map.json
  EXPECT_EQ(facts["file_bytes"].get<uint64_t>(),
            fs::file_size(result.outputs[0].second + "/model-Q6_K.gguf"));
  uint64_t parameters = 0;
  for (const quant::GgufTensorInfo& t : out.tensors) {
    uint64_t n = 1;
    for (uint64_t d : t.dims) n *= d;
    parameters += n;
  }
  EXPECT_EQ(facts["parameters"].get<uint64_t>(), parameters);
  EXPECT_DOUBLE_EQ(facts["bits_per_weight"].get<double>(),
                   out.tensor_bytes * 8.0 / static_cast<double>(parameters));
  size_t typed = 0;
  for (const auto& [name, count] : facts["tensor_types"].items()) typed += count.get<size_t>();
  EXPECT_EQ(typed, out.tensors.size()) << facts.dump();
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(quantize.log_path));
  EXPECT_THAT(log, HasSubstr(plan["rules"][0].get<std::string>()));

  // A drop map without its summary (a hand-made file) names what is missing.
  fs::create_directories(dir_.Join("bare"));
  fs::copy_file(dropmap.outputs[0].second + "/drop_map.json", dir_.Join("bare/drop_map.json"));
  EXPECT_THAT(Execute(Task(TaskKind::kQuantmap, R"({"target_bpw": 6.5})",
                           {{"contrib", dir_.Join("contrib.json")},
                            {"drop_map", dir_.Join("bare")},
                            {"gguf", convert.outputs[0].second}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("drop_map.json.summary.json")));
}

// A reference on an OpenAI-compatible server (the fake in vLLM's shapes):
// the generate step drives the server its operator listed, with its key,
// and refuses one it did not list.
TEST_F(ToolExecutorTest, GenerateOnAListedOpenAiCompatibleEndpoint) {
  ASSERT_OK(WriteFileAtomically(dir_.Join("key"), "sekrit\n"));
  ASSERT_OK_AND_ASSIGN(auto fake, llama::testing::FakeLlamaServer::Start(
      {"--flavor", "vllm", "--no-model-check", "-m", "/models/nvfp4",
       "--served-model-name", "gemma-nvfp4", "--max-model-len", "40960",
       "--reasoning-parser", "deepseek_r1", "--api-key", "sekrit", "--token-latency-ms", "0"}));
  config_.endpoints = {fake->url() + "/"};
  config_.endpoint_key_file = dir_.Join("key");
  EXPECT_NE(std::find(AvailableTools(config_).begin(), AvailableTools(config_).end(),
                      "endpoint:" + fake->url()),
            AvailableTools(config_).end());
  nlohmann::json params = {
      {"bench", "gsm8k"}, {"profile", Gsm8kProfile(3)},
      {"endpoint", {{"url", fake->url()}, {"model", "gemma-nvfp4"}, {"parallel", 2}}}};
  StepTask task = Task(TaskKind::kGenerate, params.dump(),
                       {{"dataset", cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl"},
                        {"fewshot", cohort::testing::DatasetsDir() + "/gsm8k/train.jsonl"}});
  ASSERT_OK_AND_ASSIGN(StepResult result, Execute(task));
  nlohmann::json s = SummaryOf(result);
  ASSERT_TRUE(s.is_object()) << s.dump();
  EXPECT_EQ(s["generation"]["generated"], 3);
  EXPECT_EQ(s["generation"]["reasoning_budget_enforced"], false);
  EXPECT_THAT(s["generation"]["server"].get<std::string>(), HasSubstr("model=gemma-nvfp4"));

  config_.endpoints = {"http://127.0.0.1:1"};
  EXPECT_THAT(Execute(Task(TaskKind::kGenerate, params.dump(),
                           {{"dataset", cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl"}})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("does not send requests to " + fake->url())));
}

// A reference served by vLLM from a checkpoint folder (the fake `vllm`):
// the step starts `vllm serve` with its typed settings, each one token, and
// stops it; a worker without vLLM, or a setting outside the list, refuses.
TEST_F(ToolExecutorTest, GenerateServesACheckpointWithVllm) {
  fs::create_directories(dir_.Join("ckpt"));
  ASSERT_OK(WriteFileAtomically(dir_.Join("ckpt/config.json"),
                                R"({"max_position_embeddings": 131072})"));
  config_.vllm = llama::testing::FakeVllmPath();
  EXPECT_NE(std::find(AvailableTools(config_).begin(), AvailableTools(config_).end(), "vllm"),
            AvailableTools(config_).end());
  nlohmann::json params = {
      {"bench", "gsm8k"}, {"profile", Gsm8kProfile(3)},
      {"vllm", {{"parallel", 2}, {"reasoning_parser", "deepseek_r1"}, {"dtype", "bfloat16"},
                {"max_model_len", 24576}}}};
  std::map<std::string, std::string> inputs = {
      {"dataset", cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl"},
      {"fewshot", cohort::testing::DatasetsDir() + "/gsm8k/train.jsonl"},
      {"checkpoint", dir_.Join("ckpt")}};
  StepTask task = Task(TaskKind::kGenerate, params.dump(), inputs);
  ASSERT_OK_AND_ASSIGN(StepResult result, Execute(task));
  nlohmann::json s = SummaryOf(result);
  ASSERT_TRUE(s.is_object()) << s.dump();
  EXPECT_EQ(s["generation"]["generated"], 3);
  EXPECT_EQ(s["generation"]["server"], "vllm 0.11.1 model=cohort slots=2 n_ctx=24576");
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(task.log_path));
  EXPECT_THAT(log, HasSubstr("--backend vllm"));
  EXPECT_THAT(log, HasSubstr("--server-arg=--dtype=bfloat16"));

  // Tensor parallelism: vLLM gets the flag and sees the step's cards; one
  // card for two ranks fails at start-up, as vLLM's placement does.
  params["vllm"]["tensor_parallel_size"] = 2;
  StepTask one_card = Task(TaskKind::kGenerate, params.dump(), inputs);
  one_card.visible_gpus = "0";
  absl::StatusOr<StepResult> refused = Execute(one_card);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              HasSubstr("exceeds the total number of available GPUs"));
  StepTask two_cards = Task(TaskKind::kGenerate, params.dump(), inputs);
  two_cards.visible_gpus = "0,1";
  ASSERT_OK(Execute(two_cards).status());
  ASSERT_OK_AND_ASSIGN(std::string tp_log, ReadFileToString(two_cards.log_path));
  EXPECT_THAT(tp_log, HasSubstr("CUDA_VISIBLE_DEVICES=0,1 "));
  EXPECT_THAT(tp_log, HasSubstr("--server-arg=--tensor-parallel-size=2"));
  params["vllm"].erase("tensor_parallel_size");

  params["vllm"]["trust_remote_code"] = true;
  EXPECT_THAT(Execute(Task(TaskKind::kGenerate, params.dump(), inputs)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("vllm.trust_remote_code: not a setting")));
  params["vllm"].erase("trust_remote_code");
  config_.vllm.clear();
  EXPECT_THAT(Execute(Task(TaskKind::kGenerate, params.dump(), inputs)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has no vLLM")));
}

TEST(GateTest, ConditionsOnSummaries) {
  eval::ScoreSummary summary;
  summary.n = 10;
  summary.accuracy = 0.6;
  summary.length.budget.share_at_or_over = 0.3;
  summary.length.budget.at_or_over = 3;
  summary.length.budget.saturated_and_failed = 2;
  ASSERT_OK_AND_ASSIGN(GateDecision ok,
                       EvaluateGate({{"metric", "accuracy"}, {"op", ">="}, {"value", 0.5}}, summary));
  EXPECT_TRUE(ok.held);
  ASSERT_OK_AND_ASSIGN(GateDecision ruminating,
                       EvaluateGate({{"metric", "saturated_and_failed"}, {"op", "<="}, {"value", 0.1}},
                                    summary));
  EXPECT_FALSE(ruminating.held);
  // 2 of the 3 saturated outputs failed (the card's share), not 2 of 10.
  EXPECT_THAT(ruminating.reason, HasSubstr("saturated_and_failed 0.66"));
  EXPECT_THAT(ruminating.reason, HasSubstr("> 0.1"));
  ASSERT_OK_AND_ASSIGN(GateDecision saturated,
                       EvaluateGate({{"metric", "budget_saturation"}, {"op", "<="}, {"value", 0.2}},
                                    summary));
  EXPECT_FALSE(saturated.held);
  EXPECT_EQ(saturated.value, 0.3);
  EXPECT_THAT(EvaluateGate({{"metric", "vibes"}, {"op", ">="}, {"value", 1}}, summary),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vibes")));
  // IFEval's summary gates on prompt-level strict accuracy when it has no
  // plain accuracy.
  summary.accuracy.reset();
  summary.ifeval.emplace().prompt_level_strict_acc = 0.4;
  ASSERT_OK_AND_ASSIGN(GateDecision ifeval,
                       EvaluateGate({{"metric", "accuracy"}, {"op", ">="}, {"value", 0.5}}, summary));
  EXPECT_FALSE(ifeval.held);
  EXPECT_EQ(ifeval.value, 0.4);
}

// Nothing scored: no share exists, and a gate on it is an error, not a pass
// (or, before the summary had a type, an exception from a null).
TEST(GateTest, AnEmptySummaryHasNoValueToGateOn) {
  eval::ScoreSummary empty;
  for (const char* metric : {"accuracy", "budget_saturation", "saturated_and_failed"}) {
    EXPECT_THAT(EvaluateGate({{"metric", metric}, {"op", "<="}, {"value", 1}}, empty),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nothing was scored")))
        << metric;
  }
}

}  // namespace
}  // namespace cohort::worker
