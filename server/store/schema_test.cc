#include "server/store/schema.h"

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

}  // namespace
}  // namespace cohort::server
