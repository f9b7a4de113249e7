// File: tls_inspect.h
//
// Why a TLS connection to cohortd fails, in words an operator can act on.
// gRPC reports every refusal alike ("Socket closed", "failed to connect to
// all addresses"); on such a failure the CLI and the worker run one TLS
// handshake of their own with OpenSSL, with the same CA, client
// certificate and expected name, and name the cause: the server speaks
// plaintext; its certificate expired (and when), is not signed by the CA
// given, or does not carry the expected name (with the names it has); it
// refused our client certificate (missing, another CA's, expired). Also:
// the expiry of a certificate file, for start-up checks and metrics.
//
//   std::string why = DiagnoseTlsFailure(probe);  // "" when the handshake works
//
// Thread-safe; DiagnoseTlsFailure blocks for at most about `timeout` twice.
#ifndef COHORT_COMMON_TLS_INSPECT_H_
#define COHORT_COMMON_TLS_INSPECT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cohort {

struct CertificateInfo {
  std::string subject;            // e.g. "CN=cohortd"
  std::vector<std::string> names; // DNS and IP subjectAltNames
  absl::Time not_before;
  absl::Time not_after;
};

// The first certificate of a PEM file or text. kInvalidArgument naming
// `what` when it holds none.
absl::StatusOr<CertificateInfo> ReadCertificatePem(const std::string& pem,
                                                   const std::string& what);
absl::StatusOr<CertificateInfo> ReadCertificateFile(const std::string& path);

// "2027-01-31 12:00:00 UTC".
std::string FormatCertificateTime(absl::Time t);

// Start-up check of one's own certificate: kFailedPrecondition when it has
// expired or is not valid yet (naming the file and the date); otherwise OK,
// with `*warning` set when it expires within `warn_within`.
absl::Status CheckCertificateDates(const std::string& path, absl::Time now,
                                   absl::Duration warn_within, std::string* warning);
// The same of a certificate already read (`pem`), named `path` in messages.
absl::Status CheckCertificatePemDates(const std::string& pem, const std::string& path,
                                      absl::Time now, absl::Duration warn_within,
                                      std::string* warning);

struct TlsProbe {
  std::string address;        // host:port
  std::string ca_pem;         // trusted CA(s); empty: no chain check
  std::string ca_file;        // for messages
  std::string cert_pem;       // our client certificate (optional)
  std::string key_pem;
  std::string cert_file;      // for messages
  // The name the server certificate must carry; empty: the host of
  // `address`, as gRPC checks it without a name override.
  std::string expected_name;
  absl::Duration timeout = absl::Seconds(5);
};

// kInvalidArgument naming both files when the private key at `key_path`
// does not belong to the certificate at `cert_path` (or either is not PEM).
absl::Status CheckKeyMatchesCertificate(const std::string& cert_path,
                                        const std::string& key_path);
// The same of a certificate and key already read, named by their paths.
absl::Status CheckKeyMatchesCertificatePem(const std::string& cert_pem,
                                           const std::string& key_pem,
                                           const std::string& cert_path,
                                           const std::string& key_path);

// cohortd's check of a client certificate, the one OpenSSL's handshake
// makes (a chain to a CA in `ca_pem`, each of which is an anchor, in date
// at `now`, fit for a TLS client, at the system's TLS security level),
// done by us so that a refusal can say why: OpenSSL ends every
// such refusal in "certificate verify failed". `leaf_pem` is the
// certificate the client presented, `chain_pem` what else it sent (or the
// chain the handshake built; certificates there are never trusted for
// being there). kUnauthenticated naming the certificate (its subject) and
// the cause: "expired at 2026-12-06 09:44:47 UTC", "is not valid before
// ...", "issued by CN=other, is not signed by the CA in <ca_file>", "is not
// for client use"; kInvalidArgument when `leaf_pem` holds no certificate.
absl::Status VerifyClientCertificate(const std::string& leaf_pem, const std::string& chain_pem,
                                     const std::string& ca_pem, const std::string& ca_file,
                                     absl::Time now);

// One sentence saying why a TLS connection as `probe` describes fails; ""
// when the handshake succeeds (or the address cannot be reached at all:
// nothing to say about TLS then).
std::string DiagnoseTlsFailure(const TlsProbe& probe);

}  // namespace cohort

#endif  // COHORT_COMMON_TLS_INSPECT_H_
