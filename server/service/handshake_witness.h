// File: handshake_witness.h
//
// Names the peer of each TLS handshake cohortd refuses. gRPC 1.51 logs why
// a handshake failed ("peer did not return a certificate") but not whose it
// was, and offers no hook that sees a connection before its first call.
// cohortd therefore accepts its TLS connections itself (TlsAcceptor) and
// knows each one's peer; gRPC closes a refused connection a few
// milliseconds after logging the reason, always in that order. The witness
// pairs each failure line with a connection gRPC closed afterwards that had
// carried no call, oldest first.
//
// The pairing is by time order: exact while refusals do not overlap; two
// handshakes failing within one sweep (50 ms) may swap reasons between
// their two peers, and a client that leaves without a word in the few
// milliseconds between another's failure line and its close could take
// that line. A line no closed connection takes within kUnpairedAfter is
// reported without a peer.
//
//   witness.Accepted(fd, inode, "ipv4:10.0.0.5:43210", now);   // acceptor thread
//   witness.HandshakeFailed("peer did not return a certificate", now);  // gRPC's log line
//   witness.CallArrived("ipv4:10.0.0.9:5566");                   // a call: its handshake passed
//   for (const HandshakeRefusal& r : witness.Sweep(now, still_open)) log(r);
//
// Pure: the caller reports what it saw and says which connections are still
// open. Thread-safe: one mutex.
#ifndef COHORT_SERVER_SERVICE_HANDSHAKE_WITNESS_H_
#define COHORT_SERVER_SERVICE_HANDSHAKE_WITNESS_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cohort::server {

struct HandshakeRefusal {
  std::string peer;    // gRPC's form, "ipv4:10.0.0.5:43210"; empty: not paired
  std::string reason;  // OpenSSL's words: "peer did not return a certificate"
};

class HandshakeWitness {
 public:
  // A failure line waits this long for its connection to close.
  static constexpr absl::Duration kUnpairedAfter = absl::Seconds(2);
  // A connection with no call and no close by then is forgotten: gRPC's
  // server handshake deadline is two minutes.
  static constexpr absl::Duration kForgetAfter = absl::Minutes(3);

  // `identity` tells this connection from a later one that reuses its fd
  // number (the socket's inode).
  void Accepted(int fd, uint64_t identity, std::string peer, absl::Time at);
  // A call came over the connection from `peer` (gRPC's ServerContext::peer,
  // which percent-encodes an IPv6 address's brackets): its handshake passed.
  void CallArrived(absl::string_view peer);
  // gRPC logged a refused handshake.
  void HandshakeFailed(std::string reason, absl::Time at);

  // Pairs failure lines with the connections that closed since the last
  // sweep (`still_open(fd, identity)` false) and returns the refusals
  // settled: paired, or unpaired for kUnpairedAfter.
  std::vector<HandshakeRefusal> Sweep(absl::Time now,
                                      absl::FunctionRef<bool(int fd, uint64_t identity)> still_open);

  // Whether anything waits for a sweep (the acceptor sweeps often then).
  bool Busy() const;

 private:
  struct Connection {
    int fd = -1;
    uint64_t identity = 0;
    absl::Time accepted;
  };
  struct Failure {
    std::string reason;
    absl::Time at;
  };
  struct Closed {
    std::string peer;
    absl::Time accepted;
  };

  std::vector<Closed> TakeClosed(absl::Time now,
                                 absl::FunctionRef<bool(int, uint64_t)> still_open)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Connections with no call yet, by peer.
  absl::flat_hash_map<std::string, Connection> watched_ ABSL_GUARDED_BY(mu_);
  std::deque<Failure> failures_ ABSL_GUARDED_BY(mu_);  // oldest first
};

// OpenSSL's reason from gRPC's line "Handshake failed with fatal error
// SSL_ERROR_SSL: error:0A0000C7:SSL routines::peer did not return a
// certificate." ("peer did not return a certificate"); the message itself
// when it has no such part.
std::string HandshakeFailureReason(absl::string_view grpc_message);

// What the reason means for the operator ("the client sent no certificate
// ..."); empty when there is nothing to add.
std::string ExplainHandshakeFailure(absl::string_view reason);

}  // namespace cohort::server

#endif  // COHORT_SERVER_SERVICE_HANDSHAKE_WITNESS_H_
