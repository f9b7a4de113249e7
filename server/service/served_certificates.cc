#include "server/service/served_certificates.h"

#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "common/tls_inspect.h"
#include "spdlog/spdlog.h"

namespace cohort::server {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: ", text.status().message()));
  }
  if (!absl::StrContains(*text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat("TLS: ", path, ": not PEM"));
  }
  return text;
}

// Writes `text` to `path` unless it already holds it; true when written.
absl::StatusOr<bool> Replace(const std::string& path, const std::string& text) {
  absl::StatusOr<std::string> served = ReadFileToString(path);
  if (served.ok() && *served == text) return false;
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(path, text));
  return true;
}

}  // namespace

ServedCertificates::ServedCertificates(Sources sources, std::string dir)
    : sources_(std::move(sources)), dir_(std::move(dir)) {}

absl::StatusOr<bool> ServedCertificates::Sync(absl::Time now) {
  absl::MutexLock lock(&mu_);
  COHORT_ASSIGN_OR_RETURN(std::string cert, ReadPem(sources_.cert));
  COHORT_ASSIGN_OR_RETURN(std::string key, ReadPem(sources_.key));
  std::string ca;
  if (!sources_.client_ca.empty()) {
    COHORT_ASSIGN_OR_RETURN(ca, ReadPem(sources_.client_ca));
  }
  // The texts read above are what gets checked and copied: a file renamed
  // over meanwhile is taken at the next call, never half.
  COHORT_RETURN_IF_ERROR(CheckKeyMatchesCertificatePem(cert, key, sources_.cert, sources_.key));
  std::string warning;
  COHORT_RETURN_IF_ERROR(
      CheckCertificatePemDates(cert, sources_.cert, now, absl::Hours(24 * 30), &warning));
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("TLS: creating ", dir_, ": ", ec.message()));
  }
  // Each by rename, one after the other; gRPC's watcher rereads a pair
  // whose files changed while it read them.
  COHORT_ASSIGN_OR_RETURN(bool key_changed, Replace(key_path(), key));
  COHORT_ASSIGN_OR_RETURN(bool cert_changed, Replace(cert_path(), cert));
  bool ca_changed = false;
  if (!sources_.client_ca.empty()) {
    COHORT_ASSIGN_OR_RETURN(ca_changed, Replace(client_ca_path(), ca));
  }
  const bool changed = key_changed || cert_changed || ca_changed;
  if (changed && !warning.empty()) spdlog::warn("{}", warning);
  return changed;
}

}  // namespace cohort::server
