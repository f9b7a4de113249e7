// The worker's TLS flags fail closed: a set that would do less than it asks
// (plaintext to cohortd despite a certificate) is a start-up error.
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/agent/agent.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

TEST(TlsFlagsTest, IncompleteSetsAreRefusedNamingWhatIsMissing) {
  AgentOptions o;
  EXPECT_OK(CheckTlsFlags(o));  // plaintext, asked for by giving nothing
  o.tls_cert_file = "worker.crt";
  EXPECT_THAT(CheckTlsFlags(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-cert needs --tls-key")));
  o.tls_key_file = "worker.key";
  EXPECT_THAT(CheckTlsFlags(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("need --tls-ca")));
  EXPECT_THAT(ClientCredentials(o).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                      HasSubstr("plaintext to cohortd")));
  o.tls_ca_file = "ca.crt";
  EXPECT_OK(CheckTlsFlags(o));
  o.tls_cert_file.clear();
  EXPECT_THAT(CheckTlsFlags(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-key needs --tls-cert")));
  AgentOptions ca_only;
  ca_only.tls_ca_file = "ca.crt";  // server-authenticated TLS without a client certificate
  EXPECT_OK(CheckTlsFlags(ca_only));
}

}  // namespace
}  // namespace cohort::worker
