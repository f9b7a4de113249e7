// LiveCodeBench: the restricted pickle decoder, private-test decoding and
// grading, on small fixtures written here (no LCB data ships with cohort).
#include "worker/eval/lcb.h"

#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"
#include "worker/sandbox/sandbox.h"
#include "worker/sandbox/toolchains.h"

namespace cohort::worker::eval {
namespace {

// pickle.dumps(text, protocol=4) as CPython writes it.
std::string PickleString(const std::string& text) {
  std::string body = "\x8d";
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xff));
  body += text;
  body += "\x94.";
  std::string frame = "\x80\x04\x95";
  for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>((body.size() >> (8 * i)) & 0xff));
  return frame + body;
}

std::string Deflate(const std::string& in) {
  uLongf size = compressBound(in.size());
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size,
            reinterpret_cast<const Bytef*>(in.data()), in.size(), 9);
  out.resize(size);
  return out;
}

TEST(LcbPickleTest, AcceptsOnlyOnePlainString) {
  EXPECT_EQ(*DecodePickledString(PickleString("[1, 2]")), "[1, 2]");
  std::string short_form = std::string("\x80\x03X\x02\x00\x00\x00hiq\x00.", 12);
  EXPECT_EQ(*DecodePickledString(short_form), "hi");
  // GLOBAL os.system + REDUCE: what a malicious pickle looks like.
  EXPECT_FALSE(DecodePickledString("cos\nsystem\n(S'echo pwned'\ntR.").ok());
  EXPECT_FALSE(DecodePickledString(std::string("\x80\x04K\x05.", 4)).ok());  // an int
  EXPECT_FALSE(DecodePickledString(PickleString("x").substr(0, 12)).ok());  // truncated
}

TEST(LcbPickleTest, DecodesEveryPrivateTestEncoding) {
  std::string tests = R"([{"input": "1\n", "output": "2\n", "testtype": "stdin"}])";
  std::string zlib_json, zlib_pickle;
  absl::Base64Escape(Deflate(tests), &zlib_json);
  absl::Base64Escape(Deflate(PickleString(tests)), &zlib_pickle);
  for (const std::string& field : {tests, zlib_json, zlib_pickle}) {
    absl::StatusOr<nlohmann::json> decoded = DecodePrivateTests(field);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ((*decoded)[0]["output"], "2\n");
  }
  EXPECT_FALSE(DecodePrivateTests("not base64 !!").ok());
}

TEST(LcbExtractTest, TakesTheLastTwoFences) {
  bool found = false;
  EXPECT_EQ(LcbExtractCode("think\n```python\nx=1\n```\nfinal:\n```python\nx=2\ny=3\n```", &found),
            "x=2\ny=3");
  EXPECT_TRUE(found);
  EXPECT_EQ(LcbExtractCode("```python\nx=1", &found), "");
  EXPECT_FALSE(found);
}

std::string FixtureRow(const std::string& qid, const std::string& starter,
                       const std::string& pub, const std::string& priv,
                       const std::string& metadata) {
  nlohmann::json row = {{"question_title", qid}, {"question_content", "Solve " + qid},
                        {"platform", "leetcode"}, {"question_id", qid}, {"contest_id", "c"},
                        {"contest_date", "2024-10-05T00:00:00"}, {"starter_code", starter},
                        {"difficulty", "medium"}, {"public_test_cases", pub},
                        {"private_test_cases", priv}, {"metadata", metadata}};
  return row.dump() + "\n";
}

TEST(LcbScoreTest, GradesCallBasedAndStdinProblems) {
  if (!sandbox::SandboxAvailable().ok()) GTEST_SKIP() << sandbox::SandboxAvailable();
  if (!sandbox::FindToolchain("python3").present) GTEST_SKIP() << "python3 absent";
  cohort::testing::TempDir dir;
  std::string fn_pub = R"([{"input": "[1, 2]\n3", "output": "[1, 2, 3]", "testtype": "functional"}])";
  std::string fn_priv_json = R"([{"input": "[]\n0", "output": "[0]", "testtype": "functional"}])";
  std::string fn_priv;
  absl::Base64Escape(Deflate(PickleString(fn_priv_json)), &fn_priv);
  std::string io_pub = R"([{"input": "3\n1 2 3\n", "output": "6.0\n", "testtype": "stdin"}])";
  std::string path = WriteFile(
      dir, "test.jsonl",
      FixtureRow("1", "class Solution:\n    def push(self, a, b):\n        ", fn_pub, fn_priv,
                 R"({"func_name": "push"})") +
          FixtureRow("2", "", io_pub, "", "{}"));
  BenchSettings settings = CardSettings("lcb");
  settings.task_ids.clear();  // every row of the fixture
  settings.first = 0;
  absl::StatusOr<std::vector<Problem>> problems = LoadLcb(path, settings);
  ASSERT_TRUE(problems.ok()) << problems.status();
  ASSERT_EQ(problems->size(), 2u);
  EXPECT_EQ((*problems)[0].id, "lcb/leetcode/1");
  EXPECT_EQ((*problems)[0].meta["tests"].size(), 2u);
  auto fence = [](const std::string& code) { return "```python\n" + code + "\n```"; };
  std::string good_fn = "class Solution:\n    def push(self, a, b):\n        return tuple(a + [b])";
  std::string bad_fn = "class Solution:\n    def push(self, a, b):\n        return a";
  std::string good_io = "n = int(input())\nprint(sum(map(int, input().split())))";  // "6" == "6.0"
  EXPECT_TRUE(ScoreLcb((*problems)[0], fence(good_fn), settings).passed);
  Verdict bad = ScoreLcb((*problems)[0], fence(bad_fn), settings);
  EXPECT_FALSE(bad.passed);
  EXPECT_EQ(bad.detail["error_code"], -2) << bad.detail.dump();
  Verdict io = ScoreLcb((*problems)[1], fence(good_io), settings);
  EXPECT_TRUE(io.passed) << io.detail.dump();
  EXPECT_FALSE(ScoreLcb((*problems)[1], "no code at all", settings).passed);
  // Forgeries: an object equal to everything, the harness's own emit, and a
  // clean exit with the expected output already printed.
  std::string equal_fn =
      "class Equal:\n    def __eq__(self, other):\n        return True\n"
      "class Solution:\n    def push(self, a, b):\n        return Equal()";
  Verdict equal = ScoreLcb((*problems)[0], fence(equal_fn), settings);
  EXPECT_FALSE(equal.passed) << equal.detail.dump();
  std::string emit_io =
      "import sys\nsys.modules['cohort_harness'].emit({'status': 'passed', 'results': [True], "
      "'error_code': None, 'error_message': ''})";
  Verdict emitted = ScoreLcb((*problems)[1], fence(emit_io), settings);
  EXPECT_FALSE(emitted.passed) << emitted.detail.dump();
  std::string exit_io = "import os\nprint(6)\nos._exit(0)";
  Verdict exited = ScoreLcb((*problems)[1], fence(exit_io), settings);
  EXPECT_FALSE(exited.passed) << exited.detail.dump();
}

// A dataset in the code_generation_lite layout with one row per id
// ("lcb/leetcode/<qid>"), in the order given.
std::string FixtureDataset(const cohort::testing::TempDir& dir, const std::vector<std::string>& qids) {
  std::string pub = R"([{"input": "1", "output": "1", "testtype": "functional"}])";
  std::string rows;
  for (const std::string& qid : qids) rows += FixtureRow(qid, "", pub, "", "{}");
  return WriteFile(dir, "test.jsonl", rows);
}

std::vector<std::string> IdsOf(const std::vector<Problem>& problems) {
  std::vector<std::string> ids;
  for (const Problem& p : problems) ids.push_back(p.id);
  return ids;
}

TEST(LcbSelectTest, KeepsTheListedIdsInListOrder) {
  cohort::testing::TempDir dir;
  std::string path = FixtureDataset(dir, {"1", "2", "3", "4"});
  WriteFile(dir, "ids.json", R"(["lcb/leetcode/3", "lcb/leetcode/1", "lcb/leetcode/4"])");
  BenchSettings settings = CardSettings("lcb");
  settings.task_ids = "ids.json";  // beside the dataset
  settings.first = 0;
  absl::StatusOr<std::vector<Problem>> all = LoadLcb(path, settings);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(IdsOf(*all), (std::vector<std::string>{"lcb/leetcode/3", "lcb/leetcode/1",
                                                   "lcb/leetcode/4"}));
  settings.first = 2;
  absl::StatusOr<std::vector<Problem>> first = LoadLcb(path, settings);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(IdsOf(*first), (std::vector<std::string>{"lcb/leetcode/3", "lcb/leetcode/1"}));
  EXPECT_EQ((*first)[1].prompt.find("Solve 1") != std::string::npos, true);
}

TEST(LcbSelectTest, IdsMissingFromTheDatasetAreAnErrorNamingThem) {
  cohort::testing::TempDir dir;
  std::string path = FixtureDataset(dir, {"1", "2"});
  WriteFile(dir, "ids.json", R"(["lcb/leetcode/2", "lcb/atcoder/abc999_z", "lcb/leetcode/7"])");
  BenchSettings settings = CardSettings("lcb");
  settings.task_ids = dir.Join("ids.json");  // an absolute path works too
  settings.first = 0;
  absl::StatusOr<std::vector<Problem>> r = LoadLcb(path, settings);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::AllOf(::testing::HasSubstr("2 of the 3 ids"),
                               ::testing::HasSubstr("lcb/atcoder/abc999_z"),
                               ::testing::HasSubstr("lcb/leetcode/7"),
                               ::testing::HasSubstr(path)));
  settings.first = 1;  // only the first id, which is present
  EXPECT_TRUE(LoadLcb(path, settings).ok());
  settings.first = 4;  // more than the list holds
  EXPECT_FALSE(LoadLcb(path, settings).ok());
  WriteFile(dir, "twice.json", R"(["lcb/leetcode/1", "lcb/leetcode/1"])");
  settings.task_ids = "twice.json";
  settings.first = 0;
  EXPECT_THAT(std::string(LoadLcb(path, settings).status().message()),
              ::testing::HasSubstr("listed twice"));
  settings.task_ids = "absent.json";
  EXPECT_FALSE(LoadLcb(path, settings).ok());
}

// The protocol's LCB-medium-55 (the card profile: the medium-100 list,
// first 55) is exactly the derived 55-id file of the omk-protocol data.
TEST(LcbSelectTest, CardProfileSelectsTheDerivedMedium55) {
  BenchSettings card = CardSettings("lcb");
  EXPECT_EQ(card.task_ids, "lcb_medium_100_taskids.json");
  EXPECT_EQ(card.first, 55);
  auto read_ids = [](const std::string& name) {
    std::ifstream in(DatasetPath("omk-protocol/" + name));
    return nlohmann::json::parse(in, nullptr, false);
  };
  nlohmann::json hundred = read_ids("lcb_medium_100_taskids.json");
  nlohmann::json derived = read_ids("lcb_medium_55_taskids.derived.json");
  ASSERT_TRUE(hundred.is_array() && derived.is_array());
  ASSERT_EQ(hundred.size(), 100u);
  ASSERT_EQ(derived.size(), 55u);
  // A fixture dataset holding all 100 problems (in reverse, so order comes
  // from the list), with the real list file beside it.
  cohort::testing::TempDir dir;
  std::vector<std::string> qids;
  for (auto it = hundred.rbegin(); it != hundred.rend(); ++it) {
    std::vector<std::string> parts = absl::StrSplit(it->get<std::string>(), '/');
    ASSERT_EQ(parts.size(), 3u);
    qids.push_back(parts[2]);
  }
  std::string rows;
  std::string pub = R"([{"input": "1", "output": "1", "testtype": "functional"}])";
  for (size_t i = 0; i < qids.size(); ++i) {
    std::vector<std::string> parts =
        absl::StrSplit(hundred[hundred.size() - 1 - i].get<std::string>(), '/');
    nlohmann::json row = nlohmann::json::parse(FixtureRow(qids[i], "", pub, "", "{}"));
    row["platform"] = parts[1];
    rows += row.dump() + "\n";
  }
  std::string path = WriteFile(dir, "test.jsonl", rows);
  WriteFile(dir, "lcb_medium_100_taskids.json", hundred.dump());
  absl::StatusOr<std::vector<Problem>> problems = LoadLcb(path, card);
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_EQ(nlohmann::json(IdsOf(*problems)), derived);
}

TEST(LcbSelectTest, ProfilesAcceptTaskIdsForLcbOnly) {
  absl::StatusOr<Profile> card = LoadProfile(kDefaultProfile);
  ASSERT_TRUE(card.ok()) << card.status();
  nlohmann::json json = card->json;
  json["benches"]["gsm8k"]["task_ids"] = "ids.json";
  EXPECT_FALSE(ParseProfile(json.dump(), "test").ok());
  json = card->json;
  json["benches"]["lcb"].erase("task_ids");  // first without task_ids
  EXPECT_FALSE(ParseProfile(json.dump(), "test").ok());
}

}  // namespace
}  // namespace cohort::worker::eval
