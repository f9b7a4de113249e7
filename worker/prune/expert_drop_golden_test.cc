// Golden tests: prune, upweight (1.2, 1.05, twice, multi-shard) and fused
// prune+upweight must reproduce tests/data/goldens/prune byte for byte.
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "worker/prune/expert_drop.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/upweight.h"

namespace cohort::worker::prune {
namespace {

namespace fs = std::filesystem;
using ::cohort::testing::TestDataDir;
using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;

std::string CaseDir() {
  return TestDataDir() + "/goldens/prune/shared_g4tiny_s1234";
}

std::string Read(const std::string& path) {
  auto bytes = ReadFileToString(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

std::set<std::string> VisibleFiles(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// expert_drop_metadata.json equal except for the drop_map_file path.
void ExpectMetadataMatches(const std::string& got_path,
                           const std::string& want_path) {
  auto got = ReadOrderedJson(got_path);
  auto want = ReadOrderedJson(want_path);
  ASSERT_OK(got.status());
  ASSERT_OK(want.status());
  EXPECT_TRUE(fs::path((*got)["drop_map_file"].get<std::string>()).is_absolute());
  (*got)["drop_map_file"] = (*want)["drop_map_file"];
  EXPECT_EQ(PyJsonDumps(*got, 2), Read(want_path));
}

// Every golden file present and byte-identical; nothing else but `extra`.
void ExpectFolderMatches(const std::string& got, const std::string& want,
                         const std::set<std::string>& extra = {}) {
  std::set<std::string> want_files = VisibleFiles(want);
  std::set<std::string> got_files = VisibleFiles(got);
  for (const std::string& name : extra) got_files.erase(name);
  EXPECT_EQ(got_files, want_files);
  for (const std::string& name : want_files) {
    if (name == "expert_drop_metadata.json") {
      ExpectMetadataMatches(got + "/" + name, want + "/" + name);
      continue;
    }
    EXPECT_TRUE(Read(got + "/" + name) == Read(want + "/" + name))
        << name << " differs";
  }
}

void CopyFolder(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
  for (const auto& entry : fs::directory_iterator(to)) {
    fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add);
  }
}

PruneOptions GoldenPrune(const std::string& out) {
  PruneOptions options;
  options.source_dir = CaseDir() + "/input";
  options.drop_map = CaseDir() + "/drop_map.json";
  options.output_dir = out;
  return options;
}

TEST(PruneGoldenTest, AfterDropIsByteIdentical) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(PruneResult result,
                       PruneCheckpoint(GoldenPrune(tmp.Join("out"))));
  EXPECT_EQ(result.layout, "gemma4");
  EXPECT_EQ(result.original_experts, 16);
  EXPECT_EQ(result.target_experts, 12);
  EXPECT_EQ(result.shards, 1);
  EXPECT_EQ(result.sliced_tensors, 16);
  // The one file the reference leaves behind is carried over as it was
  // (docs/pruning.md §6.3).
  ExpectFolderMatches(tmp.Join("out"), CaseDir() + "/after_drop", {"extra_unlisted.json"});
  EXPECT_EQ(Read(tmp.Join("out/extra_unlisted.json")),
            Read(CaseDir() + "/input/extra_unlisted.json"));
}

// Everything of the source that prune does not rewrite goes along byte for
// byte: a Mixtral-style source's tokenizer.model was lost, and llama.cpp's
// converter then failed for want of a tokenizer.
TEST(PruneGoldenTest, CarriesEveryFileItDoesNotRewrite) {
  TempDir tmp;
  CopyFolder(CaseDir() + "/input", tmp.Join("src"));
  const std::map<std::string, std::string> extras = {
      {"tokenizer.model", std::string("\x0a\x05<unk>\x15\0\0\0\0", 10)},
      {"vocab.json", "{\"a\": 0}"},
      {"merges.txt", "#version: 0.2\na b\n"},
      {"added_tokens.json", "{\"<extra>\": 99}"},
      {"README.md", "# model card\n"},
      {"LICENSE", "license text\n"},
      {".gitattributes", "*.safetensors filter=lfs\n"},
      {"original/params.json", "{\"dim\": 64}"},
      {"original/nested/deeper.txt", "deep\n"}};
  for (const auto& [name, bytes] : extras) {
    fs::create_directories(fs::path(tmp.Join("src/" + name)).parent_path());
    ASSERT_OK(WriteFileAtomically(tmp.Join("src/" + name), bytes));
  }
  // Not carried: a backup of an earlier upweight holds unpruned tensors.
  ASSERT_OK(WriteFileAtomically(
      tmp.Join("src/model-00001-of-00002.safetensors.pre_shared_upweight"), "old"));
  PruneOptions options = GoldenPrune(tmp.Join("out"));
  options.source_dir = tmp.Join("src");
  ASSERT_OK(PruneCheckpoint(options).status());
  for (const auto& [name, bytes] : extras) {
    EXPECT_EQ(Read(tmp.Join("out/" + name)), bytes) << name;
  }
  EXPECT_FALSE(fs::exists(tmp.Join("out/model-00001-of-00002.safetensors.pre_shared_upweight")));
  EXPECT_FALSE(fs::exists(tmp.Join("out/model-00002-of-00002.safetensors")));
  // What prune rewrites is still the reference's output.
  for (const char* name : {"model-00001-of-00001.safetensors", "model.safetensors.index.json",
                           "config.json"}) {
    EXPECT_TRUE(Read(tmp.Join(std::string("out/") + name)) ==
                Read(CaseDir() + "/after_drop/" + name))
        << name;
  }
}

// The metadata names the checkpoint's own base model when its config records
// one; the reference named google/gemma-4-26B-A4B-it for any checkpoint.
TEST(PruneGoldenTest, MetadataNamesTheCheckpointsOwnBaseModel) {
  TempDir tmp;
  CopyFolder(CaseDir() + "/input", tmp.Join("src"));
  std::string config = Read(tmp.Join("src/config.json"));
  ASSERT_EQ(config.front(), '{');
  config.insert(1, "\"_name_or_path\": \"acme/tiny-moe\", ");
  ASSERT_OK(WriteFileAtomically(tmp.Join("src/config.json"), config));
  PruneOptions options = GoldenPrune(tmp.Join("out"));
  options.source_dir = tmp.Join("src");
  ASSERT_OK(PruneCheckpoint(options).status());
  auto meta = ReadOrderedJson(tmp.Join("out/expert_drop_metadata.json"));
  ASSERT_OK(meta.status());
  EXPECT_EQ((*meta)["base_model"], "acme/tiny-moe");
}

TEST(PruneGoldenTest, ExistingOutputIsRefused) {
  TempDir tmp;
  fs::create_directory(tmp.Join("out"));
  EXPECT_THAT(PruneCheckpoint(GoldenPrune(tmp.Join("out"))).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
}

void UpweightCopy(const std::string& from, const std::string& dir,
                  double alpha, bool force = false) {
  UpweightOptions options;
  options.model_dir = dir;
  options.alpha = alpha;
  options.target = "mlp.down_proj.weight";
  options.force = force;
  ASSERT_OK_AND_ASSIGN(UpweightResult result, UpweightModel(options));
  EXPECT_EQ(result.tensors, 4);
  (void)from;
}

class UpweightGoldenTest : public ::testing::TestWithParam<double> {};

TEST_P(UpweightGoldenTest, AfterDropUpweightIsByteIdentical) {
  TempDir tmp;
  std::string dir = tmp.Join("m");
  CopyFolder(CaseDir() + "/after_drop", dir);
  std::string shard = dir + "/model-00001-of-00001.safetensors";
  std::string before = Read(shard);
  UpweightCopy(CaseDir() + "/after_drop", dir, GetParam());
  // The backup is the pre-edit shard; then remove it as the recipes do.
  EXPECT_TRUE(Read(shard + kBackupSuffix) == before);
  EXPECT_TRUE(fs::exists(dir + "/" + kMarkerFile));
  std::string want = GetParam() == 1.2 ? "/after_upweight_1.2"
                                       : "/after_upweight_1.05";
  ExpectFolderMatches(dir, CaseDir() + want,
                      {std::string("model-00001-of-00001.safetensors") +
                           kBackupSuffix,
                       kMarkerFile});
}

INSTANTIATE_TEST_SUITE_P(Alphas, UpweightGoldenTest,
                         ::testing::Values(1.2, 1.05));

TEST(UpweightGoldenTest, SecondApplicationRefusedThenForcedMatchesTwice) {
  TempDir tmp;
  std::string dir = tmp.Join("m");
  CopyFolder(CaseDir() + "/after_drop", dir);
  std::string shard = dir + "/model-00001-of-00001.safetensors";
  std::string original = Read(shard);
  UpweightCopy("", dir, 1.2);
  UpweightOptions again;
  again.model_dir = dir;
  again.alpha = 1.2;
  again.target = "mlp.down_proj.weight";
  EXPECT_THAT(UpweightModel(again).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("--force")));
  again.force = true;
  ASSERT_OK(UpweightModel(again).status());
  EXPECT_TRUE(Read(shard) ==
              Read(CaseDir() +
                   "/after_upweight_1.2_twice/model-00001-of-00001.safetensors"));
  // The backup still holds the first pre-edit state.
  EXPECT_TRUE(Read(shard + kBackupSuffix) == original);
  ASSERT_OK_AND_ASSIGN(int restored,
                       RestoreUpweight(dir, "mlp.down_proj.weight"));
  EXPECT_EQ(restored, 1);
  EXPECT_TRUE(Read(shard) == original);
  EXPECT_FALSE(fs::exists(dir + "/" + kMarkerFile));
}

TEST(UpweightGoldenTest, MultiShardInputKeepsMetadata) {
  TempDir tmp;
  std::string dir = tmp.Join("m");
  CopyFolder(CaseDir() + "/input", dir);
  std::string s1 = dir + "/model-00001-of-00002.safetensors";
  std::string s2 = dir + "/model-00002-of-00002.safetensors";
  std::string before1 = Read(s1), before2 = Read(s2);
  UpweightCopy("", dir, 1.2);
  EXPECT_TRUE(Read(s1 + kBackupSuffix) == before1);
  EXPECT_TRUE(Read(s2 + kBackupSuffix) == before2);
  ExpectFolderMatches(dir, CaseDir() + "/input_upweight_1.2",
                      {std::string("model-00001-of-00002.safetensors") +
                           kBackupSuffix,
                       std::string("model-00002-of-00002.safetensors") +
                           kBackupSuffix,
                       kMarkerFile});
}

TEST(UpweightGoldenTest, MissingTargetIsBadInput) {
  TempDir tmp;
  std::string dir = tmp.Join("m");
  CopyFolder(CaseDir() + "/after_drop", dir);
  UpweightOptions options;
  options.model_dir = dir;
  options.alpha = 1.2;
  options.target = "no.such.weight";
  EXPECT_THAT(UpweightModel(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("no.such.weight")));
}

class FusedGoldenTest : public ::testing::TestWithParam<double> {};

TEST_P(FusedGoldenTest, FusedEqualsPruneThenUpweight) {
  TempDir tmp;
  PruneOptions options = GoldenPrune(tmp.Join("out"));
  options.upweight = FusedUpweight{GetParam(), "mlp.down_proj.weight"};
  ASSERT_OK_AND_ASSIGN(PruneResult result, PruneCheckpoint(options));
  EXPECT_EQ(result.upweighted_tensors, 4);
  std::string want = GetParam() == 1.2 ? "/after_upweight_1.2"
                                       : "/after_upweight_1.05";
  ExpectFolderMatches(tmp.Join("out"), CaseDir() + want, {kMarkerFile, "extra_unlisted.json"});
  // The marker names what was applied and nothing that changes run to run.
  EXPECT_EQ(Read(tmp.Join("out") + "/" + kMarkerFile),
            GetParam() == 1.2 ? "shared_alpha=1.2 target=mlp.down_proj.weight\n"
                              : "shared_alpha=1.05 target=mlp.down_proj.weight\n");
}

INSTANTIATE_TEST_SUITE_P(Alphas, FusedGoldenTest, ::testing::Values(1.2, 1.05));

}  // namespace
}  // namespace cohort::worker::prune
