// File: served_certificates.h
//
// cohortd's TLS files as gRPC serves them: checked copies of the operator's
// certificate, key and client CA in a folder of cohortd's own, which gRPC's
// file watcher re-reads every second. Sync() copies a renewal over only when
// the new key belongs to the new certificate and the certificate is in date,
// so a rotation caught half done (a new key beside the old certificate) or a
// renewal that has already expired is never served: the previous files stay
// and Sync says why. cohortd calls it at start (an error then stops it), every
// --tls-reload-seconds, and at once on SIGHUP; a renewal reaches new
// connections within a second of the call, and open connections and leases
// carry on.
//
//   ServedCertificates served({"tls.crt", "tls.key", "ca.crt"}, state + "/tls-served");
//   COHORT_ASSIGN_OR_RETURN(bool changed, served.Sync(absl::Now()));
//   provider(served.key_path(), served.cert_path(), served.client_ca_path(), 1 s);
//
// Thread-safe: Sync runs under one mutex (the signal loop and start-up).
#ifndef COHORT_SERVER_SERVICE_SERVED_CERTIFICATES_H_
#define COHORT_SERVER_SERVICE_SERVED_CERTIFICATES_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cohort::server {

class ServedCertificates {
 public:
  struct Sources {
    std::string cert;       // PEM
    std::string key;        // PEM, the certificate's key
    std::string client_ca;  // PEM; empty: no client certificates asked
  };

  ServedCertificates(Sources sources, std::string dir);

  // Checks the operator's files and, when they differ from what is served,
  // replaces the served copies (key, then certificate, then CA; each by
  // rename). True when something changed. kInvalidArgument naming the file
  // (unreadable, not PEM, a key that is not the certificate's) or
  // kFailedPrecondition (expired, not yet valid); the served copies are then
  // left as they were. A certificate that expires within 30 days is logged.
  absl::StatusOr<bool> Sync(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  std::string cert_path() const { return dir_ + "/tls.crt"; }
  std::string key_path() const { return dir_ + "/tls.key"; }
  std::string client_ca_path() const {
    return sources_.client_ca.empty() ? "" : dir_ + "/client-ca.crt";
  }

 private:
  const Sources sources_;
  const std::string dir_;
  absl::Mutex mu_;
};

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_SERVED_CERTIFICATES_H_
