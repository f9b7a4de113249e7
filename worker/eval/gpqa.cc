#include "worker/eval/gpqa.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/eval/csv.h"
#include "worker/eval/jsonl.h"
#include "worker/eval/py_regex.h"
#include "worker/eval/text_util.h"

namespace cohort::worker::eval {
namespace {

constexpr const char* kColumns[] = {"Incorrect Answer 1", "Incorrect Answer 2",
                                    "Incorrect Answer 3", "Correct Answer"};

uint64_t Fnv1a64(absl::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// lm-eval's filter_ignores for the choice-text fallback: lower-case, then
// delete Unicode punctuation.
std::string NormalizeForMatch(absl::string_view text) {
  static const RE2 kPunct("\\pP", QuietOptions());
  std::string s = AsciiLower(text);
  RE2::GlobalReplace(&s, kPunct, "");
  return s;
}

// exact_match with ignore_case and ignore_punctuation (ASCII punctuation).
std::string NormalizeForCompare(absl::string_view text) {
  std::string out;
  for (char c : AsciiLower(text)) {
    if (!absl::ascii_ispunct(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

struct Row {
  int line = 0;
  std::map<std::string, std::string> fields;
};

absl::StatusOr<std::vector<Row>> ReadRows(const std::string& path) {
  std::vector<Row> rows;
  if (absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".jsonl.gz")) {
    COHORT_ASSIGN_OR_RETURN(std::vector<JsonLine> lines, ReadJsonLines(path));
    for (const JsonLine& line : lines) {
      Row row{line.line, {}};
      for (auto it = line.value.begin(); it != line.value.end(); ++it) {
        row.fields[it.key()] = it->is_string() ? it->get<std::string>()
                                               : ScalarToString(*it);
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  COHORT_ASSIGN_OR_RETURN(std::vector<CsvRecord> records, ParseCsv(text, path));
  for (CsvRecord& r : records) rows.push_back({r.line, std::move(r.fields)});
  return rows;
}

absl::StatusOr<Problem> MakeProblem(const Row& row, int index,
                                    const BenchSettings& settings,
                                    const std::string& path) {
  auto get = [&](const char* key) -> const std::string* {
    auto it = row.fields.find(key);
    return it == row.fields.end() ? nullptr : &it->second;
  };
  const std::string* question = get("Question");
  std::array<std::string, 4> answers;
  for (int i = 0; i < 4; ++i) {
    const std::string* a = get(kColumns[i]);
    if (a == nullptr || question == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", row.line, ": needs columns Question, Correct Answer and "
          "Incorrect Answer 1-3"));
    }
    answers[i] = PreprocessGpqaText(*a);
  }
  Problem p;
  p.index = index;
  const std::string* record_id = get("Record ID");
  p.id = record_id != nullptr && !record_id->empty() ? *record_id : std::to_string(index);
  std::array<int, 4> order = GpqaOptionOrder(settings.option_seed, p.id);
  std::array<std::string, 4> options;
  for (int i = 0; i < 4; ++i) {
    options[i] = answers[order[i]];
    if (order[i] == 3) p.gold = absl::StrCat("(", std::string(1, 'A' + i), ")");
    p.meta["options"].push_back(options[i]);
    p.meta["order"].push_back(kColumns[order[i]]);
  }
  p.meta["option_seed"] = settings.option_seed;
  p.prompt = BuildGpqaPrompt(*question, options);
  return p;
}

}  // namespace

std::string PreprocessGpqaText(absl::string_view text) {
  static const RE2 kBracketed("\\[.*?\\]", QuietOptions());
  std::string s = Strip(text);
  s = absl::StrReplaceAll(s, {{" [title]", ". "}});
  RE2::GlobalReplace(&s, kBracketed, "");
  return absl::StrReplaceAll(s, {{"  ", " "}});
}

std::array<int, 4> GpqaOptionOrder(uint64_t seed, absl::string_view problem_id) {
  std::array<int, 4> order = {0, 1, 2, 3};
  uint64_t state = seed ^ Fnv1a64(problem_id);
  for (int i = 3; i > 0; --i) {
    int j = static_cast<int>(SplitMix64(&state) % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::string BuildGpqaPrompt(absl::string_view question,
                            const std::array<std::string, 4>& options) {
  return absl::StrCat("What is the correct answer to this question:", question,
                      "\nChoices:\n(A) ", options[0], "\n(B) ", options[1],
                      "\n(C) ", options[2], "\n(D) ", options[3],
                      "\nLet's think step by step: ");
}

std::string ExtractGpqaFlexible(absl::string_view text,
                                const std::vector<std::string>& options,
                                std::string* rule) {
  static const RE2 kParen("(\\([A-Z]\\))", QuietOptions());
  // lm-eval's fallback regex, with Python's Unicode \s.
  static const PyRegex kColon(":[\\s]*(A|B|C|D)");
  std::string found = Strip(LastMatchGroup(kParen, text));
  if (!found.empty()) { *rule = "paren_letter"; return found; }
  std::string alternation;
  std::map<std::string, char> letter_of;
  for (size_t i = 0; i < options.size() && i < 26; ++i) {
    std::string norm = NormalizeForMatch(options[i]);
    if (norm.empty()) continue;
    letter_of.emplace(norm, static_cast<char>('A' + i));
    absl::StrAppend(&alternation, alternation.empty() ? "" : "|", RE2::QuoteMeta(norm));
  }
  if (!alternation.empty()) {
    RE2 choices("(" + alternation + ")", QuietOptions());
    std::string hit = LastMatchGroup(choices, NormalizeForMatch(text));
    auto it = letter_of.find(hit);
    if (it != letter_of.end()) {
      *rule = "choice_text";
      return absl::StrCat("(", std::string(1, it->second), ")");
    }
  }
  found = kColon.LastGroup(text).value_or("");
  if (!found.empty()) { *rule = "colon_letter"; return absl::StrCat("(", found, ")"); }
  *rule = "none";
  return "[invalid]";
}

absl::StatusOr<std::vector<Problem>> LoadGpqa(const std::string& path,
                                              const BenchSettings& settings) {
  COHORT_RETURN_IF_ERROR(CheckId("prompt_template", settings.prompt_template,
                                 {"gpqa_cot_zeroshot_v1"}));
  COHORT_RETURN_IF_ERROR(CheckId("extractor", settings.extractor, {"gpqa_flexible"}));
  COHORT_ASSIGN_OR_RETURN(std::vector<Row> rows, ReadRows(path));
  std::vector<Problem> problems;
  for (const Row& row : rows) {
    COHORT_ASSIGN_OR_RETURN(
        Problem p, MakeProblem(row, static_cast<int>(problems.size()), settings, path));
    problems.push_back(std::move(p));
  }
  return problems;
}

Verdict ScoreGpqa(const Problem& problem, absl::string_view completion,
                  const BenchSettings& /*settings*/) {
  std::vector<std::string> options;
  if (auto it = problem.meta.find("options"); it != problem.meta.end() && it->is_array()) {
    for (const nlohmann::json& o : *it) {
      if (o.is_string()) options.push_back(o.get<std::string>());
    }
  }
  Verdict v;
  v.extracted = ExtractGpqaFlexible(completion, options, &v.rule);
  v.passed = v.rule != "none" &&
             NormalizeForCompare(v.extracted) == NormalizeForCompare(problem.gold);
  return v;
}

}  // namespace cohort::worker::eval
