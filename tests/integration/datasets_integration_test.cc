// `cohort datasets` as a real process. fetch runs against
// tests/fakes/fake_hf_hub.py: a loopback Hub resolve endpoint that redirects
// to a second listener standing in for the CDN (another loopback address or
// port), with ranges, ETags, gated and missing repositories, and switches
// for wrong bytes and a connection cut half-way. The CLI's environment is
// set whole (HOME in the test folder, HF_ENDPOINT at the fake), so nothing
// of the machine's (a token, a proxy, a cache) leaks in.
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cohort {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kToken[] = "hf_fake_token";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// JSON lines of a given size, different per seed.
std::string Lines(size_t bytes, int seed) {
  std::string out;
  for (int i = 0; out.size() < bytes; ++i) {
    absl::StrAppend(&out, "{\"id\": ", i, ", \"seed\": ", seed, ", \"text\": \"",
                    std::string(40 + (i * 7 + seed) % 50, 'a' + (i + seed) % 26), "\"}\n");
  }
  return out;
}

// The fake's files: ROOT/<owner>/<name>/<path>.
struct HubFiles {
  std::string plain_a = Lines(2 << 20, 1);
  std::string plain_b = Lines(3000, 2);
  std::string gated = "Question,Correct Answer\nq1,a1\nq2,a2\n";
  std::string wrong = Lines(200000, 3);
  std::string cut = Lines(4 << 20, 4);
  std::string direct = "{\"small\": true}\n";
};

struct Shared {
  testing::TempDir dir;
  HubFiles files;
  Subprocess hub;
  int port = 0;
  std::string log;
};
Shared* shared = nullptr;

int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string Endpoint() { return absl::StrCat("http://127.0.0.1:", shared->port); }

// One manifest for every test: each dataset is one case.
std::string Manifest() {
  auto file = [](const std::string& path, const std::string& hub_path,
                 const std::string& split, const std::string* pinned) {
    json f = {{"path", path}, {"hub_path", hub_path}, {"split", split}, {"sha256", nullptr}};
    if (pinned != nullptr) f["sha256"] = Sha256Hex(*pinned);
    return f;
  };
  auto entry = [](const std::string& name, const std::string& repo, json files,
                  bool gated = false) {
    return json{{"name", name}, {"shipped", false}, {"hub_repo", repo}, {"gated", gated},
                {"source", "fake"}, {"revision", nullptr}, {"license", "test"},
                {"files", files}};
  };
  const HubFiles& f = shared->files;
  json datasets = json::array(
      {entry("plain", "test/plain",
             {file("plain/a.jsonl", "a.jsonl", "test", nullptr),
              file("plain/sub/b.jsonl", "sub/b.jsonl", "b", &f.plain_b)}),
       entry("gated", "test/gated", {file("gated/g.csv", "g.csv", "test", nullptr)}, true),
       entry("wrong", "test/wrong", {file("wrong/w.jsonl", "w.jsonl", "test", nullptr)}),
       entry("cut", "test/cut", {file("cut/c.jsonl", "c.jsonl", "test", nullptr)}),
       entry("missing", "test/plain", {file("missing/x.jsonl", "nothing.jsonl", "test", nullptr)}),
       entry("direct", "test/direct", {file("direct/s.json", "s.json", "test", nullptr)})});
  return json{{"version", 1}, {"datasets", datasets}}.dump(2);
}

class DatasetsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared = new Shared;
    const std::string root = shared->dir.Join("hub");
    const HubFiles& f = shared->files;
    WriteAll(root + "/test/plain/a.jsonl", f.plain_a);
    WriteAll(root + "/test/plain/sub/b.jsonl", f.plain_b);
    WriteAll(root + "/test/gated/g.csv", f.gated);
    WriteAll(root + "/test/wrong/w.jsonl", f.wrong);
    WriteAll(root + "/test/cut/c.jsonl", f.cut);
    WriteAll(root + "/test/direct/s.json", f.direct);
    shared->log = shared->dir.Join("hub.log");
    SubprocessOptions o;
    o.argv = {"/usr/bin/python3", std::string(COHORT_FAKES_DIR) + "/fake_hf_hub.py",
              "--root", root, "--commit", kCommit, "--token", kToken,
              "--gated", "test/gated", "--wrong-bytes", "test/wrong",
              "--cut-once", "test/cut", "--direct", "test/direct", "--log", shared->log};
    o.stdout_path = shared->dir.Join("hub.out");
    o.stderr_path = shared->dir.Join("hub.err");
    ASSERT_OK(shared->hub.Start(o));
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (shared->port == 0 && absl::Now() < deadline) {
      std::string out = ReadAll(o.stdout_path);
      if (absl::StrContains(out, "\n")) {
        ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(out), &shared->port)) << out;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_NE(shared->port, 0) << ReadAll(o.stderr_path);
  }
  static void TearDownTestSuite() {
    shared->hub.Terminate(absl::Seconds(2));
    delete shared;
    shared = nullptr;
  }

  void SetUp() override {
    data_ = dir_.Join("data");
    WriteAll(data_ + "/datasets.json", Manifest());
  }

  // `cohort ARGS` with exactly this environment.
  SubprocessResult Cohort(std::vector<std::string> args,
                          std::map<std::string, std::string> env = {}) {
    SubprocessOptions o;
    o.argv = {std::string(COHORT_BIN_DIR) + "/cohort"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> base = {{"PATH", "/usr/bin:/bin"},
                                               {"HOME", dir_.path()},
                                               {"HF_ENDPOINT", Endpoint()}};
    for (auto& [k, v] : env) base[k] = v;
    o.env = base;
    o.timeout = absl::Minutes(2);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SubprocessResult{};
  }
  SubprocessResult Fetch(const std::string& name, std::vector<std::string> more = {},
                         std::map<std::string, std::string> env = {}) {
    std::vector<std::string> args = {"datasets", "fetch", name, "--data-dir", data_};
    args.insert(args.end(), more.begin(), more.end());
    return Cohort(args, env);
  }

  // The fake's log lines for paths containing `needle`.
  static std::vector<json> Requests(const std::string& needle) {
    std::vector<json> out;
    for (absl::string_view line : absl::StrSplit(ReadAll(shared->log), '\n', absl::SkipEmpty())) {
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && absl::StrContains(j["path"].get<std::string>(), needle)) {
        out.push_back(j);
      }
    }
    return out;
  }

  testing::TempDir dir_;
  std::string data_;
};

TEST_F(DatasetsTest, FetchVerifiesRecordsPinsAndKeepsTheTokenOffTheCdn) {
  SubprocessResult r = Fetch("plain", {}, {{"HF_TOKEN", kToken}});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(ReadAll(data_ + "/plain/a.jsonl"), shared->files.plain_a);
  EXPECT_EQ(ReadAll(data_ + "/plain/sub/b.jsonl"), shared->files.plain_b);
  EXPECT_FALSE(fs::exists(data_ + "/plain/a.jsonl.part"));
  // Off a terminal: plain lines, no bar redrawn with carriage returns.
  EXPECT_THAT(r.stderr_data, HasSubstr("fetch: plain/a.jsonl: done, 2.0 MiB"));
  EXPECT_THAT(r.stderr_data, Not(HasSubstr("\r")));

  json pins = json::parse(ReadAll(data_ + "/pins.json"));
  EXPECT_EQ(pins["datasets"]["plain"]["revision"], kCommit);
  EXPECT_EQ(pins["datasets"]["plain"]["files"]["plain/a.jsonl"]["sha256"],
            Sha256Hex(shared->files.plain_a));
  EXPECT_EQ(pins["datasets"]["plain"]["files"]["plain/a.jsonl"]["digest_from"], "hub");
  EXPECT_EQ(pins["datasets"]["plain"]["files"]["plain/sub/b.jsonl"]["digest_from"], "manifest");

  // The Hub saw the token; the CDN the redirect pointed to never did.
  std::vector<json> hub = Requests("/datasets/test/plain/resolve/main/a.jsonl");
  std::vector<json> cdn = Requests("/cdn/test/plain/a.jsonl");
  ASSERT_FALSE(hub.empty());
  ASSERT_FALSE(cdn.empty());
  for (const json& j : hub) EXPECT_TRUE(j["authorization"].get<bool>()) << j;
  for (const json& j : cdn) {
    EXPECT_FALSE(j["authorization"].get<bool>()) << j;
    EXPECT_EQ(j["status"], 200) << j;
  }

  // A second fetch asks for the recorded commit and downloads nothing.
  size_t before = Requests("/cdn/test/plain").size();
  r = Fetch("plain");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stderr_data, HasSubstr(absl::StrCat("at ", kCommit)));
  EXPECT_THAT(r.stderr_data, HasSubstr("plain/a.jsonl: up to date"));
  EXPECT_EQ(Requests("/cdn/test/plain").size(), before);

  SubprocessResult path = Cohort({"datasets", "path", "plain", "--data-dir", data_});
  EXPECT_EQ(path.exit_code, 0) << path.stderr_data;
  EXPECT_EQ(absl::StripAsciiWhitespace(path.stdout_data), data_ + "/plain/a.jsonl");
  path = Cohort({"datasets", "path", "plain:b", "--data-dir", data_});
  EXPECT_EQ(absl::StripAsciiWhitespace(path.stdout_data), data_ + "/plain/sub/b.jsonl");
  SubprocessResult list = Cohort({"datasets", "list", "--data-dir", data_});
  EXPECT_EQ(list.exit_code, 0) << list.stderr_data;
  EXPECT_THAT(list.stdout_data, ::testing::ContainsRegex("plain +fetched"));
  EXPECT_THAT(list.stdout_data, ::testing::ContainsRegex("gated +missing"));

  SubprocessResult verify = Cohort({"datasets", "verify", "plain", "--data-dir", data_});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_data << verify.stderr_data;

  // One changed byte, and verify names the file.
  std::string tampered = shared->files.plain_a;
  tampered[100] ^= 1;
  WriteAll(data_ + "/plain/a.jsonl", tampered);
  verify = Cohort({"datasets", "verify", "plain", "--data-dir", data_});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_THAT(verify.stdout_data, ::testing::ContainsRegex("MISMATCH +plain:test"));
  EXPECT_THAT(verify.stderr_data, HasSubstr("plain:test (" + data_ + "/plain/a.jsonl)"));
  EXPECT_THAT(verify.stdout_data, HasSubstr("pinned by " + data_ + "/pins.json"));
}

TEST_F(DatasetsTest, ResumesAfterTheConnectionIsCut) {
  SubprocessResult r = Fetch("cut", {"--retries", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("broke off after"));
  EXPECT_THAT(r.stderr_data, HasSubstr("the partial file is kept"));
  const std::string part = data_ + "/cut/c.jsonl.part";
  ASSERT_TRUE(fs::exists(part));
  uint64_t half = fs::file_size(part);
  EXPECT_EQ(half, shared->files.cut.size() / 2);
  EXPECT_FALSE(fs::exists(data_ + "/cut/c.jsonl"));

  r = Fetch("cut", {"--retries", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stderr_data, HasSubstr("resumed at 2.0 MiB"));
  EXPECT_EQ(ReadAll(data_ + "/cut/c.jsonl"), shared->files.cut);
  EXPECT_FALSE(fs::exists(part));
  std::vector<json> cdn = Requests("/cdn/test/cut/c.jsonl");
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[1]["range"], absl::StrCat("bytes=", half, "-"));
  EXPECT_TRUE(cdn[1]["if_range"].is_string()) << cdn[1];  // the ETag of the first answer
  EXPECT_EQ(cdn[1]["status"], 206);
}

TEST_F(DatasetsTest, GatedDatasetSaysHowToGetAccess) {
  SubprocessResult r = Fetch("gated");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data,
              HasSubstr(absl::StrCat("gated dataset: accept its terms at ", Endpoint(),
                                     "/datasets/test/gated and set HF_TOKEN (HTTP 401")));
  r = Fetch("gated", {}, {{"HF_TOKEN", "hf_wrong"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("HTTP 403"));
  EXPECT_THAT(r.stderr_data, HasSubstr("the HF_TOKEN sent was refused"));
  EXPECT_FALSE(fs::exists(data_ + "/gated/g.csv"));

  r = Fetch("gated", {}, {{"HF_TOKEN", kToken}});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(ReadAll(data_ + "/gated/g.csv"), shared->files.gated);
  for (const json& j : Requests("/cdn/test/gated")) EXPECT_FALSE(j["authorization"].get<bool>());
}

TEST_F(DatasetsTest, NotFoundNamesRepositoryRevisionAndFile) {
  SubprocessResult r = Fetch("missing");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("not found on the Hub: datasets/test/plain at revision "
                                       "main has no file nothing.jsonl (HTTP 404 EntryNotFound"));
  r = Fetch("plain", {"--revision", "v9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("datasets/test/plain has no revision v9"));
  r = Fetch("nosuch");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("unknown dataset 'nosuch' (known: plain, gated"));
}

TEST_F(DatasetsTest, DigestMismatchRemovesTheDownload) {
  SubprocessResult r = Fetch("wrong");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("sha256 mismatch for " + data_ + "/wrong/w.jsonl"));
  EXPECT_THAT(r.stderr_data, HasSubstr("expected " + Sha256Hex(shared->files.wrong)));
  EXPECT_THAT(r.stderr_data, HasSubstr("the downloaded file was removed"));
  EXPECT_FALSE(fs::exists(data_ + "/wrong/w.jsonl"));
  EXPECT_FALSE(fs::exists(data_ + "/wrong/w.jsonl.part"));
  EXPECT_FALSE(fs::exists(data_ + "/wrong/w.jsonl.part.json"));
}

TEST_F(DatasetsTest, NoNetworkSaysSo) {
  SubprocessResult r =
      Fetch("plain", {}, {{"HF_ENDPOINT", absl::StrCat("http://127.0.0.1:", ClosedPort())}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("(no network?)"));
  EXPECT_FALSE(fs::exists(data_ + "/plain/a.jsonl.part"));
}

TEST_F(DatasetsTest, SmallFileWithoutAnnouncedDigestIsPinnedOnFirstUse) {
  SubprocessResult r = Fetch("direct");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stderr_data, HasSubstr("this download's sha256 becomes the pin"));
  json pins = json::parse(ReadAll(data_ + "/pins.json"));
  EXPECT_EQ(pins["datasets"]["direct"]["files"]["direct/s.json"]["digest_from"], "download");
  EXPECT_EQ(pins["datasets"]["direct"]["files"]["direct/s.json"]["sha256"],
            Sha256Hex(shared->files.direct));
}

TEST_F(DatasetsTest, FetchIntoTheCacheFolderByDefault) {
  SubprocessResult r = Cohort({"datasets", "fetch", "gated"},
                              {{"HF_TOKEN", kToken}, {"COHORT_DATA_DIR", data_}});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string cache = dir_.path() + "/.cache/cohort/datasets";
  EXPECT_EQ(ReadAll(cache + "/gated/g.csv"), shared->files.gated);
  SubprocessResult path = Cohort({"datasets", "path", "gated"}, {{"COHORT_DATA_DIR", data_}});
  EXPECT_EQ(absl::StripAsciiWhitespace(path.stdout_data), cache + "/gated/g.csv");
}

// A fresh clone's data/ verifies, and what is not fetched is said, not failed.
TEST_F(DatasetsTest, RepositoryDataVerifies) {
  SubprocessResult r = Cohort({"datasets", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("ok +gsm8k:test"));
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("livecodebench +not fetched"));
  EXPECT_THAT(r.stderr_data, HasSubstr("files match their pinned sha256"));
  r = Cohort({"datasets", "verify", "gpqa_diamond"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("MISSING +gpqa_diamond:test"));
}

}  // namespace
}  // namespace cohort
