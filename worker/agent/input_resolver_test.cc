#include "worker/agent/input_resolver.h"

#include <filesystem>
#include <fstream>

#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class InputResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A capacity of one byte: garbage collection removes every unpinned artifact.
    ASSERT_OK_AND_ASSIGN(store_, ArtifactStore::Open(dir_.Join("store"), 1));
  }
  // An artifact adopted into the store; its digest.
  std::string Stored(const std::string& content) {
    fs::path folder = fs::path(dir_.Join("made")) / content;
    fs::create_directories(folder);
    std::ofstream(folder / "file") << content;
    absl::StatusOr<StoredArtifact> stored = store_->Adopt(folder.string());
    EXPECT_OK(stored.status());
    return stored.ok() ? stored->digest : "";
  }
  // A lease whose input `name` has `digest`, held by a peer worker.
  static v1::Lease LeaseWith(v1::Lease lease, const std::string& name,
                             const std::string& digest) {
    v1::StepInput* input = lease.mutable_step()->add_inputs();
    input->set_name(name);
    input->set_digest(digest);
    v1::Artifact* artifact = lease.add_inputs();
    artifact->set_digest(digest);
    v1::ArtifactLocation* where = artifact->add_locations();
    where->set_worker_id("w-peer");
    where->set_endpoint("10.0.0.2:7401");
    return lease;
  }
  InputResolver Resolver() {
    return InputResolver(*store_, shared_, "w-self",
                         [this](const v1::ArtifactLocation& where, const std::string& digest,
                                uint64_t) -> absl::StatusOr<StoredArtifact> {
                           ++fetches_;
                           return peer_(where, digest);
                         });
  }

  cohort::testing::TempDir dir_;
  std::unique_ptr<ArtifactStore> store_;
  SharedInputVerifier shared_{{}};
  int fetches_ = 0;
  std::function<absl::StatusOr<StoredArtifact>(const v1::ArtifactLocation&, const std::string&)>
      peer_ = [](const v1::ArtifactLocation&, const std::string&) {
        return absl::CancelledError("");  // a reset stream says no more than this
      };
};

TEST_F(InputResolverTest, AStoredInputIsUsedInPlaceAndPinnedUntilReleased) {
  const std::string digest = Stored("base");
  InputResolver resolver = Resolver();
  ASSERT_OK_AND_ASSIGN(ResolvedInputs resolved,
                       resolver.Resolve(LeaseWith({}, "checkpoint", digest)));
  EXPECT_EQ(fetches_, 0);
  EXPECT_TRUE(fs::exists(fs::path(resolved.paths["checkpoint"]) / "file"));
  EXPECT_TRUE(store_->CollectGarbage().empty()) << "a pinned input was collected";
  resolver.Release(resolved);
  EXPECT_EQ(store_->CollectGarbage(), std::vector<std::string>{digest});
}

TEST_F(InputResolverTest, APeerFailureOfAnyKindIsUnavailableWithThePeersCode) {
  InputResolver resolver = Resolver();
  absl::StatusOr<ResolvedInputs> resolved =
      resolver.Resolve(LeaseWith({}, "checkpoint", "sha256:" + Sha256Hex("elsewhere")));
  EXPECT_THAT(resolved, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("w-peer: CANCELLED")));
  EXPECT_EQ(fetches_, 1);
}

TEST_F(InputResolverTest, AFailedResolveLeavesNothingPinned) {
  const std::string here = Stored("here");
  InputResolver resolver = Resolver();
  v1::Lease lease = LeaseWith({}, "a", here);
  lease = LeaseWith(lease, "b", "sha256:" + Sha256Hex("not anywhere"));
  EXPECT_THAT(resolver.Resolve(lease), StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  EXPECT_EQ(store_->CollectGarbage(), std::vector<std::string>{here})
      << "an input of a step that never ran stayed pinned";
}

TEST_F(InputResolverTest, AnInputNameThatIsAPathIsRefusedBeforeAnythingIsFetched) {
  InputResolver resolver = Resolver();
  EXPECT_THAT(resolver.Resolve(LeaseWith({}, "../../etc", "sha256:" + Sha256Hex("x"))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input name")));
  EXPECT_EQ(fetches_, 0);
}

TEST_F(InputResolverTest, ASharedPathOutsideTheRootsIsNotUsed) {
  v1::Lease lease = LeaseWith({}, "checkpoint", "sha256:" + Sha256Hex("shared"));
  v1::ArtifactLocation* shared = lease.mutable_inputs(0)->mutable_locations(0);
  shared->Clear();
  shared->set_shared_path("/etc");
  InputResolver resolver = Resolver();
  EXPECT_THAT(resolver.Resolve(lease),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("/etc")));
}

}  // namespace
}  // namespace cohort::worker
