#include "server/service/served_certificates.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

void Openssl(std::vector<std::string> args, const std::string& dir) {
  SubprocessOptions options;
  options.argv = {"openssl"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.working_dir = dir;
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
}

// A self-signed certificate `name`.crt with its key `name`.key.
void SelfSigned(const std::string& dir, const std::string& name) {
  Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
           "/CN=" + name, "-keyout", name + ".key", "-out", name + ".crt"},
          dir);
}

// What cohortd serves changes only to a pair that checks out: a renewal is
// copied over (true once, then unchanged), a half-done rotation (a new key
// beside the old certificate) and an expired renewal leave the served copies
// as they were and say why.
TEST(ServedCertificatesTest, OnlyACheckedPairReplacesWhatIsServed) {
  cohort::testing::TempDir dir;
  SelfSigned(dir.path(), "a");
  SelfSigned(dir.path(), "b");
  ASSERT_OK(WriteFileAtomically(dir.Join("ca.crt"), ReadFileToString(dir.Join("a.crt")).value()));
  ASSERT_OK(WriteFileAtomically(dir.Join("tls.crt"), ReadFileToString(dir.Join("a.crt")).value()));
  ASSERT_OK(WriteFileAtomically(dir.Join("tls.key"), ReadFileToString(dir.Join("a.key")).value()));
  ServedCertificates served({dir.Join("tls.crt"), dir.Join("tls.key"), dir.Join("ca.crt")},
                            dir.Join("served"));
  ASSERT_OK_AND_ASSIGN(bool first, served.Sync(absl::Now()));
  EXPECT_TRUE(first);
  EXPECT_EQ(ReadFileToString(served.cert_path()).value(), ReadFileToString(dir.Join("a.crt")).value());
  EXPECT_EQ(ReadFileToString(served.client_ca_path()).value(),
            ReadFileToString(dir.Join("a.crt")).value());
  ASSERT_OK_AND_ASSIGN(bool again, served.Sync(absl::Now()));
  EXPECT_FALSE(again);

  // Half a rotation: b's key beside a's certificate.
  ASSERT_OK(WriteFileAtomically(dir.Join("tls.key"), ReadFileToString(dir.Join("b.key")).value()));
  EXPECT_THAT(served.Sync(absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not belong")));
  EXPECT_EQ(ReadFileToString(served.key_path()).value(), ReadFileToString(dir.Join("a.key")).value());
  // The rotation completes: b is served.
  ASSERT_OK(WriteFileAtomically(dir.Join("tls.crt"), ReadFileToString(dir.Join("b.crt")).value()));
  ASSERT_OK_AND_ASSIGN(bool renewed, served.Sync(absl::Now()));
  EXPECT_TRUE(renewed);
  EXPECT_EQ(ReadFileToString(served.cert_path()).value(), ReadFileToString(dir.Join("b.crt")).value());
  EXPECT_EQ(ReadFileToString(served.key_path()).value(), ReadFileToString(dir.Join("b.key")).value());
  // Seen from three days on, b has expired: refused, b stays served.
  EXPECT_THAT(served.Sync(absl::Now() + absl::Hours(72)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired at")));
  EXPECT_EQ(ReadFileToString(served.cert_path()).value(), ReadFileToString(dir.Join("b.crt")).value());
  // Not PEM: named.
  ASSERT_OK(WriteFileAtomically(dir.Join("ca.crt"), "junk\n"));
  EXPECT_THAT(served.Sync(absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ca.crt: not PEM")));
}

}  // namespace
}  // namespace cohort::server
