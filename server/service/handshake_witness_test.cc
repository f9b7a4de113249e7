#include "server/service/handshake_witness.h"

#include <set>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::testing::ElementsAre;
using ::testing::FieldsAre;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

absl::Time At(int ms) { return kT0 + absl::Milliseconds(ms); }

// Which (fd, identity) pairs are still open; everything else has closed.
class Sockets {
 public:
  void Open(int fd, uint64_t identity) { open_.insert({fd, identity}); }
  void Close(int fd, uint64_t identity) { open_.erase({fd, identity}); }
  bool operator()(int fd, uint64_t identity) const { return open_.count({fd, identity}) > 0; }

 private:
  std::set<std::pair<int, uint64_t>> open_;
};

TEST(HandshakeWitnessTest, ALineIsPairedWithTheConnectionGrpcClosesAfterIt) {
  HandshakeWitness witness;
  Sockets sockets;
  sockets.Open(7, 100);
  sockets.Open(8, 101);
  witness.Accepted(7, 100, "ipv4:10.0.0.5:40000", At(0));
  witness.Accepted(8, 101, "ipv4:10.0.0.21:50000", At(1));
  witness.CallArrived("ipv4:10.0.0.21:50000");
  EXPECT_THAT(witness.Sweep(At(2), sockets), IsEmpty());

  witness.HandshakeFailed("peer did not return a certificate", At(10));
  // Logged, not yet closed: the line waits for its connection.
  EXPECT_THAT(witness.Sweep(At(11), sockets), IsEmpty());
  sockets.Close(7, 100);
  EXPECT_THAT(witness.Sweep(At(60), sockets),
              ElementsAre(FieldsAre("ipv4:10.0.0.5:40000", "peer did not return a certificate")));
  EXPECT_FALSE(witness.Busy());
}

TEST(HandshakeWitnessTest, AConnectionThatCarriedACallIsNeverBlamed) {
  HandshakeWitness witness;
  Sockets sockets;
  witness.Accepted(7, 100, "ipv4:10.0.0.21:50000", At(0));  // a worker: its call, then gone
  witness.CallArrived("ipv4:10.0.0.21:50000");
  sockets.Open(9, 102);
  witness.Accepted(9, 102, "ipv4:10.0.0.5:40001", At(5));
  witness.HandshakeFailed("certificate verify failed", At(20));
  sockets.Close(9, 102);
  EXPECT_THAT(witness.Sweep(At(50), sockets),
              ElementsAre(FieldsAre("ipv4:10.0.0.5:40001", "certificate verify failed")));
}

TEST(HandshakeWitnessTest, AnIpv6CallIsMatchedInGrpcsForm) {
  HandshakeWitness witness;
  Sockets sockets;
  sockets.Open(7, 100);
  witness.Accepted(7, 100, "ipv6:[::1]:40000", At(0));
  witness.CallArrived("ipv6:%5B::1%5D:40000");  // as gRPC 1.51 writes it (measured)
  EXPECT_FALSE(witness.Busy());
}

TEST(HandshakeWitnessTest, AFdNumberReusedByALaterConnectionIsStillTheOldOnesClose) {
  HandshakeWitness witness;
  Sockets sockets;
  witness.Accepted(7, 100, "ipv4:10.0.0.5:40000", At(0));
  witness.HandshakeFailed("wrong version number", At(3));
  sockets.Open(7, 200);  // fd 7 closed and taken again by another socket
  EXPECT_THAT(witness.Sweep(At(50), sockets),
              ElementsAre(FieldsAre("ipv4:10.0.0.5:40000", "wrong version number")));
}

TEST(HandshakeWitnessTest, AClientThatLeavesWithoutAWordIsNotReported) {
  HandshakeWitness witness;
  Sockets sockets;
  witness.Accepted(7, 100, "ipv4:10.0.0.99:1234", At(0));  // a port scan
  EXPECT_THAT(witness.Sweep(At(50), sockets), IsEmpty());
  EXPECT_FALSE(witness.Busy());
  // A later refusal is not pinned on it.
  sockets.Open(8, 101);
  witness.Accepted(8, 101, "ipv4:10.0.0.5:40000", At(60));
  witness.HandshakeFailed("http request", At(70));
  sockets.Close(8, 101);
  EXPECT_THAT(witness.Sweep(At(100), sockets),
              ElementsAre(FieldsAre("ipv4:10.0.0.5:40000", "http request")));
}

TEST(HandshakeWitnessTest, RefusalsInOneSweepArePairedOldestFirst) {
  HandshakeWitness witness;
  Sockets sockets;
  witness.Accepted(7, 100, "ipv4:10.0.0.5:40000", At(0));
  witness.Accepted(8, 101, "ipv4:10.0.0.6:40000", At(1));
  witness.HandshakeFailed("peer did not return a certificate", At(10));
  witness.HandshakeFailed("certificate verify failed", At(11));
  EXPECT_THAT(witness.Sweep(At(50), sockets),
              ElementsAre(FieldsAre("ipv4:10.0.0.5:40000", "peer did not return a certificate"),
                          FieldsAre("ipv4:10.0.0.6:40000", "certificate verify failed")));
}

TEST(HandshakeWitnessTest, AConnectionAcceptedAfterTheLineIsNotItsPeer) {
  HandshakeWitness witness;
  Sockets sockets;
  witness.HandshakeFailed("certificate verify failed", At(10));
  witness.Accepted(7, 100, "ipv4:10.0.0.5:40000", At(20));  // closed, but too late for the line
  EXPECT_THAT(witness.Sweep(At(50), sockets), IsEmpty());
  EXPECT_TRUE(witness.Busy());
  EXPECT_THAT(witness.Sweep(At(10) + HandshakeWitness::kUnpairedAfter, sockets),
              ElementsAre(FieldsAre("", "certificate verify failed")));
  EXPECT_FALSE(witness.Busy());
}

TEST(HandshakeWitnessTest, AnIdleConnectionIsForgottenAfterTheHandshakeDeadline) {
  HandshakeWitness witness;
  Sockets sockets;
  sockets.Open(7, 100);
  witness.Accepted(7, 100, "ipv4:10.0.0.5:40000", At(0));
  EXPECT_TRUE(witness.Busy());
  EXPECT_THAT(witness.Sweep(kT0 + HandshakeWitness::kForgetAfter, sockets), IsEmpty());
  EXPECT_FALSE(witness.Busy());
}

TEST(HandshakeFailureReasonTest, KeepsOpensslsWords) {
  EXPECT_EQ(HandshakeFailureReason("Handshake failed with fatal error SSL_ERROR_SSL: "
                                   "error:0A0000C7:SSL routines::peer did not return a "
                                   "certificate."),
            "peer did not return a certificate");
  EXPECT_EQ(HandshakeFailureReason("Handshake failed with fatal error SSL_ERROR_SYSCALL"),
            "Handshake failed with fatal error SSL_ERROR_SYSCALL");
  EXPECT_EQ(HandshakeFailureReason(""), "");
}

TEST(HandshakeFailureReasonTest, ExplainsWhatAnOperatorCanDo) {
  EXPECT_THAT(ExplainHandshakeFailure("peer did not return a certificate"),
              ::testing::HasSubstr("--tls-cert and --tls-key"));
  EXPECT_THAT(ExplainHandshakeFailure("tlsv1 alert unknown ca"),
              ::testing::HasSubstr("--tls-ca is another CA's"));
  EXPECT_THAT(ExplainHandshakeFailure("wrong version number"),
              ::testing::HasSubstr("does not speak TLS"));
  EXPECT_EQ(ExplainHandshakeFailure("something new"), "");
}

}  // namespace
}  // namespace cohort::server
