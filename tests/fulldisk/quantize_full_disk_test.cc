// The quantize step (worker/exec, with the llama-quantize fake of
// tests/fakes) writing its GGUF onto a full file system: a small tmpfs where
// the machine allows mounting one (root with CAP_SYS_ADMIN; skipped
// elsewhere), holding the worker's artifact store as the agent lays it out
// (the step's output folder is a scratch folder of the store). The failure
// is clean: a clear, retryable error, nothing adopted into the store, no
// partial file left taking space. Once space frees, the same step succeeds.
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/artifacts/artifact_store.h"
#include "worker/exec/tool_executor.h"

namespace cohort::worker {
namespace {

namespace fs = std::filesystem;
using ::cohort::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0) return 0;
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

// Every regular file under `dir`, relative to it.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), dir).string());
  }
  return files;
}

class QuantizeFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = tmp_.Join("tmpfs");
    fs::create_directory(mnt_);
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=2m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here";
    }
    mounted_ = true;
    config_.self_binary = std::string(COHORT_BIN_DIR) + "/cohort-worker";
    config_.llama_cpp_dir = COHORT_FAKES_DIR;
    // The input GGUF (about 0.8 MB of bf16 experts) lives off the tmpfs.
    SubprocessOptions synth;
    synth.argv = {config_.self_binary, "synth-model", "--layout", "gemma4",
                  "--output-dir", tmp_.Join("base")};
    absl::StatusOr<SubprocessResult> made = RunSubprocess(synth);
    ASSERT_TRUE(made.ok() && made->Succeeded())
        << (made.ok() ? made->Describe() : made.status().ToString());
    StepTask convert = Task(TaskKind::kConvert, R"({"outtype": "bf16"})",
                            {{"checkpoint", tmp_.Join("base")}}, tmp_.Join("convert"));
    fs::create_directories(convert.output_root);
    absl::StatusOr<StepResult> converted = ToolExecutor(config_).Execute(convert);
    ASSERT_TRUE(converted.ok()) << converted.status();
    gguf_ = converted->outputs[0].second;
  }
  void TearDown() override {
    if (mounted_) umount2(mnt_.c_str(), MNT_DETACH);
  }
  StepTask Task(TaskKind kind, std::string params, std::map<std::string, std::string> inputs,
                std::string output_root) {
    StepTask task;
    task.kind = kind;
    task.key = "sha256:" + std::string(64, 'e');
    task.params_json = std::move(params);
    task.inputs = std::move(inputs);
    task.output_root = std::move(output_root);
    task.log_path = tmp_.Join("step.log");  // the log is not under test here
    return task;
  }

  cohort::testing::TempDir tmp_;
  std::string mnt_;
  bool mounted_ = false;
  ToolConfig config_;
  std::string gguf_;
};

TEST_F(QuantizeFullDiskTest, FullDiskFailsCleanlyAndRetrySucceedsOnceSpaceFrees) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ArtifactStore> store,
                       ArtifactStore::Open(mnt_ + "/store", 0));
  // Fill the tmpfs to within 64 KiB: far less than the quantized GGUF.
  {
    std::ofstream filler(mnt_ + "/filler", std::ios::binary);
    filler << std::string(FreeBytes(mnt_) - (64 << 10), 'x');
  }
  ASSERT_LT(FreeBytes(mnt_), 100u << 10);
  const uint64_t free_before = FreeBytes(mnt_);

  // As the agent runs a step: a scratch folder of the store as output root,
  // the outputs adopted only when the step succeeded.
  ASSERT_OK_AND_ASSIGN(std::string scratch, store->NewScratchDir("quantize"));
  absl::StatusOr<StepResult> full = ToolExecutor(config_).Execute(
      Task(TaskKind::kQuantize, R"({"type": "Q8_0"})", {{"gguf", gguf_}}, scratch));
  RecordProperty("error", full.ok() ? "" : std::string(full.status().message()).substr(0, 300));
  // A clear error that says why, retryable (RESOURCE_EXHAUSTED).
  EXPECT_THAT(full, StatusIs(absl::StatusCode::kResourceExhausted,
                             AllOf(HasSubstr("no space left on device writing under"),
                                   HasSubstr("llama-quantize"))));
  // Nothing half-written: the scratch folder is empty again, the space the
  // partial GGUF took is free again, the store holds no artifact.
  EXPECT_TRUE(fs::is_empty(scratch)) << FilesUnder(scratch).size() << " files left";
  EXPECT_EQ(FreeBytes(mnt_), free_before);
  EXPECT_EQ(FilesUnder(mnt_), std::vector<std::string>{"filler"});
  EXPECT_TRUE(store->Digests().empty());
  fs::remove_all(scratch);  // the agent's part, after a failed step

  // Space frees; the retried step (a new attempt, a new scratch) succeeds.
  fs::remove(mnt_ + "/filler");
  ASSERT_OK_AND_ASSIGN(std::string retry_scratch, store->NewScratchDir("quantize"));
  ASSERT_OK_AND_ASSIGN(StepResult done,
                       ToolExecutor(config_).Execute(Task(TaskKind::kQuantize,
                                                          R"({"type": "Q8_0"})",
                                                          {{"gguf", gguf_}}, retry_scratch)));
  ASSERT_EQ(done.outputs.size(), 1u);
  ASSERT_OK_AND_ASSIGN(StoredArtifact stored, store->Adopt(done.outputs[0].second));
  EXPECT_EQ(store->Digests(), std::vector<std::string>{stored.digest});
  EXPECT_TRUE(fs::is_regular_file(stored.path + "/model-Q8_0.gguf"));
  // The GGUF takes real space: more than the 64 KiB that were free before.
  EXPECT_GT(stored.size_bytes, 64u << 10);
  RecordProperty("gguf_bytes", std::to_string(stored.size_bytes));
}

}  // namespace
}  // namespace cohort::worker
