#include "worker/eval/bench.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "worker/eval/aime.h"
#include "worker/eval/arc.h"
#include "worker/eval/gpqa.h"
#include "worker/eval/gsm8k.h"
#include "worker/eval/humaneval.h"
#include "worker/eval/ifeval.h"
#include "worker/eval/lcb.h"
#include "worker/eval/math500.h"
#include "worker/eval/multipl_e.h"

namespace cohort::worker::eval {

const std::vector<BenchSpec>& AllBenches() {
  static const auto* benches = new std::vector<BenchSpec>{
      {"arc_challenge", kArcScorerVersion, LoadArc, ScoreArc, false},
      {"gpqa_diamond", kGpqaScorerVersion, LoadGpqa, ScoreGpqa, false},
      {"gsm8k", kGsm8kScorerVersion, LoadGsm8k, ScoreGsm8k, false},
      {"math500", kMath500ScorerVersion, LoadMath500, ScoreMath500, false},
      {"aime2024", kAimeScorerVersion, LoadAime, ScoreAime, false},
      {"ifeval", kIfevalScorerVersion, LoadIfeval, ScoreIfeval, false},
      {"humaneval", kHumanEvalScorerVersion, LoadHumanEval, ScoreHumanEval, true},
      {"humanevalplus", kHumanEvalPlusScorerVersion, LoadHumanEvalPlus, ScoreHumanEvalPlus,
       true},
      {"lcb", kLcbScorerVersion, LoadLcb, ScoreLcb, true},
      {"multipl-e-rs", kMultiplEScorerVersion, LoadMultiplE, ScoreMultiplE, true},
      {"multipl-e-java", kMultiplEScorerVersion, LoadMultiplE, ScoreMultiplE, true},
      {"multipl-e-js", kMultiplEScorerVersion, LoadMultiplE, ScoreMultiplE, true},
  };
  return *benches;
}

const BenchSpec* FindBench(absl::string_view name) {
  for (const BenchSpec& spec : AllBenches()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

void ApplyLimit(const BenchSettings& settings, std::vector<Problem>* problems) {
  if (settings.limit > 0 && problems->size() > static_cast<size_t>(settings.limit)) {
    problems->resize(settings.limit);
  }
}

absl::Status CheckId(const char* what, const std::string& id,
                     const std::vector<std::string>& known) {
  for (const std::string& k : known) {
    if (id == k) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " '", id, "' is not implemented (known: ", absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<BenchSetup> SetUpBench(const std::string& bench, const std::string& profile,
                                      const std::string& fewshot_path) {
  BenchSetup setup;
  setup.bench = FindBench(bench);
  if (setup.bench == nullptr) {
    std::vector<std::string> names;
    for (const BenchSpec& b : AllBenches()) names.push_back(b.name);
    return absl::InvalidArgumentError(absl::StrCat("unknown bench '", bench, "' (known: ",
                                                   absl::StrJoin(names, ", "), ")"));
  }
  COHORT_ASSIGN_OR_RETURN(setup.profile, LoadProfile(profile));
  const BenchSettings* settings = setup.profile.Find(setup.bench->name);
  if (settings == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("profile '", setup.profile.name,
                                                   "' has no settings for bench '",
                                                   setup.bench->name, "'"));
  }
  setup.settings = *settings;
  setup.settings.fewshot_path = fewshot_path;
  return setup;
}

std::vector<ChatTurn> ChatMessages(const Problem& problem) {
  std::vector<ChatTurn> messages = problem.history;
  messages.push_back({"user", problem.prompt});
  return messages;
}

std::string PyJsonString(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;  // ensure_ascii=False: everything else as is
        }
    }
  }
  out += '"';
  return out;
}

std::string LmEvalChatJson(const Problem& problem) {
  std::string out = "[";
  bool first = true;
  for (const ChatTurn& m : ChatMessages(problem)) {
    absl::StrAppend(&out, first ? "" : ", ", "{\"role\": ", PyJsonString(m.role),
                    ", \"content\": ", PyJsonString(m.content), ", \"type\": \"text\"}");
    first = false;
  }
  return out + "]";
}

std::string PromptDigest(const Problem& problem) { return Sha256Hex(LmEvalChatJson(problem)); }

}  // namespace cohort::worker::eval
