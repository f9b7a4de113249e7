#include "common/tls_inspect.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort {
namespace {

using ::testing::HasSubstr;

// Certificates made with the openssl tool (P-256 keys: quick to make).
class ClientCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCa("ca");
    MakeCa("other-ca");
    Sign("client", "ca", "extendedKeyUsage=clientAuth");
    Sign("stranger", "other-ca", "extendedKeyUsage=clientAuth");
    Sign("server-only", "ca", "extendedKeyUsage=serverAuth");
    // ca -> intermediate -> leaf
    Sign("intermediate", "ca", "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign");
    Sign("deep", "intermediate", "extendedKeyUsage=clientAuth");
  }

  void Run(std::vector<std::string> argv) {
    SubprocessOptions options;
    options.argv = std::move(argv);
    options.working_dir = dir_.path();
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
  }
  void MakeCa(const std::string& name) {
    Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "30", "-subj", "/CN=" + name, "-keyout", name + ".key", "-out",
         name + ".pem"});
  }
  void Sign(const std::string& name, const std::string& ca, const std::string& extensions) {
    Run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=" + name, "-keyout", name + ".key", "-out", name + ".csr"});
    ASSERT_OK(WriteFileAtomically(dir_.Join(name + ".ext"), extensions + "\n"));
    Run({"openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
         ca + ".key", "-CAcreateserial", "-days", "10", "-extfile", name + ".ext", "-out",
         name + ".pem"});
  }
  std::string Pem(const std::string& name) {
    return ReadFileToString(dir_.Join(name + ".pem")).value_or("");
  }
  absl::Status Verify(const std::string& leaf, const std::string& chain = "",
                      absl::Time now = absl::Now()) {
    return VerifyClientCertificate(Pem(leaf), chain.empty() ? "" : Pem(chain), Pem("ca"),
                                   "/etc/cohort/ca.crt", now);
  }

  cohort::testing::TempDir dir_;
};

TEST_F(ClientCertificateTest, ACertificateTheCaSignedPasses) {
  EXPECT_OK(Verify("client"));
  // The chain a handshake builds ends in the CA itself: no harm.
  EXPECT_OK(Verify("client", "ca"));
  // Either of two CAs in the file.
  EXPECT_OK(VerifyClientCertificate(Pem("stranger"), "", Pem("ca") + Pem("other-ca"), "both",
                                    absl::Now()));
}

TEST_F(ClientCertificateTest, AnotherCasCertificateIsNamedAsSuch) {
  absl::Status status = Verify("stranger");
  EXPECT_TRUE(absl::IsUnauthenticated(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("the client certificate (CN=stranger), issued by "
                                          "CN=other-ca, is not signed by the CA in "
                                          "/etc/cohort/ca.crt"));
  // Sending the other CA along does not make it trusted.
  EXPECT_TRUE(absl::IsUnauthenticated(Verify("stranger", "other-ca")));
  // Nor does a CA's own certificate pass as a client's.
  EXPECT_TRUE(absl::IsUnauthenticated(Verify("other-ca")));
}

TEST_F(ClientCertificateTest, DatesAreNamed) {
  ASSERT_OK_AND_ASSIGN(CertificateInfo info, ReadCertificatePem(Pem("client"), "client"));
  absl::Status late = Verify("client", "", info.not_after + absl::Hours(1));
  EXPECT_TRUE(absl::IsUnauthenticated(late)) << late;
  EXPECT_THAT(late.message(), HasSubstr(absl::StrCat("the client certificate (CN=client) "
                                                     "expired at ",
                                                     FormatCertificateTime(info.not_after))));
  absl::Status early = Verify("client", "", info.not_before - absl::Hours(1));
  EXPECT_THAT(early.message(), HasSubstr(absl::StrCat("is not valid before ",
                                                      FormatCertificateTime(info.not_before))));
}

TEST_F(ClientCertificateTest, AServerOnlyCertificateIsNotForClientUse) {
  absl::Status status = Verify("server-only");
  EXPECT_TRUE(absl::IsUnauthenticated(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("(CN=server-only) is not for client use"));
}

// What the handshake's security level refuses (Debian: 2) is refused too.
TEST_F(ClientCertificateTest, AKeyTooWeakForTheSecurityLevelIsRefused) {
  Run({"openssl", "req", "-newkey", "rsa:1024", "-nodes", "-subj", "/CN=weak", "-keyout",
       "weak.key", "-out", "weak.csr"});
  ASSERT_OK(WriteFileAtomically(dir_.Join("weak.ext"), "extendedKeyUsage=clientAuth\n"));
  Run({"openssl", "x509", "-req", "-in", "weak.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-days", "10", "-extfile", "weak.ext", "-out", "weak.pem"});
  absl::Status status = Verify("weak");
  EXPECT_TRUE(absl::IsUnauthenticated(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("(CN=weak) has a key or signature too weak"));
}

TEST_F(ClientCertificateTest, AnIntermediateMustBeSent) {
  EXPECT_OK(Verify("deep", "intermediate"));
  absl::Status alone = Verify("deep");
  EXPECT_TRUE(absl::IsUnauthenticated(alone)) << alone;
  EXPECT_THAT(alone.message(), HasSubstr("issued by CN=intermediate, is not signed by the CA"));
  // A CA file holding the intermediate alone trusts what it signed, as
  // gRPC's own check did, and nothing the root signed directly.
  EXPECT_OK(VerifyClientCertificate(Pem("deep"), "", Pem("intermediate"), "inter.crt",
                                    absl::Now()));
  EXPECT_TRUE(absl::IsUnauthenticated(
      VerifyClientCertificate(Pem("client"), "", Pem("intermediate"), "inter.crt", absl::Now())));
}

TEST_F(ClientCertificateTest, NotACertificateIsAnError) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      VerifyClientCertificate("garbage", "", Pem("ca"), "ca", absl::Now())));
  // No CA at all trusts nothing.
  EXPECT_TRUE(absl::IsUnauthenticated(
      VerifyClientCertificate(Pem("client"), "", "", "empty.crt", absl::Now())));
}

}  // namespace
}  // namespace cohort
