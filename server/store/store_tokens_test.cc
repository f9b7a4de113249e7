// Tokens in the coordinator's store: role lookup, expiry, listing, revoking.
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "server/store/coordinator_store.h"
#include "server/store/token_reader.h"

namespace cohort::server {
namespace {

using ::cohort::testing::StatusIs;
using ::cohort::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

std::string Hash(char c) { return std::string(64, c); }

class StoreTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = CoordinatorStore::Open(dir_.Join("cohort.db"), {}).value();
  }
  TempDir dir_;
  std::unique_ptr<CoordinatorStore> store_;
};

TEST_F(StoreTokensTest, TokenWithoutExpiryKeepsItsRole) {
  ASSERT_OK(store_->AddToken(Hash('a'), "worker", "w", kNow, std::nullopt));
  EXPECT_EQ(store_->TokenOf(Hash('a'), kNow).value().role, "worker");
  EXPECT_EQ(store_->TokenOf(Hash('a'), kNow + absl::Hours(24 * 3650)).value().role, "worker");
}

TEST_F(StoreTokensTest, ExpiredTokenIsRefusedSayingItExpired) {
  ASSERT_OK(store_->AddToken(Hash('b'), "client", "alice", kNow, kNow + absl::Hours(12)));
  EXPECT_EQ(store_->TokenOf(Hash('b'), kNow + absl::Hours(12) - absl::Seconds(1)).value().role,
            "client");
  EXPECT_THAT(store_->TokenOf(Hash('b'), kNow + absl::Hours(12)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       ::testing::AllOf(HasSubstr("'alice'"), HasSubstr("expired at"))));
  EXPECT_THAT(store_->TokenOf(Hash('c'), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       ::testing::AllOf(HasSubstr("unknown"), Not(HasSubstr("expired")))));
}

TEST_F(StoreTokensTest, ListsTokensWithTheirExpiry) {
  ASSERT_OK(store_->AddToken(Hash('1'), "admin", "ops", kNow, std::nullopt));
  ASSERT_OK(store_->AddToken(Hash('2'), "client", "ci", kNow + absl::Seconds(1),
                             kNow + absl::Hours(1)));
  ASSERT_OK_AND_ASSIGN(std::vector<TokenRecord> tokens, store_->ListTokens());
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].name, "ops");
  EXPECT_FALSE(tokens[0].expires.has_value());
  EXPECT_EQ(tokens[1].role, "client");
  EXPECT_EQ(tokens[1].expires, kNow + absl::Hours(1));
}

TEST_F(StoreTokensTest, RevokesByIdPrefixOrByName) {
  ASSERT_OK(store_->AddToken("0123456789" + Hash('a').substr(10), "worker", "w", kNow, {}));
  ASSERT_OK(store_->AddToken("0123456789" + Hash('b').substr(10), "worker", "w", kNow, {}));
  ASSERT_OK(store_->AddToken(Hash('c'), "client", "alice", kNow, {}));
  // A prefix must be long enough and name one token.
  EXPECT_THAT(store_->RevokeTokens("0123", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
  EXPECT_THAT(store_->RevokeTokens("01234567", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("matches 2 tokens")));
  EXPECT_THAT(store_->RevokeTokens("ffffffff", ""), StatusIs(absl::StatusCode::kNotFound,
                                                             HasSubstr("ffffffff")));
  EXPECT_THAT(store_->RevokeTokens("'; DROP", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hex")));
  ASSERT_OK_AND_ASSIGN(std::vector<TokenRecord> revoked, store_->RevokeTokens("cccccccc", ""));
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].name, "alice");
  EXPECT_THAT(store_->TokenOf(Hash('c'), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
  // By name: both "w" tokens.
  ASSERT_OK_AND_ASSIGN(revoked, store_->RevokeTokens("", "w"));
  EXPECT_EQ(revoked.size(), 2u);
  ASSERT_OK_AND_ASSIGN(std::vector<TokenRecord> left, store_->ListTokens());
  EXPECT_TRUE(left.empty());
  EXPECT_THAT(store_->RevokeTokens("", "w"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("'w'")));
}

// The reader's own connection sees what the store commits, at once: a new
// token, its expiry, and its revocation (as `cohortd token revoke` from
// another process commits it) while the reader's statements stay cached.
TEST_F(StoreTokensTest, ATokenReaderSeesTokensAddedExpiredAndRevoked) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TokenReader> reader,
                       TokenReader::Open(dir_.Join("cohort.db")));
  EXPECT_THAT(reader->TokenOf(Hash('e'), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
  ASSERT_OK(store_->AddToken(Hash('e'), "client", "eve", kNow, kNow + absl::Hours(1)));
  ASSERT_OK_AND_ASSIGN(TokenRecord found, reader->TokenOf(Hash('e'), kNow));
  EXPECT_EQ(found.role, "client");
  EXPECT_EQ(found.name, "eve");
  EXPECT_THAT(reader->TokenOf(Hash('e'), kNow + absl::Hours(1)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired at")));
  ASSERT_OK(store_->RevokeTokens(Hash('e').substr(0, 12), "").status());
  EXPECT_THAT(reader->TokenOf(Hash('e'), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown")));
}

}  // namespace
}  // namespace cohort::server
