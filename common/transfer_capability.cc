#include "common/transfer_capability.h"

#include <openssl/crypto.h>

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"

namespace cohort {
namespace {

std::string Signed(absl::string_view key, absl::string_view digest, int64_t expiry_us) {
  return HmacSha256Hex(key, absl::StrCat("cohort artifact transfer\n", digest, "\n", expiry_us));
}

}  // namespace

std::string TransferKeyFor(absl::string_view secret, absl::string_view worker_id) {
  return HmacSha256Hex(secret, absl::StrCat("cohort worker transfer key\n", worker_id));
}

std::string IssueCapability(absl::string_view key, absl::string_view digest, absl::Time expiry) {
  int64_t expiry_us = absl::ToUnixMicros(expiry);
  return absl::StrCat(expiry_us, ".", Signed(key, digest, expiry_us));
}

absl::Status CheckCapability(absl::string_view key, absl::string_view capability,
                             absl::string_view digest, absl::Time now) {
  if (capability.empty()) {
    return absl::UnauthenticatedError("artifact transfer needs a capability from cohortd");
  }
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(capability, '.');
  int64_t expiry_us = 0;
  if (!absl::SimpleAtoi(parts.first, &expiry_us) || parts.second.size() != 64) {
    return absl::UnauthenticatedError("malformed transfer capability");
  }
  std::string expected = Signed(key, digest, expiry_us);
  if (CRYPTO_memcmp(expected.data(), parts.second.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the transfer capability is not for ", digest, " on this worker"));
  }
  absl::Time expiry = absl::FromUnixMicros(expiry_us);
  if (expiry <= now) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the transfer capability expired at ",
        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", expiry, absl::UTCTimeZone())));
  }
  return absl::OkStatus();
}

}  // namespace cohort
