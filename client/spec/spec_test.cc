#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "client/spec/inputs.h"
#include "client/spec/spec.h"
#include "common/sha256.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::client {
namespace {

using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kDigestA[] =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

// A valid sweep over digests only (no files needed).
std::string Sweep(const std::string& extra = "") {
  return std::string(R"(kind: sweep
name: demo
base_model: )") + kDigestA + R"(
contrib: )" + kDigestA + R"(
recipe:
  dropmap: {target: 12, protect_top: 2}
grid:
  dropmap.class_weights:
    v5: 1 1 2
    v6: [1, 1, 3]
  upweight.alpha: [1.0, 1.2]
eval:
  profile: omk-card-2026-07
  suites:
    - {bench: gsm8k, dataset: )" + kDigestA + R"(, fewshot: )" + kDigestA + R"(, limit: 5}
)" + extra;
}

// The docs call omk-card-2026-07 the default: a spec without `profile:`
// runs it, exactly as if it named it.
TEST(SpecTest, ProfileDefaultsToTheSeedCardsProtocol) {
  std::string named = Sweep();
  std::string unnamed = named;
  const std::string line = "  profile: omk-card-2026-07\n";
  ASSERT_NE(unnamed.find(line), std::string::npos);
  unnamed.erase(unnamed.find(line), line.size());
  ASSERT_OK_AND_ASSIGN(Spec a, ParseSpecText(named, "s.yaml", "/"));
  ASSERT_OK_AND_ASSIGN(Spec b, ParseSpecText(unnamed, "s.yaml", "/"));
  EXPECT_EQ(b.eval.profile_name, "omk-card-2026-07");
  EXPECT_EQ(b.eval.profile, a.eval.profile);
}

// A limit past the dataset's size runs every problem: submit warns at the
// suite's line and names the suite by what runs (humaneval-500 ran 164).
TEST(SpecTest, LimitPastTheDatasetIsClampedWithAWarning) {
  cohort::testing::TempDir dir;
  std::ofstream(dir.Join("test.jsonl")) << "{\"question\": \"a\", \"answer\": \"#### 1\"}\n"
                                         << "{\"question\": \"b\", \"answer\": \"#### 2\"}\n\n";
  std::ofstream(dir.Join("train.jsonl")) << "{}\n";
  std::string text = Sweep();
  const std::string from = std::string("dataset: ") + kDigestA + ", fewshot: " + kDigestA +
                           ", limit: 5}";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "dataset: test.jsonl, limit: 500}");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", dir.path()));
  EXPECT_EQ(spec.eval.suites[0].limit, 2);
  EXPECT_EQ(spec.eval.suites[0].name, "gsm8k-2");
  ASSERT_EQ(spec.warnings.size(), 1u);
  EXPECT_THAT(spec.warnings[0], HasSubstr("s.yaml:"));
  EXPECT_THAT(spec.warnings[0], HasSubstr("limit 500 is more than the 2 problems"));
  // Within the size: no warning, the name the spec implies.
  std::string fits = text;
  fits.replace(fits.find("limit: 500"), 10, "limit: 1");
  ASSERT_OK_AND_ASSIGN(Spec small, ParseSpecText(fits, "s.yaml", dir.path()));
  EXPECT_TRUE(small.warnings.empty());
  EXPECT_EQ(small.eval.suites[0].name, "gsm8k-1");
}

TEST(SpecTest, GridIsTheCartesianProductWithLabels) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Sweep(), "s.yaml", "/"));
  ASSERT_EQ(spec.variants.size(), 4u);
  EXPECT_EQ(spec.variants[0].name, "v5,alpha=1.0");
  EXPECT_EQ(spec.variants[3].name, "v6,alpha=1.2");
  EXPECT_EQ(spec.variants[0].recipe["dropmap"]["class_weights"],
            nlohmann::json::parse("[1.0, 1.0, 2.0]"));
  EXPECT_EQ(spec.variants[3].recipe["upweight"]["alpha"].get<double>(), 1.2);
  EXPECT_EQ(spec.variants[3].recipe["dropmap"]["target"].get<int>(), 12);
  EXPECT_EQ(spec.eval.suites[0].name, "gsm8k-5");
  EXPECT_EQ(spec.eval.server["parallel"].get<int>(), 2);
}

TEST(SpecTest, ErrorsNameFileLineAndKey) {
  std::string text = Sweep();
  text.replace(text.find("protect_top"), 11, "protect_tap");
  absl::StatusOr<Spec> spec = ParseSpecText(text, "s.yaml", "/");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("s.yaml:6:"));
  EXPECT_THAT(spec.status().message(), HasSubstr("recipe.dropmap.protect_tap"));
  EXPECT_THAT(spec.status().message(), HasSubstr("unknown key"));
}

TEST(SpecTest, RefusesBadValuesWithTheirPosition) {
  struct Case {
    std::string from, to, want;
  } cases[] = {
      {"upweight.alpha: [1.0, 1.2]", "upweight.alpha: [1.0, -1]", "s.yaml:11:"},
      {"upweight.alpha: [1.0, 1.2]", "dropmap.strategy: [max, maxx]", "'maxx' is not one of"},
      {"upweight.alpha: [1.0, 1.2]", "alpha: [1]", "<section>.<parameter>"},
      {"bench: gsm8k", "bench: gsm9k", "has no bench 'gsm9k'"},
      {"profile: omk-card-2026-07", "profile: no-such", "neither a built-in profile"},
      {"limit: 5", "limit: -3", "must be >= 0"},
      {"kind: sweep", "kind: swept", "expected 'sweep' or 'cohort'"},
      {"target: 12", "target: 1", "variant 'v5,alpha=1.0': protect_top 2 exceeds target 1"},
  };
  for (const Case& c : cases) {
    std::string text = Sweep();
    text.replace(text.find(c.from), c.from.size(), c.to);
    absl::StatusOr<Spec> spec = ParseSpecText(text, "s.yaml", "/");
    ASSERT_FALSE(spec.ok()) << c.to;
    EXPECT_THAT(spec.status().message(), HasSubstr(c.want)) << c.to;
  }
}

TEST(SpecTest, SyntaxErrorNamesThePosition) {
  absl::StatusOr<Spec> spec = ParseSpecText("kind: [sweep\nname: x\n", "bad.yaml", "/");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("bad.yaml:"));
}

TEST(SpecTest, GatesAndReferences) {
  ASSERT_OK_AND_ASSIGN(
      Spec spec,
      ParseSpecText(Sweep(std::string("gates:\n  probe: {bench: gsm8k, dataset: ") +
                          kDigestA + ", fewshot: " + kDigestA + ", limit: 2}\n  condition: accuracy >= 0.25\n"
                          "references:\n  - {name: base, gguf: " + kDigestA + "}\n"
                          "  - {name: old, campaign: c-1, model: v5}\n"),
                    "s.yaml", "/"));
  ASSERT_TRUE(spec.gate.has_value());
  EXPECT_EQ(spec.gate->metric, "accuracy");
  EXPECT_EQ(spec.gate->value, 0.25);
  EXPECT_EQ(spec.gate->probe.name, "probe-gsm8k-2");
  ASSERT_EQ(spec.references.size(), 2u);
  EXPECT_EQ(spec.references[1].campaign, "c-1");
  absl::StatusOr<Spec> bad = ParseSpecText(
      Sweep("gates:\n  probe: {bench: gsm8k, dataset: " + std::string(kDigestA) +
            "}\n  condition: accuracy > 2\n"),
      "s.yaml", "/");
  EXPECT_FALSE(bad.ok());
}

TEST(SpecTest, NormalizedJsonParsesBackToTheSameSpec) {
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(Sweep(), "s.yaml", "/"));
  nlohmann::json normalized = NormalizedSpecJson(spec);
  ASSERT_OK_AND_ASSIGN(Spec again, ParseSpecText(normalized.dump(), "campaign", "/"));
  EXPECT_EQ(NormalizedSpecJson(again), normalized);
}

TEST(SpecTest, MaxAttemptsIsCheckedAndKeptInTheNormalizedSpec) {
  std::string text = Sweep();
  text.replace(text.find("name: demo"), 10, "name: demo\nmax_attempts: 1");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", "/"));
  EXPECT_EQ(spec.max_attempts, 1);
  nlohmann::json normalized = NormalizedSpecJson(spec);
  EXPECT_EQ(normalized["max_attempts"], 1);
  ASSERT_OK_AND_ASSIGN(Spec again, ParseSpecText(normalized.dump(), "campaign", "/"));
  EXPECT_EQ(again.max_attempts, 1);
  EXPECT_FALSE(NormalizedSpecJson(*ParseSpecText(Sweep(), "s.yaml", "/")).contains("max_attempts"));
  text.replace(text.find("max_attempts: 1"), 15, "max_attempts: 0");
  absl::StatusOr<Spec> zero = ParseSpecText(text, "s.yaml", "/");
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("s.yaml:3:"));
  EXPECT_THAT(zero.status().message(), HasSubstr("1 to 100"));
}

TEST(SpecTest, CohortManifestNeedsVariantsAndReadsPins) {
  std::string text = Sweep();
  text.replace(text.find("kind: sweep"), 11, "kind: cohort");
  EXPECT_FALSE(ParseSpecText(text, "m.yaml", "/").ok());
  size_t grid = text.find("grid:");
  size_t eval = text.find("eval:");
  text.replace(grid, eval - grid,
               std::string("variants:\n  - name: v6\n    recipe: {quantize: {type: Q6_K}}\n"
                           "    digests: {gguf: ") + kDigestA + "}\n");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "m.yaml", "/"));
  ASSERT_EQ(spec.variants.size(), 1u);
  EXPECT_EQ(spec.variants[0].pinned.at("gguf"), kDigestA);
}

TEST(SpecTest, ResolveInputsHashesPathsAndChecksPins) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Join("model"));
  std::ofstream(dir.Join("model/config.json")) << "{}";
  std::ofstream(dir.Join("contrib.json")) << "{\"x\": 1}";
  std::ofstream(dir.Join("test.jsonl")) << "{}\n";
  std::string text = Sweep();
  text.replace(text.find(std::string("base_model: ") + kDigestA),
               12 + sizeof(kDigestA) - 1, "base_model: model");
  text.replace(text.find(std::string("contrib: ") + kDigestA), 9 + sizeof(kDigestA) - 1,
               "contrib: ${COHORT_SPEC_TEST_DIR}/contrib.json");
  text.replace(text.find(std::string("dataset: ") + kDigestA), 9 + sizeof(kDigestA) - 1,
               "dataset: test.jsonl");
  setenv("COHORT_SPEC_TEST_DIR", dir.path().c_str(), 1);
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(text, "s.yaml", dir.path()));
  ASSERT_OK_AND_ASSIGN(std::vector<UserArtifact> artifacts, ResolveInputs(spec));
  ASSERT_EQ(artifacts.size(), 3u);
  EXPECT_TRUE(artifacts[0].is_folder);
  EXPECT_EQ(artifacts[0].path, dir.Join("model"));
  EXPECT_EQ(spec.contrib.digest, "sha256:" + Sha256Hex("{\"x\": 1}"));
  // A pin that does not match is an error naming the spec position.
  spec.base_model.digest = kDigestA;
  absl::StatusOr<std::vector<UserArtifact>> again = ResolveInputs(spec);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("s.yaml:3:"));
  EXPECT_THAT(again.status().message(), HasSubstr("but the spec pins"));
  // A missing file.
  std::filesystem::remove(dir.Join("test.jsonl"));
  ASSERT_OK_AND_ASSIGN(Spec missing, ParseSpecText(text, "s.yaml", dir.path()));
  absl::StatusOr<std::vector<UserArtifact>> gone = ResolveInputs(missing);
  ASSERT_FALSE(gone.ok());
  EXPECT_THAT(gone.status().message(), HasSubstr("does not exist"));
}

// `dataset: gsm8k`: a dataset of data/datasets.json by name (client/datasets).
std::string WithDataset(const std::string& dataset) {
  std::string text = Sweep();
  text.replace(text.find(std::string("dataset: ") + kDigestA), 9 + sizeof(kDigestA) - 1,
               "dataset: " + dataset);
  // Without its own `fewshot:`, a named dataset brings its train split.
  const std::string fewshot = std::string(", fewshot: ") + kDigestA;
  text.erase(text.find(fewshot), fewshot.size());
  return text;
}

// A few-shot bench whose train split cannot be found is refused at submit,
// naming the place; it used to run zero-shot on the workers, silently.
TEST(SpecTest, FewShotBenchWithoutItsTrainSplitIsAnError) {
  std::string text = Sweep();
  const std::string fewshot = std::string(", fewshot: ") + kDigestA;
  text.erase(text.find(fewshot), fewshot.size());
  absl::StatusOr<Spec> spec = ParseSpecText(text, "s.yaml", "/");
  EXPECT_THAT(spec.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                      ::testing::AllOf(HasSubstr("s.yaml:"),
                                                       HasSubstr("gsm8k is 5-shot"))));
}

TEST(SpecTest, DatasetsByName) {
  cohort::testing::TempDir dir;
  setenv("XDG_CACHE_HOME", dir.Join("cache").c_str(), 1);  // no fetched sets leak in
  unsetenv("COHORT_DATA_DIR");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(WithDataset("gsm8k"), "s.yaml", dir.path()));
  const InputRef& ref = spec.eval.suites[0].dataset;
  EXPECT_TRUE(absl::EndsWith(ref.path, "/data/gsm8k/test.jsonl")) << ref.path;
  EXPECT_EQ(ref.digest,
            "sha256:3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14");
  // GSM8K is 5-shot in the profile: its exemplars' split comes along.
  const InputRef& fewshot = spec.eval.suites[0].fewshot;
  EXPECT_TRUE(absl::EndsWith(fewshot.path, "/data/gsm8k/train.jsonl")) << fewshot.path;
  EXPECT_EQ(fewshot.digest,
            "sha256:17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465");
  EXPECT_THAT(ref.pinned_by, HasSubstr("dataset gsm8k ("));
  EXPECT_EQ(ref.kind, "dataset");
  ASSERT_OK_AND_ASSIGN(Spec train,
                       ParseSpecText(WithDataset("gsm8k:train"), "s.yaml", dir.path()));
  EXPECT_TRUE(absl::EndsWith(train.eval.suites[0].dataset.path, "/data/gsm8k/train.jsonl"));

  absl::StatusOr<Spec> typo = ParseSpecText(WithDataset("gsm8kk"), "s.yaml", dir.path());
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("s.yaml:15:"));
  EXPECT_THAT(typo.status().message(),
              HasSubstr("'gsm8kk' is neither a known dataset (gsm8k, arc_challenge"));
  absl::StatusOr<Spec> split = ParseSpecText(WithDataset("gsm8k:dev"), "s.yaml", dir.path());
  EXPECT_THAT(split.status().message(), HasSubstr("no split 'dev' (it has: test, train"));
  absl::StatusOr<Spec> unfetched =
      ParseSpecText(WithDataset("livecodebench"), "s.yaml", dir.path());
  EXPECT_THAT(unfetched.status().message(),
              HasSubstr("run `cohort datasets fetch livecodebench`"));

  // A name-like text that is a file beside the spec stays a path, as before.
  std::ofstream(dir.Join("mydata")) << "{}\n";
  std::ofstream(dir.Join("train.jsonl")) << "{}\n";  // its exemplars' split, beside it
  ASSERT_OK_AND_ASSIGN(Spec file, ParseSpecText(WithDataset("mydata"), "s.yaml", dir.path()));
  EXPECT_EQ(file.eval.suites[0].dataset.path, dir.Join("mydata"));
  EXPECT_EQ(file.eval.suites[0].dataset.digest, "");
  EXPECT_EQ(file.eval.suites[0].fewshot.path, dir.Join("train.jsonl"));
  unsetenv("XDG_CACHE_HOME");
}

TEST(SpecTest, NamedDatasetIsCheckedAgainstItsPin) {
  cohort::testing::TempDir dir;
  std::filesystem::create_directories(dir.Join("toy"));
  std::ofstream(dir.Join("toy/test.jsonl")) << "changed\n";
  std::ofstream(dir.Join("toy/train.jsonl")) << "t\n";
  std::ofstream(dir.Join("datasets.json"))
      << R"({"version": 1, "datasets": [{"name": "toy", "shipped": true, "source": "s",
             "license": "l", "files": [{"path": "toy/test.jsonl", "split": "test",
             "sha256": ")" << Sha256Hex("original\n") << R"(", "bytes": 9},
             {"path": "toy/train.jsonl", "split": "train", "sha256": ")"
      << Sha256Hex("t\n") << R"(", "bytes": 2}]}]})";
  setenv("COHORT_DATA_DIR", dir.path().c_str(), 1);
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecText(WithDataset("toy"), "s.yaml", dir.path()));
  absl::StatusOr<std::vector<UserArtifact>> inputs = ResolveInputs(spec);
  unsetenv("COHORT_DATA_DIR");
  ASSERT_FALSE(inputs.ok());
  EXPECT_THAT(inputs.status().message(), HasSubstr("s.yaml:15:"));
  EXPECT_THAT(inputs.status().message(),
              HasSubstr("but dataset toy (" + dir.Join("datasets.json") + ") pins sha256:" +
                        Sha256Hex("original\n")));
}

// The README's demo sweep names its datasets; they resolve to data/.
TEST(SpecTest, DemoSweepNamesShippedDatasets) {
  cohort::testing::TempDir dir;
  setenv("XDG_CACHE_HOME", dir.path().c_str(), 1);
  unsetenv("COHORT_DATA_DIR");
  ASSERT_OK_AND_ASSIGN(Spec spec, ParseSpecFile(cohort::testing::SourceDir() +
                                                "/docs/examples/demo-sweep.yaml"));
  unsetenv("XDG_CACHE_HOME");
  ASSERT_EQ(spec.eval.suites.size(), 2u);
  EXPECT_TRUE(absl::EndsWith(spec.eval.suites[0].dataset.path, "/data/gsm8k/test.jsonl"));
  EXPECT_TRUE(absl::EndsWith(spec.eval.suites[1].dataset.path,
                             "/data/arc_challenge/ARC-Challenge-Test.jsonl"));
  EXPECT_FALSE(spec.eval.suites[1].dataset.digest.empty());
}

}  // namespace
}  // namespace cohort::client
