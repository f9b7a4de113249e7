// LiveCodeBench: the restricted pickle decoder, private-test decoding and
// grading, on small fixtures written here (no LCB data ships with cohort).
#include "worker/eval/lcb.h"

#include <zlib.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
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
  absl::StatusOr<std::vector<Problem>> problems = LoadLcb(path, settings);
  ASSERT_TRUE(problems.ok()) << problems.status();
  ASSERT_EQ(problems->size(), 2u);
  EXPECT_EQ((*problems)[0].id, "lcb/leetcode/1");
  EXPECT_EQ((*problems)[0].meta["tests"].size(), 2u);
  auto fence = [](const std::string& code) { return "```python\n" + code + "\n```"; };
  std::string good_fn = "class Solution:\n    def push(self, a, b):\n        return tuple(a + [b])";
  std::string bad_fn = "class Solution:\n    def push(self, a, b):\n        return a";
  std::string good_io = "n = int(input())\nprint(sum(map(int, input().split())))";  // "6" == "6.0"
  std::string slow_io = "while True:\n    pass";
  EXPECT_TRUE(ScoreLcb((*problems)[0], fence(good_fn), settings).passed);
  Verdict bad = ScoreLcb((*problems)[0], fence(bad_fn), settings);
  EXPECT_FALSE(bad.passed);
  EXPECT_EQ(bad.detail["error_code"], -2) << bad.detail.dump();
  Verdict io = ScoreLcb((*problems)[1], fence(good_io), settings);
  EXPECT_TRUE(io.passed) << io.detail.dump();
  EXPECT_FALSE(ScoreLcb((*problems)[1], "no code at all", settings).passed);
}

}  // namespace
}  // namespace cohort::worker::eval
