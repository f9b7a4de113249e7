#include "server/store/schema.h"

#include <string>
#include <thread>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;

TEST(SchemaTest, MigratesOnceAndRefusesNewer) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Join("s.db"), {}));
  ASSERT_OK(Migrate(*db));
  ASSERT_OK(Migrate(*db));  // idempotent
  ASSERT_OK_AND_ASSIGN(int version, SchemaVersion(*db));
  EXPECT_EQ(version, kSchemaVersion);
  ASSERT_OK(db->Execute("PRAGMA user_version=999"));
  EXPECT_THAT(Migrate(*db), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("newer")));
}

// Two processes opening the same fresh file at once (cohortd starting while
// `cohortd token create` runs): the migration is decided under the write
// lock, so the second opener finds the schema made and both succeed. Before,
// the second ran migration 1 again: "table campaigns already exists".
TEST(SchemaTest, ConcurrentOpenersOfAFreshFileBothSucceed) {
  TempDir dir;
  for (int round = 0; round < 20; ++round) {
    const std::string path = dir.Join("race-" + std::to_string(round) + ".db");
    absl::Status results[2];
    std::thread openers[2];
    for (int i = 0; i < 2; ++i) {
      openers[i] = std::thread([&path, &results, i] {
        absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path, {});
        results[i] = db.ok() ? Migrate(**db) : db.status();
      });
    }
    for (std::thread& t : openers) t.join();
    EXPECT_OK(results[0]) << "round " << round;
    EXPECT_OK(results[1]) << "round " << round;
  }
}

}  // namespace
}  // namespace cohort::server

namespace cohort::server {
namespace {

// Steps are found by key through key_hash: the SQL function that fills it
// and the C++ function that looks it up must agree, and stay fixed (a
// changed hash would hide every stored step).
TEST(SchemaTest, KeyHashIsTheSameInSqlAndCppAndFixed) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Join("s.db"), {}));
  ASSERT_OK(Migrate(*db));
  const std::string key = "sha256:" + std::string(64, 'a');
  Statement& hash = db->Prepare("SELECT cohort_key_hash(?)");
  hash.Bind(1, key);
  ASSERT_TRUE(hash.Step());
  EXPECT_EQ(hash.ColumnInt64(0), StepKeyHash(key));
  hash.Reset();
  EXPECT_GE(StepKeyHash(key), 0);
  EXPECT_NE(StepKeyHash(key), StepKeyHash("sha256:" + std::string(64, 'b')));
  EXPECT_EQ(StepKeyHash(""), static_cast<int64_t>(14695981039346656037ull >> 2));
}

}  // namespace
}  // namespace cohort::server
