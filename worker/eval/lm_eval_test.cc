// lm-eval's samples records rebuilt from cohort's data. Expected hashes are
// lm-eval 0.4.11's own doc_hash / target_hash values from the samples files
// of a real run of omk's suite (mann1x/omnimergekit f6450b1,
// eval_results_vllm_suite/gpt_oss_canonical/*/samples_*.jsonl); the full
// comparison is in docs/benches.md ("Requests as lm-eval sent them").
#include "worker/eval/lm_eval.h"

#include <string>

#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "worker/eval/test_util.h"

namespace cohort::worker::eval {
namespace {

using OJson = nlohmann::ordered_json;

struct Expected {
  int doc_id;
  const char* doc_hash;
  const char* target_hash;
};

void ExpectDocHashes(const std::string& bench, const std::string& file,
                     const std::vector<Expected>& expected) {
  const BenchSpec* spec = FindBench(bench);
  ASSERT_NE(spec, nullptr);
  ASSERT_OK_AND_ASSIGN(auto docs, LoadLmEvalDocs(*spec, DatasetPath(file), CardSettings(bench)));
  LmEvalTask task = LmEvalTaskOf(bench);
  for (const Expected& e : expected) {
    ASSERT_TRUE(docs.count(e.doc_id)) << bench << " " << e.doc_id;
    OJson sample =
        LmEvalSample(task, task.filter, e.doc_id, docs.at(e.doc_id), CardSettings(bench), {});
    EXPECT_EQ(sample["doc_hash"], e.doc_hash)
        << bench << " doc " << e.doc_id << ": " << PyJsonDumps(sample["doc"], true).substr(0, 300);
    EXPECT_EQ(sample["target_hash"], e.target_hash) << bench << " doc " << e.doc_id;
  }
}

TEST(LmEvalExportTest, DocsAndTargetsHashAsLmEvals) {
  ExpectDocHashes(
      "gsm8k", "gsm8k/test.jsonl",
      {{0, "986c19252f3c7f6eaeff2229e9a5777f96a85c0ceea931a92d2289084dfd518c",
        "623a0fbdf774fcb55e485a3e6b012e6c3965616af5b8eb9b9aebd2f6712be2eb"},
       {99, "40f5518622ec2ff9bb2be7e815d38e5e6a752cb17830901a742b8a2b58ac4bc7",
        "661b19882c8f17e20d82f20929df03c62f68f62e0387e5dbfc5250ab2dccf71d"}});
  // AI2's rows as allenai/ai2_arc has them.
  ExpectDocHashes(
      "arc_challenge", "arc_challenge/ARC-Challenge-Test.jsonl",
      {{0, "9ac07c0bf329749d60dea47e62236e71200f89791410eb0286c28d7e2cd94426",
        "6b23c0d5f35d1b11f9b683f0b0a617355deb11277d91ae091d399c655b87940d"},
       {1171, "21a21a2cb17bad4af04fac9d1dd3a3fec37e25f8e8558e78c6767fdc976ea659",
        "559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd"}});
  // google/IFEval's kwargs (every key, null where unused).
  ExpectDocHashes(
      "ifeval", "ifeval/input_data.jsonl",
      {{0, "db22137ddf6291c2a4a753a9cbdf6d85b219ecfd83eaa52eb0fb6409256b0489",
        "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"},
       {99, "efb34d941765e0ff3d48f96b2ca2c21c98d86a63cb5a22102c2cd32a288c8180",
        "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9"}});
  // openai_humaneval's key order; target = test + "\ncheck(entry_point)".
  ExpectDocHashes(
      "humaneval", "humaneval/HumanEval.jsonl.gz",
      {{0, "51330d8caa0784cc324cc1db95f6b0d73670802e1729865056c2469e212d40a5",
        "d7de8bac324e281816668aa93fb171c16f9f833f74ec6e32ee7b551875e65daa"},
       {163, "b7df98e554c16febc37af0e19fb0f0948024921319281e2bfce7c535391e3d14",
        "9b36a5ea5c56da2be7153b09705f9c9e31441dbee0ca5a9c509ac9934d82259f"}});
}

TEST(LmEvalExportTest, SampleHasLmEvalsKeysAndValues) {
  const BenchSpec* spec = FindBench("gsm8k");
  BenchSettings s = CardSettings("gsm8k");
  ASSERT_OK_AND_ASSIGN(auto docs, LoadLmEvalDocs(*spec, DatasetPath("gsm8k/test.jsonl"), s));
  LmEvalOutcome outcome;
  outcome.response = "So she makes $18 a day.\n**Answer: $18**";
  outcome.extracted = "$18";
  outcome.passed = true;
  OJson sample = LmEvalSample(LmEvalTaskOf("gsm8k"), "flexible-extract", 0, docs.at(0), s, outcome);
  std::vector<std::string> keys;
  for (auto it = sample.begin(); it != sample.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"doc_id", "doc", "target", "arguments", "resps",
                                            "filtered_resps", "filter", "metrics", "doc_hash",
                                            "prompt_hash", "target_hash", "exact_match"}));
  EXPECT_EQ(sample["filter"], "flexible-extract");
  EXPECT_EQ(sample["filtered_resps"], OJson::array({"$18"}));
  EXPECT_EQ(sample["resps"], OJson::array({OJson::array({outcome.response})}));
  EXPECT_EQ(PyJsonDumps(sample["exact_match"], false), "1.0");
  // arg_0 is the logged chat JSON whose sha256 is lm-eval's prompt_hash
  // (b6b6f0f1... for doc 0 in the reference run).
  const OJson& arg0 = sample["arguments"]["gen_args_0"]["arg_0"];
  ASSERT_TRUE(arg0.is_array());
  EXPECT_EQ(Sha256Hex(arg0[0].get<std::string>()),
            "b6b6f0f1301c9090bf258fdcb8d636f8c01a4b28b1660fe2d6e453979ae8f89c");
  EXPECT_EQ(sample["prompt_hash"], "b6b6f0f1301c9090bf258fdcb8d636f8c01a4b28b1660fe2d6e453979ae8f89c");
  // A miss is lm-eval's "[invalid]".
  outcome.extracted.clear();
  outcome.passed = false;
  sample = LmEvalSample(LmEvalTaskOf("gsm8k"), "flexible-extract", 0, docs.at(0), s, outcome);
  EXPECT_EQ(sample["filtered_resps"], OJson::array({"[invalid]"}));
  EXPECT_EQ(PyJsonDumps(sample["exact_match"], false), "0.0");
}

// lm-eval logs GSM8K twice per document: strict-match (the first "#### N")
// then flexible-extract (cohort's verdict). In the reference run doc 0's
// "**Answer: $18**" was strict-match "[invalid]" (0.0) and flexible "$18".
TEST(LmEvalExportTest, Gsm8kHasStrictMatchThenFlexibleExtract) {
  const BenchSpec* spec = FindBench("gsm8k");
  BenchSettings s = CardSettings("gsm8k");
  ASSERT_OK_AND_ASSIGN(auto docs, LoadLmEvalDocs(*spec, DatasetPath("gsm8k/test.jsonl"), s));
  LmEvalOutcome outcome;
  outcome.response = "She makes 9 * 2 = $18.\n**Answer: $18**";
  outcome.extracted = "$18";
  outcome.passed = true;
  std::vector<OJson> records = LmEvalSamples(LmEvalTaskOf("gsm8k"), 0, docs.at(0), s, outcome);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["filter"], "strict-match");
  EXPECT_EQ(records[0]["filtered_resps"], OJson::array({"[invalid]"}));
  EXPECT_EQ(records[0]["exact_match"], 0.0);
  EXPECT_EQ(records[1]["filter"], "flexible-extract");
  EXPECT_EQ(records[1]["exact_match"], 1.0);
  // "#### 18" (with a thousands comma or a final dot) passes strict-match.
  outcome.response = "9 * 2 = 18\n#### 18.";
  records = LmEvalSamples(LmEvalTaskOf("gsm8k"), 0, docs.at(0), s, outcome);
  EXPECT_EQ(records[0]["filtered_resps"], OJson::array({"18."}));
  EXPECT_EQ(records[0]["exact_match"], 1.0);
  OJson results = LmEvalTaskResults(LmEvalTaskOf("gsm8k"), records);
  std::vector<std::string> keys;
  for (auto it = results.begin(); it != results.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "alias", "exact_match,strict-match", "exact_match_stderr,strict-match",
                      "exact_match,flexible-extract", "exact_match_stderr,flexible-extract"}));
}

TEST(LmEvalExportTest, IfevalMetricsAreListsAndAllOf) {
  LmEvalOutcome outcome;
  outcome.detail = {{"strict", {true, false}}, {"loose", {true, true}}};
  LmEvalDoc doc;
  OJson s = LmEvalSample(LmEvalTaskOf("ifeval"), "none", 3, doc, CardSettings("ifeval"), outcome);
  EXPECT_EQ(s["prompt_level_strict_acc"], false);
  EXPECT_EQ(s["inst_level_strict_acc"], OJson::array({true, false}));
  EXPECT_EQ(s["prompt_level_loose_acc"], true);
  OJson results = LmEvalTaskResults(LmEvalTaskOf("ifeval"), {s, s});
  EXPECT_EQ(results["prompt_level_strict_acc,none"], 0.0);
  EXPECT_EQ(results["inst_level_strict_acc,none"], 0.5);
  EXPECT_EQ(results["inst_level_strict_acc_stderr,none"], "N/A");
}

TEST(LmEvalExportTest, StderrIsLmEvalsMeanStderr) {
  // The reference run's gsm8k: 88 of 100 -> exact_match 0.88, stderr
  // 0.03265986323710906 (its results_*.json).
  std::vector<OJson> samples;
  for (int i = 0; i < 100; ++i) {
    samples.push_back({{"filter", "flexible-extract"}, {"exact_match", i < 88 ? 1.0 : 0.0}});
  }
  OJson r = LmEvalTaskResults(LmEvalTaskOf("gsm8k"), samples);
  EXPECT_DOUBLE_EQ(r["exact_match,flexible-extract"].get<double>(), 0.88);
  EXPECT_DOUBLE_EQ(r["exact_match_stderr,flexible-extract"].get<double>(), 0.03265986323710906);
  EXPECT_EQ(r["alias"], "gsm8k");
}

TEST(LmEvalExportTest, PyJsonDumpsIsPythons) {
  // python3 -c 'import json; print(json.dumps([1.0, 0.5, 1e-05, 1e16,
  //   1.2345678901234568e+17, 123.456, -0.0001, 0.00001234, 2.5e-300, 1e22,
  //   100.0, 0.1], ensure_ascii=False))'
  OJson floats = {1.0, 0.5, 1e-05, 1e16, 1.2345678901234568e+17, 123.456, -0.0001,
                  0.00001234, 2.5e-300, 1e22, 100.0, 0.1};
  EXPECT_EQ(PyJsonDumps(floats, false),
            "[1.0, 0.5, 1e-05, 1e+16, 1.2345678901234568e+17, 123.456, -0.0001, 1.234e-05, "
            "2.5e-300, 1e+22, 100.0, 0.1]");
  OJson nested = OJson::object();
  nested["a"] = {1, {{"b", nullptr}, {"c", OJson::array()}}};
  nested["d"] = OJson::object();
  nested["e"] = "x\u00e9";
  EXPECT_EQ(PyJsonDumps(nested, true),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null,\n      \"c\": []\n    }\n  ],\n"
            "  \"d\": {},\n  \"e\": \"x\u00e9\"\n}");
}

}  // namespace
}  // namespace cohort::worker::eval
