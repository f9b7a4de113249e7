// The requests cohort renders are the requests lm-eval sent for the card's
// protocol, byte for byte. The expected hashes are lm-eval 0.4.11's own
// prompt_hash values (sha256 of the logged chat messages, arguments[0]),
// taken from the samples files of a run of omnimergekit's eval suite
// (mann1x/omnimergekit f6450b1, eval_results_vllm_suite/gpt_oss_canonical/
// */samples_*.jsonl: gsm8k_100, arc_challenge_full_chat, ifeval_100,
// humaneval_chat; --apply_chat_template, lm-eval's default few-shot layout).
// The full check over every logged problem (GSM8K 100/100, ARC 1172/1172,
// IFEval 100/100, HumanEval 164/164 equal) is recorded in docs/benches.md.
#include <map>
#include <string>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "worker/eval/bench.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

// index -> lm-eval's prompt_hash
using Hashes = std::map<int, std::string>;

void ExpectPromptHashes(const std::string& bench, const std::string& file,
                        const Hashes& expected) {
  const BenchSpec* spec = FindBench(bench);
  ASSERT_NE(spec, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<Problem> problems,
                       spec->load(DatasetPath(file), CardSettings(bench)));
  for (const auto& [index, hash] : expected) {
    ASSERT_LT(static_cast<size_t>(index), problems.size());
    EXPECT_EQ(PromptDigest(problems[index]), hash)
        << bench << " doc " << index << ": " << LmEvalChatJson(problems[index]).substr(0, 400);
  }
}

TEST(LmEvalPromptsTest, Gsm8kFiveShotAsTurnsEqualsLmEvals) {
  // Five user/assistant exemplar turns from lm-eval's seeded sampler, then
  // the question: 0.4.11's default under --apply_chat_template.
  ExpectPromptHashes("gsm8k", "gsm8k/test.jsonl",
                     {{0, "b6b6f0f1301c9090bf258fdcb8d636f8c01a4b28b1660fe2d6e453979ae8f89c"},
                      {1, "d76566d9d7df49944973957988f12a63c9213c558337450de8886134e8b06640"},
                      {57, "9b1bfc00c6cebfb5fb57d0ea5cc465930e31f871d38a15adfcdf53d7b13a5933"},
                      {99, "2f930d99a6c443ed48fa474985c930097eee3f079d6c6828f1fb6992b4d71717"}});
}

TEST(LmEvalPromptsTest, ArcWithLiteralBackslashNEqualsLmEvals) {
  ExpectPromptHashes("arc_challenge", "arc_challenge/ARC-Challenge-Test.jsonl",
                     {{0, "f47cef208513276e9a16b5942d6b1f8a12e632d73df8e03fad634d22f6da04cb"},
                      {1, "271a85bff751e4ea57d1a9c6109b8f0033e07a0d477c30b9224bb88731f10320"},
                      {1171, "ac820eaa8cbb0372978513d527094280f74195e39eb4c3e76eb02b638e30714f"}});
}

TEST(LmEvalPromptsTest, IfevalAndHumanevalEqualLmEvals) {
  ExpectPromptHashes("ifeval", "ifeval/input_data.jsonl",
                     {{0, "8d595e439f9bfbf3960aac87616c9e0312ed86cecac409ed70c9e59d081de1b0"},
                      {99, "0f0b4b6e6faf22cd18f67871bce479b320dbce5960cb0c2b0feff1b3595827e4"}});
  ExpectPromptHashes("humaneval", "humaneval/HumanEval.jsonl.gz",
                     {{0, "dc51bba9b01f4f7188a8b00e0a6f3896d45fd944869f1d08b70057bd63a4259e"},
                      {163, "281f4de002e4961e857e650b97bd66b41424219542d8460d5f541d1c9ecbaf3a"}});
}

TEST(LmEvalPromptsTest, ChatJsonIsPythonsJsonDumps) {
  // python3 -c 'import json; print(json.dumps([{"role": "user", "content":
  //   "a\"b\\c\n\t\x01\x7f\u00e9\u2028", "type": "text"}], ensure_ascii=False))'
  Problem p;
  p.prompt = "a\"b\\c\n\t\x01\x7f\u00e9\u2028";
  p.history = {{"user", "q"}, {"assistant", "a"}};
  EXPECT_EQ(LmEvalChatJson(p),
            "[{\"role\": \"user\", \"content\": \"q\", \"type\": \"text\"}, "
            "{\"role\": \"assistant\", \"content\": \"a\", \"type\": \"text\"}, "
            "{\"role\": \"user\", \"content\": \"a\\\"b\\\\c\\n\\t\\u0001\x7f\u00e9\u2028\", "
            "\"type\": \"text\"}]");
}

}  // namespace
}  // namespace cohort::worker::eval
