// Integration tests: the real driver, supervisor, RunBench and the
// cohort-worker binary against tests/fakes/fake_llama_server, run as a real
// process on a free loopback port.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/result.h"
#include "worker/llama/bench_run.h"
#include "worker/llama/driver.h"
#include "worker/llama/fake_server.h"
#include "worker/llama/http.h"
#include "worker/llama/supervisor.h"
#include "worker/quant/gguf_writer.h"

namespace cohort::worker::llama {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;
using testing::FakeLlamaServer;

std::string Gsm8k() { return cohort::testing::DatasetsDir() + "/gsm8k/test.jsonl"; }

// Slots big enough for gsm8k's 16384-token generation need plus the prompt.
std::vector<std::string> FakeArgs(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"-m", testing::FakeModelPath(), "-c", "40960", "--parallel", "2",
                                   "--reasoning-format", "deepseek", "--reasoning-budget",
                                   "12288", "--metrics", "--token-latency-ms", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

RetryPolicy FastRetry() {
  RetryPolicy retry;
  retry.initial_backoff = absl::Milliseconds(20);
  retry.max_backoff = absl::Milliseconds(200);
  return retry;
}

BenchRunOptions Options(const std::string& url, const std::string& out, int limit) {
  BenchRunOptions options;
  options.bench = "gsm8k";
  options.dataset = Gsm8k();
  options.out = out;
  options.server_url = url;
  options.limit = limit;
  options.retry = FastRetry();
  options.request_timeout = absl::Seconds(30);
  return options;
}

std::vector<std::string> JournalIds(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  std::vector<std::string> ids;
  if (!text.ok()) return ids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    absl::StatusOr<GenerationRecord> r = RecordFromLine(line);
    ids.push_back(r.ok() ? r->id : "<bad line>");
  }
  return ids;
}

DriverOptions DriverFor(const std::string& url) {
  DriverOptions options;
  options.base_url = [url] { return url; };
  options.concurrency = 2;
  options.retry = FastRetry();
  options.request_timeout = absl::Seconds(30);
  return options;
}

std::vector<GenerationOutcome> Drive(const DriverOptions& options,
                                     const std::vector<std::string>& prompts) {
  std::vector<GenerationJob> jobs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationJob job;
    job.key = absl::StrCat("p", i);
    job.request.prompt = prompts[i];
    job.request.max_tokens = 64;
    jobs.push_back(job);
  }
  std::vector<GenerationOutcome> outcomes;
  absl::StatusOr<DriverStats> stats = RunGeneration(options, jobs, [&](GenerationOutcome o) {
    outcomes.push_back(std::move(o));
    return absl::OkStatus();
  });
  EXPECT_OK(stats.status());
  return outcomes;
}

TEST(BenchRunTest, CompletesAgainstTheFakeAndResumes) {
  TempDir dir;
  std::string answers = dir.Join("answers.jsonl");
  ASSERT_OK(WriteFileAtomically(
      answers, R"({"match": "Janet", "content": "She makes 9 * 2 = 18 dollars.", "reasoning": "16 - 3 - 4 = 9 eggs."})" "\n"));
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--answers", answers})));
  std::string out = dir.Join("completions.jsonl");
  int seen = 0;
  absl::StatusOr<BenchRunResult> first =
      RunBench(Options(fake->url(), out, 6), [&](const GenerationRecord&) { ++seen; });
  ASSERT_OK(first.status());
  BenchRunResult& run = *first;
  EXPECT_EQ(seen, 6);
  EXPECT_EQ(run.generated, 6);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n"], 6);
  EXPECT_GE(ScoreSummaryToJson(run.summary)["passed"].get<int>(), 1);  // Janet's ducks: 18
  EXPECT_EQ(run.results[0].reasoning, "16 - 3 - 4 = 9 eggs.");
  EXPECT_EQ(run.results[0].completion, "She makes 9 * 2 = 18 dollars.");
  EXPECT_THAT(run.server_fingerprint, HasSubstr("build=b0-fake slots=2 n_ctx=20480"));
  EXPECT_EQ(JournalIds(out).size(), 6u);
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["served"], 6);
  EXPECT_EQ(stats["max_processing"], 2);  // concurrency = the server's slots

  ASSERT_OK_AND_ASSIGN(BenchRunResult again, RunBench(Options(fake->url(), out, 6), nullptr));
  EXPECT_EQ(again.generated, 0);
  EXPECT_EQ(again.resumed, 6);
  EXPECT_EQ(ScoreSummaryToJson(again.summary)["n"], 6);
  ASSERT_OK_AND_ASSIGN(stats, fake->Stats());
  EXPECT_EQ(stats["served"], 6);  // nothing asked twice

  // The journal belongs to this run: another profile is refused.
  BenchRunOptions other = Options(fake->url(), out, 6);
  other.profile = "omk-head-2026-08";
  EXPECT_THAT(RunBench(other, nullptr).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("belongs to another run")));
}

// An OpenAI-compatible server that is not llama-server (the fake in vLLM's
// shapes: no /props or /slots, a bare 200 /health, /v1 behind a bearer key,
// requests routed by model name, `reasoning` beside `reasoning_content`).
TEST(BenchRunTest, AnOpenAiCompatibleServerIsDrivenWithItsKeyAndModelName) {
  TempDir dir;
  std::string answers = dir.Join("answers.jsonl");
  ASSERT_OK(WriteFileAtomically(
      answers, R"({"match": "Janet", "content": "She makes 9 * 2 = 18 dollars.", "reasoning": "16 - 3 - 4 = 9 eggs."})" "\n"));
  ASSERT_OK(WriteFileAtomically(dir.Join("key"), "sekrit\n"));
  ASSERT_OK(WriteFileAtomically(dir.Join("wrong-key"), "guess\n"));
  auto vllm_args = [&](const std::string& version) {
    return std::vector<std::string>{
        "--flavor", "vllm", "--no-model-check", "-m", "/models/gemma-4-26b-a4b-nvfp4",
        "--served-model-name", "gemma-nvfp4", "--max-model-len", "40960", "--api-key", "sekrit",
        "--reasoning-parser", "deepseek_r1", "--vllm-version", version, "--answers", answers, "--token-latency-ms", "1"};
  };
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(vllm_args("0.11.1")));
  BenchRunOptions options = Options(fake->url(), dir.Join("completions.jsonl"), 5);
  options.api_key_file = dir.Join("key");
  options.concurrency = 3;
  ASSERT_OK_AND_ASSIGN(BenchRunResult run, RunBench(options, nullptr));
  EXPECT_EQ(run.generated, 5);
  // 0.11.1 sends the reasoning twice (reasoning, reasoning_content): once here.
  EXPECT_EQ(run.results[0].reasoning, "16 - 3 - 4 = 9 eggs.");
  EXPECT_EQ(run.results[0].completion, "She makes 9 * 2 = 18 dollars.");
  EXPECT_EQ(run.server_fingerprint, "vllm 0.11.1 model=gemma-nvfp4 slots=3 n_ctx=40960");
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["generation"]["reasoning_budget_enforced"], false);
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["served"], 5);
  EXPECT_LE(stats["max_processing"].get<int>(), 3);
  EXPECT_EQ(stats["status_counts"].value("401", 0), 0);

  // Without a concurrency there is nothing to size the run by.
  BenchRunOptions no_slots = Options(fake->url(), dir.Join("b.jsonl"), 2);
  no_slots.api_key_file = dir.Join("key");
  EXPECT_THAT(RunBench(no_slots, nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not llama-server")));
  // A wrong key is the server's 401, not an empty run.
  BenchRunOptions wrong = no_slots;
  wrong.concurrency = 2;
  wrong.api_key_file = dir.Join("wrong-key");
  EXPECT_THAT(RunBench(wrong, nullptr).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Unauthorized")));
  // A model the server does not serve: its 404 names it.
  BenchRunOptions other = no_slots;
  other.concurrency = 2;
  other.out = dir.Join("c.jsonl");
  other.server_model = "gemma-bf16";
  absl::Status missing = RunBench(other, nullptr).status();
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("The model `gemma-bf16` does not exist"));

  // A later vLLM sends `reasoning` alone.
  ASSERT_OK_AND_ASSIGN(auto later, FakeLlamaServer::Start(vllm_args("0.17.0")));
  BenchRunOptions newer = Options(later->url(), dir.Join("d.jsonl"), 2);
  newer.api_key_file = dir.Join("key");
  newer.concurrency = 2;
  ASSERT_OK_AND_ASSIGN(BenchRunResult run2, RunBench(newer, nullptr));
  EXPECT_EQ(run2.results[0].reasoning, "16 - 3 - 4 = 9 eggs.");
}

// An external llama-server started with --api-key opens only /health and
// /models without it: /props, the prompt measure (/apply-template,
// /tokenize), the progress poll (/slots) and the completions all carry it.
TEST(BenchRunTest, AnExternalLlamaServerWithAnApiKeyGetsItOnEveryRequest) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomically(dir.Join("key"), "sekrit\n"));
  ASSERT_OK(WriteFileAtomically(dir.Join("keys"), "# the team's keys\nother\nsekrit\n"));
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs(
      {"--api-key-file", dir.Join("keys"), "--token-latency-ms", "20"})));
  BenchRunOptions options = Options(fake->url(), dir.Join("completions.jsonl"), 3);
  options.api_key_file = dir.Join("key");
  std::vector<std::string> lines;
  absl::Mutex mu;
  options.progress_sink = [&](const std::string& line) {
    absl::MutexLock lock(&mu);
    lines.push_back(line);
  };
  options.progress_period = absl::Milliseconds(20);
  ASSERT_OK_AND_ASSIGN(BenchRunResult run, RunBench(options, nullptr));
  EXPECT_EQ(run.generated, 3);
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["status_counts"].value("401", 0), 0) << stats.dump();
  for (const char* path : {"/props", "/apply-template", "/tokenize", "/slots"}) {
    EXPECT_GE(stats["path_counts"].value(path, 0), 1) << path << " " << stats.dump();
  }

  // Without the key the server's 401 stops the run before any generation.
  BenchRunOptions keyless = Options(fake->url(), dir.Join("b.jsonl"), 2);
  EXPECT_THAT(RunBench(keyless, nullptr).status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Invalid API Key")));
  ASSERT_OK_AND_ASSIGN(stats, fake->Stats());
  EXPECT_EQ(stats["requests"], 3);
}

// One problem of 50 (2%) ends in the chat parser's 500: the run succeeds,
// the problem is journaled and scored as a server error, not a wrong answer.
TEST(BenchRunTest, OneParserErrorInFiftyIsCountedApart) {
  TempDir dir;
  std::string answers = dir.Join("answers.jsonl");
  // Only GSM8K test row 0 (not a train exemplar) has this text; the fake's
  // default 500 message is the recorded peg-native one.
  ASSERT_OK(WriteFileAtomically(answers, R"({"match": "ducks lay 16 eggs", "error": 500})" "\n"));
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--answers", answers})));
  std::string out = dir.Join("completions.jsonl");
  ASSERT_OK_AND_ASSIGN(BenchRunResult run, RunBench(Options(fake->url(), out, 50), nullptr));
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n"], 50);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["server_errors"], 1);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["server_error_kinds"],
            nlohmann::json({{"500 peg-native format", 1}}));
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["length"]["finish_reasons"].count("error"), 0u);
  EXPECT_EQ(run.failed, 1);
  int errors = 0;
  for (const eval::ProblemResult& r : run.results) {
    if (!r.server_error()) continue;
    ++errors;
    EXPECT_EQ(r.index, 0);
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(r.error_kind, "500 peg-native format");
    EXPECT_EQ(r.error_message,
              "The model produced output that does not match the expected peg-native format");
    nlohmann::json row = eval::ResultToJson(r);  // what the score step streams
    EXPECT_EQ(row["error_kind"], "500 peg-native format");
  }
  EXPECT_EQ(errors, 1);
  // The journal row says what happened; the request was tried twice.
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(out));
  bool found = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ASSERT_OK_AND_ASSIGN(GenerationRecord r, RecordFromLine(line));
    if (r.error_kind.empty()) continue;
    found = true;
    EXPECT_EQ(r.error_kind, "500 peg-native format");
    EXPECT_EQ(r.error_message,
              "The model produced output that does not match the expected peg-native format");
    EXPECT_EQ(r.attempts, 2);
    EXPECT_EQ(r.finish_reason, "error");
  }
  EXPECT_TRUE(found);
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["requests"], 51);

  // A tighter limit than the profile's default fails the same journal.
  BenchRunOptions strict = Options(fake->url(), out, 50);
  strict.max_server_error_share = 0.01;
  EXPECT_THAT(RunBench(strict, nullptr).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("1 of 50 problems (2%) ended in server errors")));
}

// 20% of the prompts hit the parser error: `cohort-worker bench` exits 2
// (bad input: the executor does not retry) naming the kind, an example and
// the count.
TEST(BenchCommandTest, ParserErrorsOverTheLimitFailTheBench) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto fake,
                       FakeLlamaServer::Start(FakeArgs({"--peg-error-share", "0.2"})));
  std::string out = dir.Join("completions.jsonl");
  SubprocessOptions options;
  options.argv = {COHORT_WORKER_BIN, "bench", "--bench", "gsm8k", "--dataset", Gsm8k(),
                  "--server-url", fake->url(), "--out", out, "--limit", "50",
                  "--retry-backoff", "0.02"};
  options.timeout = absl::Seconds(120);
  ASSERT_OK_AND_ASSIGN(SubprocessResult result, RunSubprocess(options));
  EXPECT_EQ(result.exit_code, 2) << result.Describe() << result.stderr_data;
  int errors = 0;
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(out));
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ASSERT_OK_AND_ASSIGN(GenerationRecord r, RecordFromLine(line));
    errors += r.error_kind.empty() ? 0 : 1;
  }
  EXPECT_GT(errors, 1);
  EXPECT_LT(errors, 50);
  EXPECT_THAT(result.stderr_data,
              HasSubstr(absl::StrCat(errors, " of 50 problems (", errors * 2,
                                     "%) ended in server errors (500 peg-native format: "
                                     "'The model produced output that does not match the "
                                     "expected peg-native format'); over the 2% limit")));
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["requests"], 50 + errors);  // each error tried twice, no more
}

// bench's stdout is its summary JSON, which a worker stores as the step's
// summary.json: a warning (here: the torn last line of a journal resumed
// after a crash) goes to stderr, never into it.
TEST(BenchCommandTest, WarningsGoToStderrAndStdoutStaysTheSummary) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs()));
  std::string out = dir.Join("completions.jsonl");
  SubprocessOptions options;
  options.argv = {COHORT_WORKER_BIN, "bench", "--bench", "gsm8k", "--dataset", Gsm8k(),
                  "--server-url", fake->url(), "--out", out, "--limit", "4"};
  options.timeout = absl::Seconds(60);
  ASSERT_OK_AND_ASSIGN(SubprocessResult first, RunSubprocess(options));
  ASSERT_EQ(first.exit_code, 0) << first.stderr_data;
  // The crash: the last line was being written.
  ASSERT_OK_AND_ASSIGN(std::string journal, ReadFileToString(out));
  std::vector<std::string> lines = absl::StrSplit(journal, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  lines.back().resize(lines.back().size() / 2);
  ASSERT_OK(WriteFileAtomically(out, absl::StrJoin(lines, "\n")));
  ASSERT_OK_AND_ASSIGN(SubprocessResult second, RunSubprocess(options));
  ASSERT_EQ(second.exit_code, 0) << second.stderr_data;
  EXPECT_THAT(second.stderr_data, HasSubstr("dropped a torn last line"));
  nlohmann::json summary = nlohmann::json::parse(second.stdout_data, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << second.stdout_data;
  EXPECT_EQ(summary["n"], 4);
}

TEST(BenchRunTest, StartsAndStopsItsOwnServer) {
  TempDir dir;
  BenchRunOptions options = Options("", dir.Join("out.jsonl"), 3);
  options.model = testing::FakeModelPath();
  options.llama_server = testing::FakeServerPath();
  options.server_extra_args = {"--token-latency-ms", "1"};
  options.server_start_timeout = absl::Seconds(20);
  ASSERT_OK_AND_ASSIGN(BenchRunResult run, RunBench(options, nullptr));
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["n"], 3);
  EXPECT_EQ(ScoreSummaryToJson(run.summary)["generation"]["restarts"], 0);
  // Default geometry: 2 slots x (16384 generation + 4096 prompt).
  EXPECT_THAT(run.server_fingerprint, HasSubstr("slots=2 n_ctx=20480"));
  EXPECT_THAT(LogTail(dir.Join("out.jsonl.llama-server.log"), 5), HasSubstr("server is listening"));
}

// vLLM started here (`vllm serve` on a checkpoint folder; the fake in vLLM's
// shapes): sized by its --max-num-seqs and --max-model-len, requests name
// the served model, the thinking split by the reasoning parser (without one
// the thoughts stay in the content), and a folder that is no checkpoint
// fails with vLLM's own words.
TEST(BenchRunTest, StartsAndStopsItsOwnVllm) {
  TempDir dir;
  std::filesystem::create_directories(dir.Join("ckpt"));
  ASSERT_OK(WriteFileAtomically(dir.Join("ckpt/config.json"),
                                R"({"max_position_embeddings": 131072})"));
  ASSERT_OK(WriteFileAtomically(
      dir.Join("answers.jsonl"),
      R"({"match": "Janet", "content": "She makes 9 * 2 = 18 dollars.", "reasoning": "16 - 3 - 4 = 9 eggs."})" "\n"));
  setenv("FAKE_LLAMA_ANSWERS", dir.Join("answers.jsonl").c_str(), 1);
  BenchRunOptions options = Options("", dir.Join("out.jsonl"), 3);
  options.backend = ServerBackend::kVllm;
  options.model = dir.Join("ckpt");
  options.vllm = testing::FakeVllmPath();
  options.reasoning_parser = "deepseek_r1";
  options.server_start_timeout = absl::Seconds(20);
  absl::StatusOr<BenchRunResult> run = RunBench(options, nullptr);
  ASSERT_OK(run.status());
  EXPECT_EQ(run->generated, 3);
  EXPECT_EQ(run->results[0].reasoning, "16 - 3 - 4 = 9 eggs.");
  EXPECT_EQ(run->results[0].completion, "She makes 9 * 2 = 18 dollars.");
  // Default geometry: 2 sequences x (16384 generation + 4096 prompt).
  EXPECT_EQ(run->server_fingerprint, "vllm 0.11.1 model=cohort slots=2 n_ctx=20480");
  EXPECT_EQ(ScoreSummaryToJson(run->summary)["generation"]["reasoning_budget_enforced"], false);
  EXPECT_THAT(LogTail(dir.Join("out.jsonl.vllm.log"), 5), HasSubstr("server is listening"));

  BenchRunOptions unparsed = options;
  unparsed.out = dir.Join("unparsed.jsonl");
  unparsed.reasoning_parser.clear();
  absl::StatusOr<BenchRunResult> inline_thoughts = RunBench(unparsed, nullptr);
  unsetenv("FAKE_LLAMA_ANSWERS");
  ASSERT_OK(inline_thoughts.status());
  EXPECT_EQ(inline_thoughts->results[0].reasoning, "");
  EXPECT_THAT(inline_thoughts->results[0].completion, HasSubstr("<think>"));

  BenchRunOptions empty = options;
  empty.out = dir.Join("empty.jsonl");
  empty.model = dir.path();  // no config.json
  EXPECT_THAT(RunBench(empty, nullptr).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has no config.json")));
}

TEST(BenchRunTest, SlotTooSmallIsFailedPrecondition) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start({"-m", testing::FakeModelPath(), "-c", "8192",
                                                          "--parallel", "2"}));
  EXPECT_THAT(RunBench(Options(fake->url(), dir.Join("o.jsonl"), 2), nullptr).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("-c >= ")));
}

// A model whose vocabulary has no tokens for the bytes 0x80..0xFF: llama.cpp
// cannot tokenize "’" and answers /tokenize with a 500 "unordered_map::at"
// (docs/real-tools.md). bench stops before generating and says why.
TEST(BenchRunTest, AVocabularyThatCannotTokenizeThePromptIsNamed) {
  TempDir dir;
  quant::GgufWriter gguf;
  gguf.SetString("general.architecture", "llama");
  gguf.SetString("tokenizer.ggml.model", "llama");
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81"};
  for (int b = 0; b < 0x80; ++b) tokens.push_back(absl::StrFormat("<0x%02X>", b));
  for (char c = 0x21; c < 0x7F; ++c) tokens.push_back(std::string(1, c));
  gguf.Set("tokenizer.ggml.tokens", quant::GgufValue::StringArray(tokens));
  ASSERT_OK(gguf.AddTensor("token_embd.weight", 0, {16, 64}));
  ASSERT_OK(gguf.WriteFile(dir.Join("gap.gguf")));
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start({"-m", dir.Join("gap.gguf"), "-c", "40960",
                                                          "--parallel", "2"}));
  // GSM8K's first 60 questions hold a "’" or a "€".
  EXPECT_THAT(RunBench(Options(fake->url(), dir.Join("o.jsonl"), 60), nullptr).status(),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("vocabulary has no token for a byte of the prompt")));
  EXPECT_TRUE(JournalIds(dir.Join("o.jsonl")).empty());
}

TEST(DriverTest, LoadingServerIsWaitedOut) {
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--load-seconds", "1.5"}),
                                                         {}, /*wait_ready=*/false));
  absl::Time start = absl::Now();
  ASSERT_OK(WaitForReady(fake->url(), &fake->process(), "", absl::Seconds(20)));
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_GE(stats["status_counts"].value("503", 0), 1);
}

TEST(DriverTest, BadRequestIsNotRetried) {
  TempDir dir;
  std::string answers = dir.Join("answers.jsonl");
  ASSERT_OK(WriteFileAtomically(answers, R"({"match": "BAD", "error": 400, "message": "nope"})" "\n"));
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--answers", answers})));
  std::vector<GenerationOutcome> outcomes = Drive(DriverFor(fake->url()), {"a BAD prompt"});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_THAT(outcomes[0].result, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nope")));
  EXPECT_EQ(outcomes[0].attempts, 1);
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["requests"], 1);
}

TEST(DriverTest, Storm503IsRetriedWithBackoff) {
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--fail-503", "3"})));
  std::vector<GenerationOutcome> outcomes = Drive(DriverFor(fake->url()), {"hello"});
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_OK(outcomes[0].result.status());
  EXPECT_EQ(outcomes[0].attempts, 4);
  EXPECT_EQ(outcomes[0].result->finish_reason, "stop");
}

TEST(DriverTest, ParserErrorIsTriedTwiceOnly) {
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--peg-error-share", "1"})));
  std::vector<GenerationOutcome> outcomes = Drive(DriverFor(fake->url()), {"hello"});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_THAT(outcomes[0].result,
              StatusIs(absl::StatusCode::kInternal, HasSubstr("peg-native format")));
  EXPECT_EQ(outcomes[0].attempts, 2);
  EXPECT_EQ(outcomes[0].error_kind, "500 peg-native format");
  EXPECT_EQ(outcomes[0].error_message,
            "The model produced output that does not match the expected peg-native format");
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_EQ(stats["requests"], 2);
}

TEST(DriverTest, PromptOverTheSlotIsOutOfRangeAndNotRetried) {
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start({"-m", testing::FakeModelPath(), "-c", "200",
                                                          "--parallel", "2"}));
  std::string prompt;
  for (int i = 0; i < 300; ++i) prompt += "hello ";
  std::vector<GenerationOutcome> outcomes = Drive(DriverFor(fake->url()), {prompt, "short"});
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_THAT(outcomes[0].result, StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("exceeds")));
  EXPECT_EQ(outcomes[0].attempts, 1);
  EXPECT_OK(outcomes[1].result.status());
}

TEST(DriverTest, LongestPromptGoesFirst) {
  std::vector<GenerationJob> jobs(3);
  jobs[0].request.prompt = "bb";
  jobs[1].request.prompt = "cccc";
  jobs[2].request.prompt = "aa";
  EXPECT_EQ(SendOrder(jobs), (std::vector<size_t>{1, 0, 2}));
}

TEST(DriverTest, HungServerHitsTheDeadline) {
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--hang-after", "0"})));
  DriverOptions options = DriverFor(fake->url());
  options.request_timeout = absl::Milliseconds(300);
  options.retry.max_attempts = 2;
  std::vector<GenerationOutcome> outcomes = Drive(options, {"hello"});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_THAT(outcomes[0].result, StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  EXPECT_EQ(outcomes[0].attempts, 2);
}

// The fake answers in the recorded shapes: our parsers read every endpoint.
TEST(FakeServerTest, ServesTheRecordedShapes) {
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs()));
  auto post = [&](const std::string& path, const std::string& body) {
    absl::StatusOr<HttpResponse> r = HttpFetch(fake->url() + path, body, absl::Seconds(10));
    EXPECT_OK(r.status());
    EXPECT_EQ(r.ok() ? r->status : 0, 200) << path;
    return r.ok() ? r->body : std::string();
  };
  ChatRequest request;
  request.prompt = "What is 2+2?";
  request.enable_thinking = true;
  request.stream = true;
  ASSERT_OK_AND_ASSIGN(ChatResult streamed,
                       ParseChatStream(post("/v1/chat/completions", BuildChatRequestBody(request))));
  EXPECT_FALSE(streamed.reasoning.empty());
  EXPECT_FALSE(streamed.content.empty());
  EXPECT_TRUE(streamed.usage.has_value());
  request.stream = false;
  request.max_tokens = 3;
  ASSERT_OK_AND_ASSIGN(ChatResult cut,
                       ParseChatResponse(post("/v1/chat/completions", BuildChatRequestBody(request))));
  EXPECT_EQ(cut.finish_reason, "length");
  EXPECT_EQ(cut.usage->completion_tokens, 3);
  ASSERT_OK_AND_ASSIGN(NativeCompletion native,
                       ParseNativeCompletion(post("/completion", R"({"prompt": "The capital", "n_predict": 4})")));
  EXPECT_EQ(native.stop_type, "limit");
  EXPECT_OK(ParseNativeCompletionStream(
                post("/completion", R"({"prompt": "The capital", "stream": true})"))
                .status());
  ASSERT_OK_AND_ASSIGN(HttpResponse slots, HttpFetch(fake->url() + "/slots", "", absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(std::vector<SlotState> slot_states, ParseSlots(slots.body));
  EXPECT_EQ(slot_states.size(), 2u);
  ASSERT_OK_AND_ASSIGN(HttpResponse models, HttpFetch(fake->url() + "/v1/models", "", absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(ModelInfo model, ParseModels(models.body));
  EXPECT_EQ(model.n_ctx, 20480);
  ASSERT_OK_AND_ASSIGN(HttpResponse metrics, HttpFetch(fake->url() + "/metrics", "", absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(auto values, ParseMetrics(metrics.body));
  EXPECT_TRUE(values.count("llamacpp:requests_processing"));
  ASSERT_OK_AND_ASSIGN(HttpResponse bad,
                       HttpFetch(fake->url() + "/v1/chat/completions", "{\"messages\": [", absl::Seconds(5)));
  EXPECT_THAT(StatusFromHttp(bad.status, bad.body), StatusIs(absl::StatusCode::kInternal, HasSubstr("parse error")));
}

SupervisorOptions FakeSupervisor(const TempDir& dir, std::vector<std::string> extra) {
  SupervisorOptions options;
  options.args.binary = testing::FakeServerPath();
  options.args.model = testing::FakeModelPath();
  options.args.ctx_size = 4096;
  options.args.parallel = 2;
  options.args.extra_args = std::move(extra);
  options.log_path = dir.Join("server.log");
  options.start_timeout = absl::Seconds(20);
  options.stop_grace = absl::Seconds(1);
  options.restart_backoff = absl::Milliseconds(50);
  return options;
}

TEST(SupervisorTest, RestartsACrashedServer) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto server, ServerSupervisor::Start(FakeSupervisor(
      dir, {"--crash-after", "2", "--crash-marker", dir.Join("crashed")})));
  EXPECT_EQ(server->props().total_slots, 2);
  EXPECT_EQ(server->props().n_ctx, 2048);
  DriverOptions options = DriverFor("");
  ServerSupervisor* s = server.get();
  options.base_url = [s] { return s->base_url(); };
  options.maintain = [s] { return s->EnsureRunning(); };
  options.maintain_interval = absl::Milliseconds(50);
  options.retry.initial_backoff = absl::Milliseconds(200);
  options.retry.max_attempts = 8;
  std::vector<GenerationOutcome> outcomes =
      Drive(options, {"one", "two", "three", "four", "five", "six"});
  ASSERT_EQ(outcomes.size(), 6u);
  for (const GenerationOutcome& o : outcomes) EXPECT_OK(o.result.status()) << o.key;
  EXPECT_EQ(server->restarts(), 1);
  server->Stop();
  // Which request crashes it depends on how many probes (health, props) a
  // loaded machine made the supervisor repeat; that it crashed is the point.
  EXPECT_THAT(LogTail(dir.Join("server.log"), 50),
              HasSubstr("fake llama-server: crashing on request "));
}

TEST(SupervisorTest, ExitWhileStartingCarriesTheLogTail) {
  TempDir dir;
  EXPECT_THAT(ServerSupervisor::Start(FakeSupervisor(dir, {"--exit-code", "1"})).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("exiting due to model loading error")));
}

// kill -9 of `cohort-worker bench` midway, then a rerun: every problem ends
// up in the journal exactly once, and at most one in-flight problem per slot
// was asked twice.
TEST(BenchCommandTest, KillNineMidwayThenRerun) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto fake, FakeLlamaServer::Start(FakeArgs({"--token-latency-ms", "25"})));
  std::string out = dir.Join("completions.jsonl");
  std::vector<std::string> argv = {COHORT_WORKER_BIN, "bench", "--bench", "gsm8k", "--dataset",
                                   Gsm8k(), "--server-url", fake->url(), "--out", out,
                                   "--limit", "12", "--retry-backoff", "0.05"};
  SubprocessOptions first;
  first.argv = argv;
  first.stdout_path = dir.Join("first.out");
  first.stderr_path = dir.Join("first.err");
  Subprocess child;
  ASSERT_OK(child.Start(first));
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (JournalIds(out).size() < 3 && absl::Now() < deadline && !child.PollExited()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(child.running()) << "finished before the kill";
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  ASSERT_TRUE(child.WaitFor(absl::Seconds(10)));
  EXPECT_EQ(child.term_signal(), SIGKILL);
  size_t before = JournalIds(out).size();
  EXPECT_LT(before, 12u);

  SubprocessOptions second;
  second.argv = argv;
  second.timeout = absl::Seconds(120);
  ASSERT_OK_AND_ASSIGN(SubprocessResult rerun, RunSubprocess(second));
  ASSERT_TRUE(rerun.Succeeded()) << rerun.Describe();
  EXPECT_THAT(rerun.stdout_data, HasSubstr("\"n\": 12"));
  std::vector<std::string> ids = JournalIds(out);
  std::map<std::string, int> counts;
  for (const std::string& id : ids) ++counts[id];
  EXPECT_EQ(ids.size(), 12u);
  EXPECT_EQ(counts.size(), 12u);
  ASSERT_OK_AND_ASSIGN(nlohmann::json stats, fake->Stats());
  EXPECT_LE(stats["requests"].get<int>(), 12 + 2);  // <= one re-ask per slot
}

}  // namespace
}  // namespace cohort::worker::llama
