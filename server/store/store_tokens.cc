// CoordinatorStore: bearer tokens (hashed), their expiry and revocation.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/coordinator_store.h"
#include "server/store/store_internal.h"
#include "server/store/token_reader.h"

namespace cohort::server {
namespace {

constexpr const char* kTokenColumns =
    "SELECT hash, role, name, created_us, expires_us, worker_id FROM tokens";

TokenRecord TokenFromRow(const Statement& row) {
  TokenRecord token;
  token.hash = row.ColumnText(0);
  token.role = row.ColumnText(1);
  token.name = row.ColumnText(2);
  token.created = FromMicros(row.ColumnInt64(3));
  if (!row.ColumnIsNull(4)) token.expires = FromMicros(row.ColumnInt64(4));
  token.worker_id = row.ColumnText(5);
  return token;
}

absl::StatusOr<std::vector<TokenRecord>> ReadTokens(Statement& select) {
  std::vector<TokenRecord> tokens;
  while (select.Step()) tokens.push_back(TokenFromRow(select));
  COHORT_RETURN_IF_ERROR(select.status());
  return tokens;
}

absl::Status CheckHashPrefix(const std::string& prefix) {
  if (prefix.size() < 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token id '", prefix, "' is too short: give at least 8 hex digits of "
        "the id `cohortd token list` shows"));
  }
  for (char c : prefix) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id '", prefix, "' is not lowercase hex"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CoordinatorStore::AddToken(const std::string& token_sha256,
                                        const std::string& role,
                                        const std::string& name, absl::Time now,
                                        std::optional<absl::Time> expires,
                                        const std::string& worker_id) {
  Statement& insert = db_->Prepare(
      "INSERT INTO tokens(hash, role, name, created_us, expires_us, worker_id) "
      "VALUES(?, ?, ?, ?, ?, ?)");
  insert.Bind(1, token_sha256).Bind(2, role).Bind(3, name).Bind(4, Micros(now));
  insert.Bind(6, worker_id);
  if (expires.has_value()) {
    insert.Bind(5, Micros(*expires));
  } else {
    insert.BindNull(5);
  }
  return insert.Run();
}

namespace {

// The one lookup behind CoordinatorStore::TokenOf and TokenReader::TokenOf.
absl::StatusOr<TokenRecord> LookUpToken(Database& db, const std::string& token_sha256,
                                        absl::Time now) {
  Statement& select = db.Prepare(absl::StrCat(kTokenColumns, " WHERE hash = ?"));
  select.Bind(1, token_sha256);
  COHORT_ASSIGN_OR_RETURN(std::vector<TokenRecord> found, ReadTokens(select));
  if (found.empty()) return absl::UnauthenticatedError("unknown bearer token");
  const TokenRecord& token = found.front();
  // Expired at exactly `expires`: a token with a TTL of 12h is good for 12h.
  if (token.expires.has_value() && *token.expires <= now) {
    return absl::UnauthenticatedError(absl::StrCat(
        "bearer token '", token.name, "' (", token.role, ") expired at ",
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", *token.expires, absl::UTCTimeZone()),
        "; create a new one with `cohortd token create`"));
  }
  return token;
}

}  // namespace

absl::StatusOr<TokenRecord> CoordinatorStore::TokenOf(const std::string& token_sha256,
                                                      absl::Time now) {
  return LookUpToken(*db_, token_sha256, now);
}

absl::StatusOr<std::unique_ptr<TokenReader>> TokenReader::Open(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path, {}));
  return std::unique_ptr<TokenReader>(new TokenReader(std::move(db)));
}

absl::StatusOr<TokenRecord> TokenReader::TokenOf(const std::string& token_sha256,
                                                 absl::Time now) {
  absl::MutexLock lock(&mu_);
  return LookUpToken(*db_, token_sha256, now);
}

absl::StatusOr<std::vector<TokenRecord>> CoordinatorStore::ListTokens() {
  Statement& select =
      db_->Prepare(absl::StrCat(kTokenColumns, " ORDER BY created_us, hash"));
  return ReadTokens(select);
}

absl::StatusOr<std::vector<TokenRecord>> CoordinatorStore::RevokeTokens(
    const std::string& hash_prefix, const std::string& name) {
  if (hash_prefix.empty() && name.empty()) {
    return absl::InvalidArgumentError("revoke needs a token id or a name");
  }
  if (!hash_prefix.empty()) COHORT_RETURN_IF_ERROR(CheckHashPrefix(hash_prefix));
  Transaction tx(*db_);
  COHORT_RETURN_IF_ERROR(tx.Begin());
  Statement& select = db_->Prepare(
      hash_prefix.empty()
          ? absl::StrCat(kTokenColumns, " WHERE name = ?1")
          : absl::StrCat(kTokenColumns, " WHERE substr(hash, 1, length(?1)) = ?1"));
  select.Bind(1, hash_prefix.empty() ? name : hash_prefix);
  COHORT_ASSIGN_OR_RETURN(std::vector<TokenRecord> matched, ReadTokens(select));
  if (matched.empty()) {
    return absl::NotFoundError(hash_prefix.empty()
                                   ? absl::StrCat("no token is called '", name, "'")
                                   : absl::StrCat("no token id starts with ", hash_prefix));
  }
  if (!hash_prefix.empty() && matched.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token id ", hash_prefix, " matches ", matched.size(), " tokens; give more digits"));
  }
  Statement& remove = db_->Prepare("DELETE FROM tokens WHERE hash = ?");
  for (const TokenRecord& token : matched) {
    remove.Bind(1, token.hash);
    COHORT_RETURN_IF_ERROR(remove.Run());
  }
  COHORT_RETURN_IF_ERROR(tx.Commit());
  return matched;
}

}  // namespace cohort::server
