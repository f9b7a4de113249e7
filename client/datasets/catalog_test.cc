#include "client/datasets/catalog.h"

#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::datasets {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// A manifest with one shipped set (two splits) and one fetched set.
std::string ManifestText(const std::string& test_bytes, const std::string& train_bytes) {
  return R"({"version": 1, "datasets": [
    {"name": "toy", "shipped": true, "source": "s", "license": "MIT",
     "files": [{"path": "toy/test.jsonl", "split": "test", "sha256": ")" +
         Sha256Hex(test_bytes) + R"(", "bytes": )" + std::to_string(test_bytes.size()) +
         R"(, "records": 2},
               {"path": "toy/train.jsonl", "split": "train", "sha256": ")" +
         Sha256Hex(train_bytes) + R"(", "bytes": )" + std::to_string(train_bytes.size()) +
         R"(}]},
    {"name": "remote", "shipped": false, "hub_repo": "o/remote", "source": "s",
     "license": "x", "files": [{"path": "remote/a.jsonl", "hub_path": "a.jsonl",
     "split": "test", "sha256": null}]}]})";
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = dir_.Join("repo");
    cache_ = dir_.Join("cache");
    Write(repo_ + "/datasets.json", ManifestText("a\nb\n", "c\n"));
    Write(repo_ + "/toy/test.jsonl", "a\nb\n");
    Write(repo_ + "/toy/train.jsonl", "c\n");
    fs::create_directories(cache_);
  }
  Catalog Load() {
    absl::StatusOr<Catalog> c = Catalog::Load({{cache_, "cache"}, {repo_, "repository"}});
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(c).value();
  }

  cohort::testing::TempDir dir_;
  std::string repo_, cache_;
};

TEST(RootsTest, SearchOrderAndCacheFolder) {
  RootSettings s;
  s.data_dir = "/d";
  s.env_data_dir = "/e/";
  s.home = "/home/u";
  s.repository_data = "/src/data";
  s.exe_dir = "/opt/cohort/bin";
  std::vector<DataRoot> roots = SearchRoots(s);
  std::vector<std::string> paths, labels;
  for (const DataRoot& r : roots) {
    paths.push_back(r.path);
    labels.push_back(r.label);
  }
  EXPECT_THAT(paths, ElementsAre("/d", "/e", "/home/u/.cache/cohort/datasets", "/src/data",
                                 "/opt/cohort/share/cohort/data"));
  EXPECT_THAT(labels, ElementsAre("--data-dir", "COHORT_DATA_DIR", "cache", "repository",
                                  "installed"));
  EXPECT_EQ(FetchDir(s), "/d");
  s.data_dir.clear();
  EXPECT_EQ(FetchDir(s), "/home/u/.cache/cohort/datasets");
  s.xdg_cache_home = "/xdg";
  EXPECT_EQ(CacheDir(s), "/xdg/cohort/datasets");
  s.xdg_cache_home = "relative";  // the XDG spec says: ignore it
  EXPECT_EQ(CacheDir(s), "/home/u/.cache/cohort/datasets");
  s.home.clear();
  EXPECT_EQ(CacheDir(s), "");
  s.env_data_dir = "/src/data";  // the same folder twice is searched once
  EXPECT_EQ(SearchRoots(s).size(), 2u);
}

TEST(RootsTest, DatasetNames) {
  EXPECT_TRUE(LooksLikeDatasetName("gsm8k"));
  EXPECT_TRUE(LooksLikeDatasetName("omk_protocol:lcb-medium-55"));
  EXPECT_FALSE(LooksLikeDatasetName("data/gsm8k"));
  EXPECT_FALSE(LooksLikeDatasetName("test.jsonl"));
  EXPECT_FALSE(LooksLikeDatasetName("Gsm8k"));
  EXPECT_FALSE(LooksLikeDatasetName("gsm8k:"));
  EXPECT_FALSE(LooksLikeDatasetName("${COHORT_DATASETS}"));
  EXPECT_FALSE(LooksLikeDatasetName(
      "sha256:3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"));
  EXPECT_EQ(SplitDatasetName("gsm8k"), std::make_pair(std::string("gsm8k"), std::string("test")));
  EXPECT_EQ(SplitDatasetName("gsm8k:train"),
            std::make_pair(std::string("gsm8k"), std::string("train")));
}

TEST_F(CatalogTest, ResolvesNamesAndSplits) {
  Catalog c = Load();
  EXPECT_THAT(c.Names(), ElementsAre("toy", "remote"));
  ASSERT_OK_AND_ASSIGN(ResolvedFile test, c.Resolve("toy"));
  EXPECT_EQ(test.path, repo_ + "/toy/test.jsonl");
  ASSERT_TRUE(test.expected.has_value());
  EXPECT_EQ(test.expected->sha256, Sha256Hex("a\nb\n"));
  EXPECT_EQ(test.expected->pinned_by, repo_ + "/datasets.json");
  ASSERT_OK_AND_ASSIGN(ResolvedFile train, c.Resolve("toy:train"));
  EXPECT_EQ(train.path, repo_ + "/toy/train.jsonl");
  EXPECT_THAT(c.Resolve("nope"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("unknown dataset 'nope' (known: toy, remote)")));
  EXPECT_THAT(c.Resolve("toy:dev"), StatusIs(absl::StatusCode::kNotFound,
                                             HasSubstr("no split 'dev' (it has: test, train")));
  EXPECT_THAT(c.Resolve("remote"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not fetched: run `cohort datasets fetch remote`")));
  EXPECT_EQ(c.State(*c.Find("toy")), "shipped");
  EXPECT_EQ(c.State(*c.Find("remote")), "missing");
}

TEST_F(CatalogTest, EarlierFoldersWin) {
  // A copy in the cache folder shadows the repository's; an earlier
  // manifest's entry shadows a later one of the same name.
  Write(cache_ + "/toy/test.jsonl", "a\nb\n");
  Write(cache_ + "/datasets.json", R"({"version": 1, "datasets": [{"name": "toy",
      "shipped": false, "hub_repo": "o/toy", "source": "mine", "license": "l",
      "files": [{"path": "toy/test.jsonl", "hub_path": "t", "split": "test"}]}]})");
  Catalog c = Load();
  EXPECT_EQ(c.Find("toy")->source, "mine");
  EXPECT_EQ(c.Find("toy")->manifest_file, cache_ + "/datasets.json");
  ASSERT_OK_AND_ASSIGN(ResolvedFile f, c.Resolve("toy"));
  EXPECT_EQ(f.path, cache_ + "/toy/test.jsonl");
  EXPECT_FALSE(f.expected.has_value());  // that manifest pins nothing, no pins.json
}

TEST_F(CatalogTest, FetchedFilesAreCheckedAgainstPinsJson) {
  Write(cache_ + "/remote/a.jsonl", "fetched\n");
  Pins pins;
  pins.datasets["remote"] = {"o/remote", std::string(40, 'c'),
                             {{"remote/a.jsonl", {Sha256Hex("fetched\n"), 8, "hub"}}}};
  ASSERT_OK(SavePins(cache_, pins));
  Catalog c = Load();
  EXPECT_EQ(c.State(*c.Find("remote")), "fetched");
  ASSERT_OK_AND_ASSIGN(ResolvedFile f, c.Resolve("remote"));
  ASSERT_TRUE(f.expected.has_value());
  EXPECT_EQ(f.expected->pinned_by, cache_ + "/pins.json");
  std::vector<FileCheck> checks = c.Verify(*c.Find("remote"));
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].state, FileState::kOk) << checks[0].detail;

  Write(cache_ + "/remote/a.jsonl", "FETCHED\n");  // same size, other bytes
  Catalog again = Load();
  checks = again.Verify(*again.Find("remote"));
  EXPECT_EQ(checks[0].state, FileState::kMismatch);
  EXPECT_THAT(checks[0].detail, HasSubstr("expected " + Sha256Hex("fetched\n")));
  EXPECT_THAT(checks[0].detail, HasSubstr("pinned by " + cache_ + "/pins.json"));
}

TEST_F(CatalogTest, VerifyNamesEachBadFile) {
  Write(repo_ + "/toy/train.jsonl", "changed\n");
  Catalog c = Load();
  std::vector<FileCheck> checks = c.Verify(*c.Find("toy"));
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].state, FileState::kOk);
  EXPECT_EQ(checks[1].state, FileState::kMismatch);
  EXPECT_THAT(checks[1].detail, HasSubstr("size 8 bytes, expected 2"));
  fs::remove(repo_ + "/toy/test.jsonl");
  Catalog without = Load();
  checks = without.Verify(*without.Find("toy"));
  EXPECT_EQ(checks[0].state, FileState::kMissing);
  EXPECT_THAT(checks[0].detail, HasSubstr("toy/test.jsonl is in none of the data folders"));

  Write(cache_ + "/remote/a.jsonl", "x");  // present, but nothing pins it
  Catalog again = Load();
  checks = again.Verify(*again.Find("remote"));
  EXPECT_EQ(checks[0].state, FileState::kUnpinned);
  EXPECT_THAT(checks[0].detail, HasSubstr("no digest to check against"));
}

TEST_F(CatalogTest, BadFilesAreErrorsNamingThem) {
  Write(cache_ + "/pins.json", "{\"version\": 1}");
  EXPECT_THAT(Catalog::Load({{cache_, "cache"}, {repo_, "repository"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(cache_ + "/pins.json")));
  EXPECT_THAT(Catalog::Load({{cache_, "cache"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pins.json")));
  fs::remove(cache_ + "/pins.json");
  EXPECT_THAT(Catalog::Load({{cache_, "cache"}}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no datasets.json in any data folder (looked in: " + cache_ +
                                 " (cache))")));
}

// Every file shipped in the repository's data/ matches its pinned sha256.
TEST(RepositoryDataTest, ShippedFilesVerify) {
  ASSERT_OK_AND_ASSIGN(Catalog c, Catalog::Load({{cohort::testing::SourceDir() + "/data",
                                                  "repository"}}));
  int checked = 0;
  for (const Dataset& d : c.datasets()) {
    if (!d.shipped) continue;
    for (const FileCheck& check : c.Verify(d)) {
      EXPECT_EQ(check.state, FileState::kOk) << d.name << ":" << check.file->split << " "
                                             << check.detail;
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

}  // namespace
}  // namespace cohort::client::datasets
