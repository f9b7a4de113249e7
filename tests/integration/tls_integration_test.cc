// cohortd serving TLS (certificates made here with the openssl tool): a
// worker configured with the CA runs a step end to end, and a plaintext
// client cannot talk to cohortd at all.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cohort/v1/coordinator.grpc.pb.h"
#include "common/atomic_file.h"
#include "common/sha256.h"
#include "common/tls_inspect.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cohortd_process.h"
#include "tests/integration/worker_process.h"

namespace cohort {
namespace {

using testing::CohortdProcess;
using testing::WorkerProcess;
using testing::WorkerSpec;

void RunTool(std::vector<std::string> argv, const std::string& dir) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  options.working_dir = dir;
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  ASSERT_TRUE(r.ok() && r->Succeeded()) << (r.ok() ? r->Describe() : r.status().ToString());
}

// A CA and a server certificate for 127.0.0.1 signed by it.
void MakeCertificates(const std::string& dir) {
  RunTool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
       "-subj", "/CN=cohort-test-ca", "-keyout", "ca.key", "-out", "ca.pem"}, dir);
  RunTool({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
       "-keyout", "server.key", "-out", "server.csr"}, dir);
  ASSERT_OK(WriteFileAtomically(dir + "/san.ext", "subjectAltName=IP:127.0.0.1\n"));
  RunTool({"openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem"}, dir);
}

// A certificate for `name` (CN) signed by the CA in `ca` (ca.pem, ca.key).
void MakeClientCertificate(const std::string& dir, const std::string& name,
                           const std::string& ca) {
  RunTool({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
           "-keyout", name + ".key", "-out", name + ".csr"}, dir);
  RunTool({"openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
           ca + ".key", "-CAcreateserial", "-days", "2", "-out", name + ".pem"}, dir);
}

// A certificate `name`.pem/.key for the subjectAltNames `sans` (openssl
// syntax), signed by ca.pem in `dir`.
void MakeServerCertificate(const std::string& dir, const std::string& name,
                           const std::string& sans) {
  RunTool({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
           "-keyout", name + ".key", "-out", name + ".csr"}, dir);
  ASSERT_OK(WriteFileAtomically(dir + "/" + name + ".ext", "subjectAltName=" + sans + "\n"));
  RunTool({"openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem"},
          dir);
}

// MakeCertificates, a client certificate the CA signed (client.pem) and
// one another CA (other.pem) signed (stranger.pem).
void MakeMutualTlsCertificates(const std::string& dir) {
  MakeCertificates(dir);
  MakeClientCertificate(dir, "client", "ca");
  RunTool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
           "/CN=other-ca", "-keyout", "other.key", "-out", "other.pem"}, dir);
  MakeClientCertificate(dir, "stranger", "other");
}

SubprocessResult Cli(const std::string& home, std::vector<std::string> args,
                     std::map<std::string, std::string> env = {}) {
  SubprocessOptions options;
  options.argv = {testing::BinDir() + "/cohort", "--timeout", "10"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.extra_env = std::move(env);
  options.extra_env["HOME"] = home;  // no user config leaks in
  options.timeout = absl::Seconds(60);
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : SubprocessResult{};
}

// A TCP connection to 127.0.0.1:`port`; `local_port` gets its own port.
int Connect(int port, int* local_port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  socklen_t size = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  *local_port = ntohs(address.sin_port);
  return fd;
}

// A TLS handshake from 127.0.0.1:`local_port` presenting the client
// certificate `cert` (PEM file; its key beside it as .key) or none; returns
// once cohortd has closed the connection.
void HandshakeAsClient(int port, const std::string& cert, int* local_port) {
  int fd = Connect(port, local_port);
  ASSERT_GE(fd, 0);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!cert.empty()) {
    ASSERT_EQ(SSL_CTX_use_certificate_file(ctx, (cert + ".pem").c_str(), SSL_FILETYPE_PEM), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx, (cert + ".key").c_str(), SSL_FILETYPE_PEM), 1);
  }
  // As gRPC clients do: gRPC closes a connection that did not agree on h2
  // before it checks the client's certificate.
  static const unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kH2, sizeof(kH2));
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_connect(ssl);  // TLS 1.3: the client's side completes; cohortd checks after
  char byte;
  SSL_read(ssl, &byte, 1);  // the refusal: a close
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

bool WaitForLog(const std::string& log, const std::string& regex) {
  absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (absl::Now() < give_up) {
    if (::testing::Matches(::testing::ContainsRegex(regex))(ReadFileToString(log).value_or(""))) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ADD_FAILURE() << log << " has no line matching " << regex << ":\n"
                << ReadFileToString(log).value_or("");
  return false;
}

// cohortd with --tls-client-ca: the CLI gets in with a certificate the CA
// signed (flags, environment or config file) and is refused, with a message
// that says what to give, without one or with one another CA signed.
TEST(TlsIntegrationTest, CliPresentsAClientCertificateToACohortdThatRequiresOne) {
  cohort::testing::TempDir dir;
  MakeMutualTlsCertificates(dir.path());
  std::filesystem::create_directories(dir.Join("cohortd"));
  CohortdProcess cohortd(dir.Join("cohortd"), {"--tls-cert", dir.Join("server.pem"),
                                              "--tls-key", dir.Join("server.key"),
                                              "--tls-client-ca", dir.Join("ca.pem"),
                                              "--log-format", "json"});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  cohortd.set_tls_client_cert(dir.Join("client.pem"), dir.Join("client.key"));
  ASSERT_OK(cohortd.Start());
  ASSERT_OK_AND_ASSIGN(std::string token, cohortd.CreateToken("client"));
  std::vector<std::string> base = {"--coordinator", cohortd.address(), "--token", token,
                                   "--tls-ca", dir.Join("ca.pem")};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("status");
    return args;
  };

  SubprocessResult flags = Cli(dir.path(), with({"--tls-cert", dir.Join("client.pem"),
                                                 "--tls-key", dir.Join("client.key")}));
  EXPECT_EQ(flags.exit_code, 0) << flags.stderr_data;
  EXPECT_THAT(flags.stdout_data, ::testing::HasSubstr("CAMPAIGN"));
  SubprocessResult env = Cli(dir.path(), with({}), {{"COHORT_TLS_CERT", dir.Join("client.pem")},
                                                    {"COHORT_TLS_KEY", dir.Join("client.key")}});
  EXPECT_EQ(env.exit_code, 0) << env.stderr_data;
  ASSERT_OK(WriteFileAtomically(
      dir.Join("config.yaml"),
      absl::StrCat("coordinator: ", cohortd.address(), "\ntoken: ", token, "\ntls_ca: ",
                   dir.Join("ca.pem"), "\ntls_cert: ", dir.Join("client.pem"), "\ntls_key: ",
                   dir.Join("client.key"), "\n")));
  SubprocessResult file = Cli(dir.path(), {"--config", dir.Join("config.yaml"), "status"});
  EXPECT_EQ(file.exit_code, 0) << file.stderr_data;

  SubprocessResult none = Cli(dir.path(), with({}));
  EXPECT_EQ(none.exit_code, 1);
  // cohortd's side of that refusal is a JSON line of its own log.
  EXPECT_TRUE(WaitForLog(dir.Join("cohortd/cohortd.log"),
                         R"(\{"level":"warning".*"msg":"TLS handshake refused for )"
                         R"(127.0.0.1:[0-9]+: )"
                         R"(peer did not return a certificate)"));
  EXPECT_THAT(none.stderr_data, ::testing::HasSubstr("requires a client certificate"));
  EXPECT_THAT(none.stderr_data, ::testing::HasSubstr("--tls-cert and --tls-key"));
  SubprocessResult stranger = Cli(dir.path(), with({"--tls-cert", dir.Join("stranger.pem"),
                                                    "--tls-key", dir.Join("stranger.key")}));
  EXPECT_EQ(stranger.exit_code, 1);
  EXPECT_THAT(stranger.stderr_data,
              ::testing::HasSubstr("refused the client certificate " + dir.Join("stranger.pem")));
  SubprocessResult half = Cli(dir.path(), with({"--tls-cert", dir.Join("client.pem")}));
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_THAT(half.stderr_data, ::testing::HasSubstr("needs both its file and its key"));
  SubprocessResult not_pem = Cli(dir.path(), with({"--tls-cert", dir.Join("san.ext"),
                                                   "--tls-key", dir.Join("client.key")}));
  EXPECT_EQ(not_pem.exit_code, 2);
  EXPECT_THAT(not_pem.stderr_data, ::testing::HasSubstr("san.ext: not PEM"));
}

// cohortd's log names the peer of each handshake it refuses, which gRPC's
// own line does not: the address and port the refused client connected
// from, and the reason with what to do about it.
TEST(TlsIntegrationTest, ARefusedHandshakeIsLoggedWithItsPeer) {
  cohort::testing::TempDir dir;
  MakeMutualTlsCertificates(dir.path());
  std::filesystem::create_directories(dir.Join("cohortd"));
  CohortdProcess cohortd(dir.Join("cohortd"), {"--tls-cert", dir.Join("server.pem"),
                                              "--tls-key", dir.Join("server.key"),
                                              "--tls-client-ca", dir.Join("ca.pem")});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  cohortd.set_tls_client_cert(dir.Join("client.pem"), dir.Join("client.key"));
  ASSERT_OK(cohortd.Start());
  ASSERT_OK_AND_ASSIGN(std::string token, cohortd.CreateToken("client"));  // a call that passes
  const std::string log = dir.Join("cohortd/cohortd.log");

  int no_certificate = 0;
  HandshakeAsClient(cohortd.port(), "", &no_certificate);
  EXPECT_TRUE(WaitForLog(log, absl::StrCat("TLS handshake refused for 127.0.0.1:", no_certificate,
                                           ": peer did not return a certificate \\(the client "
                                           "presented no certificate")));

  // The chain check says which CA signed the refused certificate.
  int stranger = 0;
  HandshakeAsClient(cohortd.port(), dir.Join("stranger"), &stranger);
  EXPECT_TRUE(WaitForLog(log, absl::StrCat("TLS handshake refused for 127.0.0.1:", stranger,
                                           ": the client certificate \\(CN=stranger\\), issued "
                                           "by CN=other-ca, is not signed by the CA in ",
                                           dir.Join("ca.pem"))));

  int plaintext = 0;
  int fd = Connect(cohortd.port(), &plaintext);
  ASSERT_GE(fd, 0);
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";  // a plaintext gRPC client
  ASSERT_EQ(write(fd, preface.data(), preface.size()), static_cast<ssize_t>(preface.size()));
  char byte;
  EXPECT_LE(read(fd, &byte, 1), 0);
  close(fd);
  EXPECT_TRUE(WaitForLog(log, absl::StrCat("TLS handshake refused for 127.0.0.1:", plaintext,
                                           ": wrong version number \\(the client does not "
                                           "speak TLS")));
  // The CLI's connection, which carried calls, was never blamed, and
  // nothing went out as gRPC's bare line.
  std::string text = ReadFileToString(log).value_or("");
  std::vector<absl::string_view> pieces = absl::StrSplit(text, "TLS handshake refused");
  EXPECT_EQ(pieces.size(), 4u) << text;  // three refusals
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("grpc: Handshake failed")));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("a peer not identified")));
}

// Certificates by role: cohortd's carries the role name cohortd.cohort,
// which the docs' recipe puts in no worker's certificate. A client that
// checks the role name (--tls-server-name) refuses a rogue cohortd serving
// a worker's certificate of the same CA; the host name alone (127.0.0.1,
// in both certificates) does not tell them apart.
TEST(TlsIntegrationTest, AWorkerCertificateCannotStandInForCohortd) {
  cohort::testing::TempDir dir;
  MakeCertificates(dir.path());
  MakeServerCertificate(dir.path(), "cohortd", "IP:127.0.0.1,DNS:cohortd.cohort");
  MakeServerCertificate(dir.path(), "worker", "IP:127.0.0.1,DNS:gpu-1.example.internal");
  for (const char* role : {"cohortd", "worker"}) {
    SCOPED_TRACE(role);
    std::filesystem::create_directories(dir.Join(role) + "-state");
    CohortdProcess cohortd(dir.Join(role) + "-state",
                           {"--tls-cert", dir.Join(role) + ".pem", "--tls-key",
                            dir.Join(role) + ".key"});
    cohortd.set_tls_ca(dir.Join("ca.pem"));
    ASSERT_OK(cohortd.Start());
    ASSERT_OK_AND_ASSIGN(std::string token, cohortd.CreateToken("client"));
    std::vector<std::string> base = {"--coordinator", cohortd.address(), "--token", token,
                                     "--tls-ca", dir.Join("ca.pem")};
    std::vector<std::string> by_role = base;
    by_role.insert(by_role.end(), {"--tls-server-name", "cohortd.cohort", "status"});
    SubprocessResult checked = Cli(dir.path(), by_role);
    if (std::string(role) == "cohortd") {
      EXPECT_EQ(checked.exit_code, 0) << checked.stderr_data;
    } else {
      EXPECT_EQ(checked.exit_code, 1) << checked.stdout_data;
      EXPECT_THAT(checked.stderr_data, ::testing::HasSubstr("name cohortd.cohort"));
    }
    base.push_back("status");
    EXPECT_EQ(Cli(dir.path(), base).exit_code, 0);  // by host name alone: both pass
  }
}

// `openssl s_server` serving `cert` (and asking for a client certificate
// signed by `client_ca` when given) on a free loopback port; stopped when
// it goes out of scope.
class OpensslServer {
 public:
  OpensslServer(const std::string& dir, const std::string& cert,
                const std::string& client_ca = "")
      : port_(testing::FreePort()) {
    SubprocessOptions options;
    options.argv = {"openssl", "s_server", "-accept", absl::StrCat("127.0.0.1:", port_),
                    "-cert", dir + "/" + cert + ".pem", "-key", dir + "/" + cert + ".key",
                    "-www", "-quiet"};
    if (!client_ca.empty()) {
      options.argv.insert(options.argv.end(),
                          {"-Verify", "1", "-verify_return_error", "-CAfile", client_ca});
    }
    options.stdout_path = dir + "/s_server.log";
    options.stderr_path = dir + "/s_server.log";
    EXPECT_OK(process_.Start(options));
    // Listening once a TCP connection reaches it.
    absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (absl::Now() < give_up && !Reachable()) absl::SleepFor(absl::Milliseconds(50));
  }
  ~OpensslServer() { process_.Terminate(absl::Seconds(1)); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  bool Reachable() const {
    SubprocessOptions options;
    options.argv = {"bash", "-c", absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", port_)};
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    return r.ok() && r->Succeeded();
  }
  int port_;
  Subprocess process_;
};

// Each way a TLS connection to cohortd fails is named, as the CLI and the
// worker say it: gRPC alone reports "Socket closed" for all of them.
TEST(TlsIntegrationTest, EachTlsRefusalIsNamed) {
  cohort::testing::TempDir dir;
  MakeCertificates(dir.path());
  const std::string ca = ReadFileToString(dir.Join("ca.pem")).value();
  MakeServerCertificate(dir.path(), "good", "IP:127.0.0.1,DNS:cohortd.cohort");
  MakeServerCertificate(dir.path(), "worker", "IP:127.0.0.1,DNS:gpu-1.example.internal");
  // Expired: valid for no time at all.
  RunTool({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=old", "-keyout",
           "old.key", "-out", "old.csr"}, dir.path());
  RunTool({"openssl", "x509", "-req", "-in", "old.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-days", "0", "-extfile", "good.ext", "-out", "old.pem"},
          dir.path());
  RunTool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
           "/CN=other-ca", "-keyout", "other.key", "-out", "other.pem"}, dir.path());
  MakeClientCertificate(dir.path(), "client", "ca");
  MakeClientCertificate(dir.path(), "stranger", "other");
  absl::SleepFor(absl::Seconds(1.5));  // old.pem's one moment of validity is over
  auto probe_of = [&](const std::string& address) {
    TlsProbe probe;
    probe.address = address;
    probe.ca_pem = ca;
    probe.ca_file = "ca.pem";
    probe.expected_name = "cohortd.cohort";
    return probe;
  };
  auto with_client = [&](TlsProbe probe, const std::string& name) {
    probe.cert_pem = ReadFileToString(dir.Join(name + ".pem")).value();
    probe.key_pem = ReadFileToString(dir.Join(name + ".key")).value();
    probe.cert_file = name + ".pem";
    return probe;
  };
  {
    OpensslServer good(dir.path(), "good");
    EXPECT_EQ(DiagnoseTlsFailure(probe_of(good.address())), "");
    TlsProbe other_ca = probe_of(good.address());
    other_ca.ca_pem = ReadFileToString(dir.Join("other.pem")).value();
    EXPECT_THAT(DiagnoseTlsFailure(other_ca), ::testing::HasSubstr("is not signed by the CA"));
  }
  {
    OpensslServer old(dir.path(), "old");
    EXPECT_THAT(DiagnoseTlsFailure(probe_of(old.address())),
                ::testing::ContainsRegex("certificate \\(CN ?= ?old\\) expired at 20"));
  }
  {
    OpensslServer worker(dir.path(), "worker");
    EXPECT_THAT(DiagnoseTlsFailure(probe_of(worker.address())),
                ::testing::HasSubstr("names 127.0.0.1, gpu-1.example.internal; not cohortd.cohort"));
  }
  {
    OpensslServer mtls(dir.path(), "good", dir.Join("ca.pem"));
    EXPECT_EQ(DiagnoseTlsFailure(with_client(probe_of(mtls.address()), "client")), "");
    EXPECT_THAT(DiagnoseTlsFailure(probe_of(mtls.address())),
                ::testing::HasSubstr("requires a client certificate"));
    EXPECT_THAT(DiagnoseTlsFailure(with_client(probe_of(mtls.address()), "stranger")),
                ::testing::HasSubstr("refused the client certificate stranger.pem"));
  }
  {
    // The real cohortd (gRPC) refuses a client by closing the connection,
    // with no alert: s_server above sends one, and the probe once relied on it.
    std::filesystem::create_directories(dir.Join("mtls-cohortd"));
    CohortdProcess cohortd(dir.Join("mtls-cohortd"),
                           {"--tls-cert", dir.Join("good.pem"), "--tls-key", dir.Join("good.key"),
                            "--tls-client-ca", dir.Join("ca.pem")});
    cohortd.set_tls_ca(dir.Join("ca.pem"));
    cohortd.set_tls_client_cert(dir.Join("client.pem"), dir.Join("client.key"));
    ASSERT_OK(cohortd.Start());
    EXPECT_EQ(DiagnoseTlsFailure(with_client(probe_of(cohortd.address()), "client")), "");
    EXPECT_THAT(DiagnoseTlsFailure(probe_of(cohortd.address())),
                ::testing::HasSubstr("requires a client certificate"));
    EXPECT_THAT(DiagnoseTlsFailure(with_client(probe_of(cohortd.address()), "stranger")),
                ::testing::HasSubstr("refused the client certificate stranger.pem"));
  }
  // cohortd and a worker refuse to start with an expired certificate of
  // their own, naming it and the date.
  std::filesystem::create_directories(dir.Join("expired"));
  SubprocessOptions start;
  start.argv = {testing::BinDir() + "/cohortd", "--state-dir", dir.Join("expired"), "--listen",
                absl::StrCat("127.0.0.1:", testing::FreePort()), "--tls-cert", dir.Join("old.pem"),
                "--tls-key", dir.Join("old.key")};
  absl::StatusOr<SubprocessResult> refused = RunSubprocess(start);
  ASSERT_OK(refused.status());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_THAT(refused->stderr_data, ::testing::ContainsRegex("old.pem .*expired at 20"));
  start.argv = {testing::BinDir() + "/cohort-worker", "run", "--coordinator", "127.0.0.1:1",
                "--token-file", dir.Join("ca.pem"), "--state-dir", dir.Join("expired-worker"),
                "--tls-ca", dir.Join("ca.pem"), "--tls-cert", dir.Join("old.pem"), "--tls-key",
                dir.Join("old.key")};
  refused = RunSubprocess(start);
  ASSERT_OK(refused.status());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_THAT(refused->stderr_data, ::testing::ContainsRegex("old.pem .*expired at 20"));
  // Plaintext cohortd, and the CLI's own words against it.
  std::filesystem::create_directories(dir.Join("plain"));
  CohortdProcess plain(dir.Join("plain"));
  ASSERT_OK(plain.Start());
  EXPECT_THAT(DiagnoseTlsFailure(probe_of(plain.address())),
              ::testing::HasSubstr("does not speak TLS"));
  ASSERT_OK_AND_ASSIGN(std::string token, plain.CreateToken("client"));
  SubprocessResult cli = Cli(dir.path(), {"--coordinator", plain.address(), "--token", token,
                                          "--tls-ca", dir.Join("ca.pem"), "status"});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_THAT(cli.stderr_data, ::testing::HasSubstr("does not speak TLS"));
}

// The subject of the certificate served at `address` (openssl s_client).
std::string ServedSubject(const std::string& address, const std::string& ca) {
  SubprocessOptions options;
  options.argv = {"bash", "-c",
                  absl::StrCat("openssl s_client -connect ", address, " -CAfile ", ca,
                               " </dev/null 2>/dev/null | openssl x509 -noout -subject")};
  absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
  return r.ok() ? r->stdout_data : "";
}

// A CA, two server certificates for 127.0.0.1 ("first", "renewed"), the
// first one in place as tls.crt/tls.key, and a state folder.
void MakeRenewablePair(const std::string& dir) {
  MakeCertificates(dir);
  MakeServerCertificate(dir, "first", "IP:127.0.0.1");
  MakeServerCertificate(dir, "renewed", "IP:127.0.0.1");
  std::filesystem::copy_file(dir + "/first.pem", dir + "/tls.crt");
  std::filesystem::copy_file(dir + "/first.key", dir + "/tls.key");
  std::filesystem::create_directories(dir + "/state");
}

// Rotation: a renewed certificate replaced on disk is served to new
// connections without a restart, and a connection (a worker's, a CLI's)
// made before carries on. A key that is not the certificate's is refused
// at start, naming both files.
TEST(TlsIntegrationTest, RenewedCertificatesAreServedWithoutARestart) {
  cohort::testing::TempDir dir;
  MakeRenewablePair(dir.path());
  const int metrics_port = testing::FreePort();
  CohortdProcess cohortd(dir.Join("state"),
                         {"--tls-cert", dir.Join("tls.crt"), "--tls-key", dir.Join("tls.key"),
                          "--tls-reload-seconds", "1", "--metrics-listen",
                          absl::StrCat("127.0.0.1:", metrics_port)});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  ASSERT_OK(cohortd.Start());
  // /metrics says how long the served certificate lasts (made for 2 days).
  SubprocessOptions scrape;
  scrape.argv = {"bash", "-c",
                 absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", metrics_port,
                              "; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3")};
  absl::StatusOr<SubprocessResult> metrics = RunSubprocess(scrape);
  ASSERT_OK(metrics.status());
  double days = -1;
  for (absl::string_view line : absl::StrSplit(metrics->stdout_data, '\n')) {
    if (!absl::StartsWith(line, "cohort_tls_certificate_expiry_days{") ||
        !absl::StrContains(line, "role=\"server\"")) {
      continue;
    }
    EXPECT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &days)) << line;
  }
  EXPECT_GT(days, 1.9) << metrics->stdout_data;
  EXPECT_LE(days, 2.0);
  ASSERT_OK_AND_ASSIGN(std::string token, cohortd.CreateToken("client"));
  auto stub = v1::Coordinator::NewStub(cohortd.Channel());
  auto list = [&] {
    v1::ListCampaignsResponse response;
    return stub->ListCampaigns(CohortdProcess::Context(token).get(), v1::ListCampaignsRequest(),
                               &response);
  };
  ASSERT_TRUE(list().ok());
  EXPECT_THAT(ServedSubject(cohortd.address(), dir.Join("ca.pem")), ::testing::HasSubstr("first"));
  // Renewed in place: key first, then the certificate, each by rename.
  std::filesystem::copy_file(dir.Join("renewed.key"), dir.Join("tls.key.new"));
  std::filesystem::copy_file(dir.Join("renewed.pem"), dir.Join("tls.crt.new"));
  std::filesystem::rename(dir.Join("tls.key.new"), dir.Join("tls.key"));
  std::filesystem::rename(dir.Join("tls.crt.new"), dir.Join("tls.crt"));
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  std::string subject = ServedSubject(cohortd.address(), dir.Join("ca.pem"));
  while (subject.find("renewed") == std::string::npos && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
    subject = ServedSubject(cohortd.address(), dir.Join("ca.pem"));
  }
  EXPECT_THAT(subject, ::testing::HasSubstr("renewed"));
  grpc::Status after = list();
  EXPECT_TRUE(after.ok()) << after.error_message();

  std::filesystem::create_directories(dir.Join("mismatch"));
  SubprocessOptions start;
  start.argv = {testing::BinDir() + "/cohortd", "--state-dir", dir.Join("mismatch"), "--listen",
                absl::StrCat("127.0.0.1:", testing::FreePort()), "--tls-cert",
                dir.Join("first.pem"), "--tls-key", dir.Join("renewed.key")};
  absl::StatusOr<SubprocessResult> refused = RunSubprocess(start);
  ASSERT_OK(refused.status());
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_THAT(refused->stderr_data, ::testing::HasSubstr("renewed.key does not belong to the "
                                                         "certificate"));
}

// SIGHUP serves a renewal at once (the interval here is an hour), and a
// rotation caught half done (a new key beside the old certificate) is
// refused with the reason while the previous certificate stays served.
TEST(TlsIntegrationTest, SighupServesARenewalAndRefusesAHalfDoneOne) {
  cohort::testing::TempDir dir;
  MakeRenewablePair(dir.path());
  CohortdProcess cohortd(dir.Join("state"), {"--tls-cert", dir.Join("tls.crt"), "--tls-key",
                                             dir.Join("tls.key"), "--tls-reload-seconds",
                                             "3600"});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  ASSERT_OK(cohortd.Start());
  EXPECT_THAT(ServedSubject(cohortd.address(), dir.Join("ca.pem")), ::testing::HasSubstr("first"));
  auto served_within = [&](const std::string& name, absl::Duration limit) {
    absl::Time give_up = absl::Now() + limit;
    std::string subject = ServedSubject(cohortd.address(), dir.Join("ca.pem"));
    while (subject.find(name) == std::string::npos && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(100));
      subject = ServedSubject(cohortd.address(), dir.Join("ca.pem"));
    }
    return subject;
  };
  auto log_has = [&](const std::string& text) {
    absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (absl::Now() < give_up) {
      if (absl::StrContains(ReadFileToString(dir.Join("state/cohortd.log")).value_or(""), text)) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  };

  // Half a rotation: the renewed key beside the first certificate.
  std::filesystem::copy_file(dir.Join("renewed.key"), dir.Join("tls.key"),
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(cohortd.pid(), SIGHUP), 0);
  EXPECT_TRUE(log_has("the previous certificate is still served"));
  EXPECT_TRUE(log_has("does not belong to the certificate"));
  EXPECT_THAT(ServedSubject(cohortd.address(), dir.Join("ca.pem")), ::testing::HasSubstr("first"));

  // The rotation completes; SIGHUP serves it within a second or two.
  std::filesystem::copy_file(dir.Join("renewed.pem"), dir.Join("tls.crt"),
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(::kill(cohortd.pid(), SIGHUP), 0);
  EXPECT_THAT(served_within("renewed", absl::Seconds(5)), ::testing::HasSubstr("renewed"));
}

TEST(TlsIntegrationTest, WorkerRunsOverTlsAndPlaintextIsRefused) {
  cohort::testing::TempDir dir;
  MakeCertificates(dir.path());
  std::filesystem::create_directories(dir.Join("cohortd"));
  CohortdProcess cohortd(dir.Join("cohortd"), {"--tls-cert", dir.Join("server.pem"),
                                              "--tls-key", dir.Join("server.key")});
  cohortd.set_tls_ca(dir.Join("ca.pem"));
  ASSERT_OK(cohortd.Start());
  ASSERT_OK_AND_ASSIGN(std::string client_token, cohortd.CreateToken("client"));
  ASSERT_OK_AND_ASSIGN(std::string worker_token, cohortd.CreateToken("worker"));
  ASSERT_OK(WriteFileAtomically(dir.Join("worker.token"), worker_token));

  // Plaintext to a TLS listener fails before any RPC is answered.
  auto plain = v1::Coordinator::NewStub(
      grpc::CreateChannel(cohortd.address(), grpc::InsecureChannelCredentials()));
  v1::ListCampaignsRequest list;
  v1::ListCampaignsResponse listed;
  grpc::Status refused = plain->ListCampaigns(
      CohortdProcess::Context(client_token, absl::Seconds(3)).get(), list, &listed);
  EXPECT_FALSE(refused.ok());

  RunTool({testing::BinDir() + "/cohort-worker", "synth-contrib", "--layers", "2", "--experts",
       "8", "--output", "contrib.json"}, dir.path());
  auto client = v1::Coordinator::NewStub(cohortd.Channel());
  std::string digest = "sha256:" + Sha256File(dir.Join("contrib.json")).value();
  v1::RegisterArtifactsRequest reg;
  v1::Artifact* a = reg.add_artifacts();
  a->set_digest(digest);
  a->add_locations()->set_shared_path(dir.Join("contrib.json"));
  v1::RegisterArtifactsResponse reg_response;
  ASSERT_TRUE(client->RegisterArtifacts(CohortdProcess::Context(client_token).get(), reg,
                                        &reg_response).ok());

  WorkerSpec spec;
  spec.id = "w-tls";
  spec.state_dir = dir.Join("w");
  spec.coordinator = cohortd.address();
  spec.token_file = dir.Join("worker.token");
  spec.extra_flags = {"--tls-ca", dir.Join("ca.pem")};
  WorkerProcess worker(spec);
  ASSERT_OK(worker.Start());

  v1::SubmitCampaignRequest submit;
  v1::StepSpec* step = submit.mutable_spec()->add_steps();
  step->set_node_id("dm");
  step->set_kind(v1::STEP_KIND_DROPMAP);
  step->set_params_json(R"({"flags": {"target": 6}})");
  v1::StepSpecInput* in = step->add_inputs();
  in->set_name("contrib");
  in->set_artifact_digest(digest);
  v1::SubmitCampaignResponse submitted;
  ASSERT_TRUE(client->SubmitCampaign(CohortdProcess::Context(client_token).get(), submit,
                                     &submitted).ok());
  v1::GetCampaignRequest get;
  get.set_campaign_id(submitted.campaign_id());
  v1::Campaign campaign;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    absl::SleepFor(absl::Milliseconds(100));
    client->GetCampaign(CohortdProcess::Context(client_token).get(), get, &campaign);
  } while (campaign.state() == v1::CAMPAIGN_STATE_RUNNING && absl::Now() < deadline);
  EXPECT_EQ(campaign.state(), v1::CAMPAIGN_STATE_SUCCEEDED)
      << ReadFileToString(worker.LogPath()).value_or("");
}

// cohortd fails closed: a TLS flag set that would serve less than it asks,
// or plaintext off loopback without --insecure-plaintext, stops it at start
// with the reason (it served plaintext with no client check before).
TEST(ListenerSecurityTest, CohortdRefusesToStartInsecurelyAndSaysWhy) {
  cohort::testing::TempDir dir;
  auto start = [&](std::vector<std::string> extra) {
    SubprocessOptions options;
    options.argv = {testing::BinDir() + "/cohortd", "--state-dir", dir.Join("state"),
                    "--port-file", dir.Join("port")};
    options.argv.insert(options.argv.end(), extra.begin(), extra.end());
    options.timeout = absl::Seconds(20);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(SubprocessResult{});
  };
  const std::string loopback = "127.0.0.1:" + std::to_string(testing::FreePort());
  SubprocessResult ca_only = start({"--listen", loopback, "--tls-client-ca", dir.Join("ca.crt")});
  EXPECT_NE(ca_only.exit_code, 0);
  EXPECT_THAT(ca_only.stderr_data, ::testing::HasSubstr("--tls-client-ca needs --tls-cert"));
  SubprocessResult cert_only = start({"--listen", loopback, "--tls-cert", dir.Join("c.crt")});
  EXPECT_NE(cert_only.exit_code, 0);
  EXPECT_THAT(cert_only.stderr_data, ::testing::HasSubstr("--tls-cert needs --tls-key"));
  SubprocessResult open = start({"--listen", "0.0.0.0:" + std::to_string(testing::FreePort())});
  EXPECT_NE(open.exit_code, 0);
  EXPECT_THAT(open.stderr_data, ::testing::HasSubstr("not a loopback address"));
  EXPECT_THAT(open.stderr_data, ::testing::HasSubstr("--insecure-plaintext"));
  EXPECT_FALSE(std::filesystem::exists(dir.Join("port"))) << "it served anyway";
}

}  // namespace
}  // namespace cohort
