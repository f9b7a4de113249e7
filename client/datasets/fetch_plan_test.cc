#include "client/datasets/fetch_plan.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client::datasets {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kA(64, 'a'), kB(64, 'b'), kC(64, 'c');
const std::string kCommit1(40, '1'), kCommit2(40, '2');

Dataset Remote(std::optional<std::string> revision, std::optional<std::string> sha) {
  Dataset d;
  d.name = "remote";
  d.hub_repo = "o/remote";
  d.manifest_file = "data/datasets.json";
  d.revision = revision;
  DatasetFile f;
  f.path = "remote/a.jsonl";
  f.hub_path = "a.jsonl";
  f.split = "test";
  f.sha256 = sha;
  d.files.push_back(f);
  return d;
}

Pins Recorded(const std::string& revision, const std::string& sha) {
  Pins p;
  p.datasets["remote"] = {"o/remote", revision, {{"remote/a.jsonl", {sha, 3, "hub"}}}};
  return p;
}

TEST(FetchPlanTest, UnpinnedAsksForMainAndTrustsTheHub) {
  Dataset d = Remote(std::nullopt, std::nullopt);
  ASSERT_OK_AND_ASSIGN(FetchPlan plan, PlanFetch(d, Pins{}, "/cache", ""));
  EXPECT_EQ(plan.revision, "main");
  EXPECT_EQ(plan.revision_from, "the default branch");
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_EQ(plan.files[0].dest, "/cache/remote/a.jsonl");
  EXPECT_FALSE(plan.files[0].want_sha256.has_value());
  ASSERT_OK_AND_ASSIGN(DigestChoice hub, ChooseDigest(plan, plan.files[0], kA));
  EXPECT_EQ(*hub.want, kA);
  EXPECT_EQ(hub.digest_from, "hub");
  ASSERT_OK_AND_ASSIGN(DigestChoice none, ChooseDigest(plan, plan.files[0], ""));
  EXPECT_FALSE(none.want.has_value());
  EXPECT_EQ(none.digest_from, "download");
}

TEST(FetchPlanTest, ManifestPinsComeFirst) {
  Dataset d = Remote(kCommit1, kA);
  ASSERT_OK_AND_ASSIGN(FetchPlan plan, PlanFetch(d, Recorded(kCommit2, kB), "/cache", ""));
  EXPECT_EQ(plan.revision, kCommit1);
  EXPECT_EQ(plan.revision_from, "data/datasets.json");
  EXPECT_EQ(*plan.files[0].want_sha256, kA);
  EXPECT_EQ(plan.files[0].pinned_by, "data/datasets.json");
  // The Hub announcing other bytes than the pin stops the fetch.
  EXPECT_THAT(ChooseDigest(plan, plan.files[0], kB),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the Hub announces sha256 " + kB)));
}

TEST(FetchPlanTest, RecordedPinsHoldWhenTheManifestHasNone) {
  Dataset d = Remote(std::nullopt, std::nullopt);
  ASSERT_OK_AND_ASSIGN(FetchPlan plan, PlanFetch(d, Recorded(kCommit2, kB), "/cache", ""));
  EXPECT_EQ(plan.revision, kCommit2);
  EXPECT_EQ(plan.revision_from, "/cache/pins.json");
  EXPECT_EQ(*plan.files[0].want_sha256, kB);
  EXPECT_EQ(plan.files[0].pinned_by, "/cache/pins.json");
  // Pins of another repository (the manifest moved) do not apply.
  Pins other = Recorded(kCommit2, kB);
  other.datasets["remote"].hub_repo = "o/elsewhere";
  ASSERT_OK_AND_ASSIGN(FetchPlan fresh, PlanFetch(d, other, "/cache", ""));
  EXPECT_EQ(fresh.revision, "main");
  EXPECT_FALSE(fresh.files[0].want_sha256.has_value());
}

TEST(FetchPlanTest, RevisionFlagDropsPinsOfOtherRevisions) {
  Dataset d = Remote(kCommit1, kA);
  ASSERT_OK_AND_ASSIGN(FetchPlan plan, PlanFetch(d, Recorded(kCommit1, kB), "/cache", "v2"));
  EXPECT_EQ(plan.revision, "v2");
  EXPECT_EQ(plan.revision_from, "--revision");
  EXPECT_FALSE(plan.files[0].want_sha256.has_value());
  ASSERT_OK_AND_ASSIGN(FetchPlan same, PlanFetch(d, Pins{}, "/cache", kCommit1));
  EXPECT_EQ(*same.files[0].want_sha256, kA);
}

TEST(FetchPlanTest, ShippedDatasetsHaveNothingToFetch) {
  Dataset d = Remote(std::nullopt, std::nullopt);
  d.hub_repo.clear();
  d.shipped = true;
  EXPECT_THAT(PlanFetch(d, Pins{}, "/cache", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ships with cohort")));
}

TEST(FetchPlanTest, CommitChecks) {
  Dataset d = Remote(kCommit1, std::nullopt);
  ASSERT_OK_AND_ASSIGN(FetchPlan pinned, PlanFetch(d, Pins{}, "/cache", ""));
  EXPECT_OK(CheckCommit(pinned, "", kCommit1));
  EXPECT_OK(CheckCommit(pinned, "", ""));  // a mirror that does not say
  EXPECT_THAT(CheckCommit(pinned, "", kCommit2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("answered with commit " + kCommit2)));
  ASSERT_OK_AND_ASSIGN(FetchPlan branch, PlanFetch(Remote(std::nullopt, std::nullopt), Pins{},
                                                   "/cache", ""));
  EXPECT_OK(CheckCommit(branch, kCommit1, kCommit1));
  EXPECT_THAT(CheckCommit(branch, kCommit1, kCommit2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("moved during the fetch")));
}

TEST(FetchPlanTest, RecordingKeepsOneCommitsPins) {
  Dataset d = Remote(std::nullopt, std::nullopt);
  DatasetFile second = d.files[0];
  second.path = "remote/b.jsonl";
  second.split = "b";
  d.files.push_back(second);
  ASSERT_OK_AND_ASSIGN(FetchPlan plan, PlanFetch(d, Pins{}, "/cache", ""));
  Pins pins;
  RecordFetchedFile(plan, plan.files[0], kCommit1, kA, 3, "hub", &pins);
  RecordFetchedFile(plan, plan.files[1], "", kB, 4, "hub", &pins);  // found up to date
  const DatasetPins* p = pins.Find("remote");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->revision, kCommit1);
  EXPECT_EQ(p->files.size(), 2u);
  // Another commit's bytes replace the old pins rather than mix with them.
  RecordFetchedFile(plan, plan.files[0], kCommit2, kC, 5, "hub", &pins);
  EXPECT_EQ(pins.Find("remote")->revision, kCommit2);
  EXPECT_EQ(pins.Find("remote")->files.size(), 1u);
  // And the text round-trips.
  ASSERT_OK_AND_ASSIGN(Pins back, ParsePins(PinsJson(pins), "pins.json"));
  EXPECT_EQ(back.FindFile("remote", "remote/a.jsonl")->sha256, kC);
  EXPECT_EQ(back.FindFile("remote", "remote/a.jsonl")->bytes, 5u);
}

}  // namespace
}  // namespace cohort::client::datasets
