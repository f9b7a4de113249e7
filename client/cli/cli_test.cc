// The CLI without a cohortd: configuration precedence and errors, and the
// exit codes and messages of usage errors (2) that must not reach a server.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "client/cli/app.h"
#include "client/cli/config.h"
#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No user's config or environment leaks in.
    setenv("HOME", dir_.path().c_str(), 1);
    unsetenv("XDG_CONFIG_HOME");
    for (const char* name : {"COHORT_CONFIG", "COHORT_COORDINATOR", "COHORT_TOKEN",
                             "COHORT_TLS_CA", "COHORT_TLS_CERT", "COHORT_TLS_KEY",
                             "COHORT_TLS_SERVER_NAME"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { unsetenv("COHORT_COORDINATOR"); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_.Join(name);
    EXPECT_OK(WriteFileAtomically(path, text));
    return path;
  }

  // Runs `cohort ARGS...`; its standard error in *err.
  int Cohort(std::vector<std::string> args, std::string* err) {
    args.insert(args.begin(), "cohort");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    int code = RunCli(static_cast<int>(args.size()), argv.data());
    ::testing::internal::GetCapturedStdout();
    *err = ::testing::internal::GetCapturedStderr();
    return code;
  }

  testing::TempDir dir_;
};

TEST_F(CliTest, FlagsOverTheEnvironmentOverTheFileOverTheDefault) {
  ConfigFlags flags;
  ASSERT_OK_AND_ASSIGN(ClientConfig none, ResolveConfig(flags));
  EXPECT_EQ(none.coordinator, "127.0.0.1:7400");  // no default file: not an error
  EXPECT_EQ(none.source, "");

  std::string token = Write("client.token", "  cht_client_abc\n");
  flags.config_file = Write("c.yaml", "coordinator: file:1\ntoken_file: " + token + "\n");
  ASSERT_OK_AND_ASSIGN(ClientConfig from_file, ResolveConfig(flags));
  EXPECT_EQ(from_file.coordinator, "file:1");
  EXPECT_EQ(from_file.token, "cht_client_abc");  // white space stripped
  EXPECT_EQ(from_file.source, flags.config_file);

  setenv("COHORT_COORDINATOR", "env:2", 1);
  ASSERT_OK_AND_ASSIGN(ClientConfig from_env, ResolveConfig(flags));
  EXPECT_EQ(from_env.coordinator, "env:2");
  EXPECT_EQ(from_env.token, "cht_client_abc");

  flags.coordinator = "flag:3";
  ASSERT_OK_AND_ASSIGN(ClientConfig from_flag, ResolveConfig(flags));
  EXPECT_EQ(from_flag.coordinator, "flag:3");
}

TEST_F(CliTest, WhatUpWritesReadsBack) {
  std::string token = Write("t", "cht_client_x\n");
  ConfigFlags flags;
  flags.config_file = Write("c.yaml", ConfigText("127.0.0.1:9", token));
  ASSERT_OK_AND_ASSIGN(ClientConfig config, ResolveConfig(flags));
  EXPECT_EQ(config.coordinator, "127.0.0.1:9");
  EXPECT_EQ(config.token, "cht_client_x");
}

TEST_F(CliTest, ConfigErrorsNameTheFileAndLine) {
  ConfigFlags flags;
  flags.config_file = dir_.Join("missing.yaml");
  EXPECT_THAT(ResolveConfig(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing.yaml")));
  flags.config_file = Write("typo.yaml", "coordinator: a:1\ncordinator: b:2\n");
  EXPECT_THAT(ResolveConfig(flags),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("typo.yaml:2: unknown key 'cordinator'")));
  flags.config_file = Write("broken.yaml", "coordinator: [1\n");
  EXPECT_THAT(ResolveConfig(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("broken.yaml:")));
  flags.config_file = Write("list.yaml", "- a\n- b\n");
  EXPECT_THAT(ResolveConfig(flags), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("expected a mapping")));
  flags.config_file = Write("token.yaml", "token_file: " + dir_.Join("none") + "\n");
  EXPECT_THAT(ResolveConfig(flags), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("token.yaml:1: token_file")));
  setenv("COHORT_CONFIG", dir_.Join("also-missing.yaml").c_str(), 1);
  EXPECT_THAT(ResolveConfig(ConfigFlags{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("also-missing.yaml")));
  unsetenv("COHORT_CONFIG");
}

TEST_F(CliTest, AClientCertificateNeedsItsKey) {
  ConfigFlags flags;
  flags.tls_cert = "client.crt";
  EXPECT_THAT(ResolveConfig(flags),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls-key")));
  flags.tls_key = "client.key";
  EXPECT_OK(ResolveConfig(flags).status());
}

TEST_F(CliTest, UsageErrorsExitTwoAndSayWhatIsWrong) {
  std::string err;
  EXPECT_EQ(Cohort({}, &err), 2);
  EXPECT_THAT(err, HasSubstr("A subcommand is required"));
  EXPECT_EQ(Cohort({"nonsense"}, &err), 2);
  EXPECT_EQ(Cohort({"report"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("campaign is required"));
  EXPECT_EQ(Cohort({"report", "c-1", "--format", "xml"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("--format: expected md, csv or json, not 'xml'"));
  EXPECT_EQ(Cohort({"submit", dir_.Join("absent.yaml")}, &err), 2);
  EXPECT_THAT(err, HasSubstr(dir_.Join("absent.yaml") + ": cannot read spec"));
  EXPECT_EQ(Cohort({"datasets", "path", "nosuch"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown dataset 'nosuch' (known: gsm8k"));
  EXPECT_EQ(Cohort({"--help"}, &err), 0);
}

// A negative worker count used to start a cluster (exit 0), a huge one
// would fork that many workers: both refused before anything starts.
TEST_F(CliTest, UpRefusesWorkerCountsOutOfRange) {
  std::string err;
  for (const char* workers : {"-1", "257", "many"}) {
    const std::string state = dir_.Join(std::string("cluster") + workers);
    EXPECT_EQ(Cohort({"up", "--state-dir", state, "--workers", workers, "--no-user-config"},
                     &err),
              2)
        << workers;
    EXPECT_THAT(err, HasSubstr("--workers")) << workers;
    EXPECT_FALSE(std::filesystem::exists(state)) << workers;
  }
  EXPECT_EQ(Cohort({"up", "--state-dir", dir_.Join("g"), "--gpus", "-2", "--no-user-config"},
                   &err),
            2);
  EXPECT_EQ(Cohort({"datasets", "fetch", "gsm8k", "--retries", "-1"}, &err), 2);
}

}  // namespace
}  // namespace cohort::client
