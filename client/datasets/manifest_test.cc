#include "client/datasets/manifest.h"

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::datasets {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kHex[] = "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14";

std::string Shipped(const std::string& file_fields) {
  return std::string(R"({"version": 1, "datasets": [{"name": "gsm8k", "shipped": true,
      "source": "openai/grade-school-math", "revision": "abc", "license": "MIT",
      "files": [{"path": "gsm8k/test.jsonl", "split": "test", )") +
         file_fields + "}]}]}";
}

TEST(DatasetManifestTest, ParsesShippedAndFetchedDatasets) {
  std::string text = std::string(R"({"version": 1, "datasets": [
    {"name": "gsm8k", "shipped": true, "source": "s", "revision": "r", "license": "MIT",
     "license_file": "gsm8k/LICENSE", "provenance": "gsm8k/PROVENANCE.md",
     "files": [{"path": "gsm8k/test.jsonl", "split": "test", "sha256": ")") + kHex +
                     R"(", "bytes": 10, "records": 2},
               {"path": "gsm8k/train.jsonl", "split": "train", "sha256": ")" + kHex +
                     R"(", "bytes": 11, "records": null}]},
    {"name": "lcb", "shipped": false, "hub_repo": "o/n", "gated": true, "source": "s",
     "revision": null, "license": "x", "license_file": null,
     "files": [{"path": "lcb/test.jsonl", "hub_path": "test.jsonl", "split": "test",
                "sha256": null, "bytes": null, "records": null}]}]})";
  ASSERT_OK_AND_ASSIGN(Manifest m, ParseManifest(text, "datasets.json"));
  ASSERT_EQ(m.datasets.size(), 2u);
  const Dataset* gsm = m.Find("gsm8k");
  ASSERT_NE(gsm, nullptr);
  EXPECT_TRUE(gsm->shipped);
  EXPECT_EQ(gsm->FindSplit("train")->path, "gsm8k/train.jsonl");
  EXPECT_EQ(*gsm->FindSplit("test")->records, 2u);
  EXPECT_FALSE(gsm->FindSplit("train")->records.has_value());
  EXPECT_EQ(gsm->manifest_file, "datasets.json");
  const Dataset* lcb = m.Find("lcb");
  ASSERT_NE(lcb, nullptr);
  EXPECT_TRUE(lcb->gated);
  EXPECT_FALSE(lcb->revision.has_value());
  EXPECT_FALSE(lcb->files[0].sha256.has_value());
  EXPECT_EQ(lcb->files[0].hub_path, "test.jsonl");
  EXPECT_EQ(lcb->license_file, "");
}

TEST(DatasetManifestTest, ErrorsNameTheFileAndTheEntry) {
  EXPECT_THAT(ParseManifest(Shipped(R"("sha256": "ABC", "bytes": 1)"), "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("d.json: datasets[0] (gsm8k).files[0].sha256: expected 64 "
                                 "lowercase hex")));
  EXPECT_THAT(ParseManifest(Shipped(R"("sha256": null, "bytes": 1)"), "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a shipped file needs its sha256")));
  EXPECT_THAT(ParseManifest(Shipped(std::string(R"("sha256": ")") + kHex +
                                    R"(", "bytes": 1, "colour": 2)"),
                            "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("colour: unknown key")));
  EXPECT_THAT(ParseManifest(Shipped(std::string(R"("sha256": ")") + kHex +
                                    R"(", "bytes": -1)"),
                            "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bytes: expected a whole")));
  EXPECT_THAT(ParseManifest(R"({"version": 2, "datasets": []})", "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version: expected 1")));
  EXPECT_THAT(ParseManifest("{", "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("d.json")));
}

TEST(DatasetManifestTest, RefusesPathsOutsideTheDataFolderAndBadNames) {
  std::string text = std::string(R"({"version": 1, "datasets": [{"name": "x", "shipped": true,
      "source": "s", "license": "l", "files": [{"path": "../etc/passwd", "split": "test",
      "sha256": ")") + kHex + R"(", "bytes": 1}]}]})";
  EXPECT_THAT(ParseManifest(text, "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("path: must be a relative path inside the data folder")));
  std::string bad_name = std::string(R"({"version": 1, "datasets": [{"name": "Gsm.8k",
      "shipped": true, "source": "s", "license": "l", "files": []}]})");
  EXPECT_THAT(ParseManifest(bad_name, "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name: use lowercase")));
}

TEST(DatasetManifestTest, FetchedDatasetsNeedARepositoryAndHubPaths) {
  std::string no_repo = R"({"version": 1, "datasets": [{"name": "x", "shipped": false,
      "source": "s", "license": "l", "files": [{"path": "x/a", "split": "test"}]}]})";
  EXPECT_THAT(ParseManifest(no_repo, "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hub_repo")));
  std::string no_hub_path = R"({"version": 1, "datasets": [{"name": "x", "shipped": false,
      "hub_repo": "o/n", "source": "s", "license": "l",
      "files": [{"path": "x/a", "split": "test"}]}]})";
  EXPECT_THAT(ParseManifest(no_hub_path, "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("files[0].hub_path")));
}

TEST(DatasetManifestTest, RefusesRepeatedNamesAndSplits) {
  std::string file = std::string(R"({"path": "a/b", "split": "test", "sha256": ")") + kHex +
                     R"(", "bytes": 1})";
  std::string twice_split = R"({"version": 1, "datasets": [{"name": "a", "shipped": true,
      "source": "s", "license": "l", "files": [)" + file + "," + file + "]}]}";
  EXPECT_THAT(ParseManifest(twice_split, "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'test' used twice")));
  std::string entry = R"({"name": "a", "shipped": true, "source": "s", "license": "l",
      "files": [)" + file + "]}";
  std::string twice_name = R"({"version": 1, "datasets": [)" + entry + "," + entry + "]}";
  EXPECT_THAT(ParseManifest(twice_name, "d.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'a' used twice")));
}

// The repository's own manifest parses, and lists the fetched sets with
// their pins left open rather than made up.
TEST(DatasetManifestTest, RepositoryManifestParses) {
  ASSERT_OK_AND_ASSIGN(Manifest m,
                       LoadManifest(cohort::testing::SourceDir() + "/data/datasets.json"));
  for (const char* name : {"gsm8k", "arc_challenge", "math500", "aime2024", "ifeval",
                           "humaneval", "humanevalplus", "multipl_e_rs", "multipl_e_java",
                           "multipl_e_js", "omk_protocol", "livecodebench", "gpqa_diamond"}) {
    EXPECT_NE(m.Find(name), nullptr) << name;
  }
  const Dataset* lcb = m.Find("livecodebench");
  ASSERT_NE(lcb, nullptr);
  EXPECT_FALSE(lcb->shipped);
  EXPECT_EQ(lcb->hub_repo, "livecodebench/code_generation_lite");
  EXPECT_EQ(lcb->files.size(), 6u);
  const Dataset* gpqa = m.Find("gpqa_diamond");
  ASSERT_NE(gpqa, nullptr);
  EXPECT_TRUE(gpqa->gated);
  EXPECT_EQ(gpqa->FindSplit("test")->hub_path, "gpqa_diamond.csv");
}

}  // namespace
}  // namespace cohort::client::datasets
