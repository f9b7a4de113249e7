#include "server/service/handshake_witness.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace cohort::server {

void HandshakeWitness::Accepted(int fd, uint64_t identity, std::string peer, absl::Time at) {
  absl::MutexLock lock(&mu_);
  watched_[std::move(peer)] = Connection{fd, identity, at};
}

void HandshakeWitness::CallArrived(absl::string_view peer) {
  absl::MutexLock lock(&mu_);
  if (watched_.empty()) return;  // the common case: every connection has had its call
  // gRPC writes an IPv6 peer as a URI: "ipv6:%5B::1%5D:34216".
  watched_.erase(absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5D", "]"}, {"%5b", "["},
                                            {"%5d", "]"}}));
}

void HandshakeWitness::HandshakeFailed(std::string reason, absl::Time at) {
  absl::MutexLock lock(&mu_);
  failures_.push_back(Failure{std::move(reason), at});
}

bool HandshakeWitness::Busy() const {
  absl::MutexLock lock(&mu_);
  return !watched_.empty() || !failures_.empty();
}

std::vector<HandshakeWitness::Closed> HandshakeWitness::TakeClosed(
    absl::Time now, absl::FunctionRef<bool(int, uint64_t)> still_open) {
  std::vector<Closed> closed;
  for (auto it = watched_.begin(); it != watched_.end();) {
    const Connection& c = it->second;
    if (!still_open(c.fd, c.identity)) {
      closed.push_back(Closed{it->first, c.accepted});
    } else if (now - c.accepted < kForgetAfter) {
      ++it;
      continue;
    }
    watched_.erase(it++);
  }
  std::sort(closed.begin(), closed.end(),
            [](const Closed& a, const Closed& b) { return a.accepted < b.accepted; });
  return closed;
}

std::vector<HandshakeRefusal> HandshakeWitness::Sweep(
    absl::Time now, absl::FunctionRef<bool(int fd, uint64_t identity)> still_open) {
  absl::MutexLock lock(&mu_);
  std::vector<Closed> closed = TakeClosed(now, still_open);
  std::vector<bool> taken(closed.size(), false);
  std::vector<HandshakeRefusal> settled;
  std::deque<Failure> waiting;
  for (Failure& failure : failures_) {
    // gRPC logs the reason before it closes the connection, so the
    // connection a line is about was accepted before the line and closes
    // after it: by now, or within a sweep or two.
    size_t i = 0;
    while (i < closed.size() && (taken[i] || closed[i].accepted > failure.at)) ++i;
    if (i < closed.size()) {
      taken[i] = true;
      settled.push_back(HandshakeRefusal{closed[i].peer, std::move(failure.reason)});
    } else if (now - failure.at >= kUnpairedAfter) {
      settled.push_back(HandshakeRefusal{"", std::move(failure.reason)});
    } else {
      waiting.push_back(std::move(failure));
    }
  }
  // Closed connections no line took left without a refusal (a client that
  // went away, a port scan): nothing to report.
  failures_ = std::move(waiting);
  return settled;
}

std::string HandshakeFailureReason(absl::string_view grpc_message) {
  absl::string_view reason = grpc_message;
  // OpenSSL 3: "error:0A0000C7:SSL routines::peer did not return a certificate"
  size_t routines = reason.rfind("::");
  if (absl::StartsWith(reason, "Handshake failed") && routines != absl::string_view::npos) {
    reason.remove_prefix(routines + 2);
  }
  absl::ConsumeSuffix(&reason, ".");
  return std::string(reason);
}

std::string ExplainHandshakeFailure(absl::string_view reason) {
  struct Meaning {
    const char* words;
    const char* explanation;
  };
  static constexpr Meaning kMeanings[] = {
      {"peer did not return a certificate",
       "the client presented no certificate, and this cohortd requires one (--tls-client-ca): "
       "give the client --tls-cert and --tls-key"},
      {"certificate verify failed",
       "the client's certificate did not verify against --tls-client-ca: signed by another "
       "CA, expired or not yet valid (the client's own error names which)"},
      {"wrong version number", "the client does not speak TLS: give it --tls-ca"},
      {"http request", "the client does not speak TLS (plain HTTP): give it --tls-ca"},
      {"alert unknown ca",
       "the client does not trust cohortd's certificate: its --tls-ca is another CA's"},
      {"alert certificate expired", "the client says cohortd's certificate has expired"},
      {"alert bad certificate", "the client refused cohortd's certificate"},
      {"alert certificate unknown", "the client refused cohortd's certificate"},
      {"no shared cipher", "the client offers no cipher cohortd accepts"},
      {"unsupported protocol", "the client offers no TLS version cohortd accepts"},
  };
  for (const Meaning& meaning : kMeanings) {
    if (absl::StrContains(reason, meaning.words)) return meaning.explanation;
  }
  return "";
}

}  // namespace cohort::server
