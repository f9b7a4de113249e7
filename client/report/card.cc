#include "client/report/card.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/report/render.h"

namespace cohort::client::report {
namespace {

// The protocol's benches in card order. `with_n` puts the problem count in
// the name ("GSM8K-100 flex"); otherwise it follows in parentheses.
struct Bench {
  const char* key;     // suite prefix, lower case, '_' for '-'
  const char* prefix;  // label before the count
  const char* suffix;  // label after the count
  bool with_n;
};

constexpr Bench kBenches[] = {
    {"arc_challenge", "ARC-Challenge", "", false},
    {"gpqa_diamond", "GPQA Diamond", "", false},
    {"gsm8k", "GSM8K-", " flex", true},
    {"math500", "MATH-500", "", false},
    {"aime2024", "AIME 2024", "", false},
    {"aime", "AIME", "", false},
    {"ifeval", "IFEval prompt_strict", "", false},
    {"humaneval_plus", "HumanEval+", "", false},
    {"humanevalplus", "HumanEval+", "", false},
    {"humaneval", "HumanEval", "", false},
    {"lcb_medium", "LCB-medium-", "", true},
    {"lcb", "LCB-", "", true},
    {"multipl_e_rs", "MultiPL-E Rust", "", false},
    {"multipl_e_java", "MultiPL-E Java", "", false},
    {"multipl_e_js", "MultiPL-E JavaScript", "", false},
};
constexpr int kBenchCount = sizeof(kBenches) / sizeof(kBenches[0]);

// The bench a suite runs: the longest key its name starts with.
const Bench* BenchOf(const std::string& suite, int* rank) {
  const std::string name = absl::StrReplaceAll(absl::AsciiStrToLower(suite), {{"-", "_"}});
  const Bench* best = nullptr;
  for (int i = 0; i < kBenchCount; ++i) {
    const std::string key = kBenches[i].key;
    if (!absl::StartsWith(name, key)) continue;
    if (best == nullptr || key.size() > std::string(best->key).size()) {
      best = &kBenches[i];
      *rank = i;
    }
  }
  return best;
}

std::string Percent2(double share) { return absl::StrFormat("%.2f%%", 100.0 * share); }

// Suites in protocol order, then the others as given.
std::vector<std::string> InCardOrder(std::vector<std::string> suites) {
  std::stable_sort(suites.begin(), suites.end(), [](const std::string& a, const std::string& b) {
    return ProtocolRank(a) < ProtocolRank(b);
  });
  return suites;
}

// References first, then the other models in their order.
std::vector<std::string> ColumnOrder(const Scoreboard& board) {
  std::vector<std::string> out = board.references;
  for (const std::string& m : board.models) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

uint64_t SuiteN(const Scoreboard& board, const std::string& suite) {
  uint64_t n = 0;
  for (const std::string& m : board.models) {
    if (const Cell* c = board.Find(suite, m)) n = std::max(n, c->n);
  }
  return n;
}

}  // namespace

int ProtocolRank(const std::string& suite) {
  int rank = kBenchCount;
  return BenchOf(suite, &rank) == nullptr ? kBenchCount : rank;
}

std::string CardLabel(const std::string& suite, uint64_t n) {
  int rank = 0;
  const Bench* bench = BenchOf(suite, &rank);
  if (bench == nullptr) return absl::StrCat(suite, " (", n, ")");
  if (bench->with_n) return absl::StrCat(bench->prefix, n, bench->suffix);
  return absl::StrCat(bench->prefix, bench->suffix, " (", n, ")");
}

namespace {

// A recipe value as written in a spec: numbers without trailing zeros,
// lists space-separated.
std::string RecipeValue(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return absl::StrFormat("%g", v.get<double>());
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const nlohmann::json& x : v) parts.push_back(RecipeValue(x));
    return absl::StrJoin(parts, " ");
  }
  return v.dump();
}

// "section.key" -> value text, for every parameter of the recipe.
std::map<std::string, std::string> FlatRecipe(const nlohmann::json& recipe) {
  std::map<std::string, std::string> flat;
  if (!recipe.is_object()) return flat;
  for (const auto& [section, params] : recipe.items()) {
    if (!params.is_object()) continue;
    for (const auto& [key, value] : params.items()) {
      flat[absl::StrCat(section, ".", key)] = RecipeValue(value);
    }
  }
  return flat;
}

}  // namespace

std::string RenderCardRecipes(const std::vector<RecipeRow>& rows,
                              const std::vector<std::string>& classes) {
  if (rows.empty()) return "";
  std::vector<std::map<std::string, std::string>> flat;
  for (const RecipeRow& r : rows) flat.push_back(FlatRecipe(r.recipe));
  // Parameters whose value is not the same in every variant.
  std::vector<std::string> varying;
  std::set<std::string> keys;
  for (const auto& f : flat) {
    for (const auto& [k, v] : f) keys.insert(k);
  }
  const std::set<std::string> fixed_columns = {"dropmap.class_weights", "dropmap.classes",
                                               "dropmap.target", "quantize.type"};
  for (const std::string& k : keys) {
    if (fixed_columns.count(k)) continue;
    for (const auto& f : flat) {
      auto it = f.find(k);
      auto first = flat[0].find(k);
      if ((it == f.end()) != (first == flat[0].end()) ||
          (it != f.end() && it->second != first->second)) {
        varying.push_back(k);
        break;
      }
    }
  }
  bool weights = false;
  size_t n_weights = 0;
  for (const RecipeRow& r : rows) {
    const nlohmann::json& w = r.recipe.is_object() && r.recipe.contains("dropmap")
                                  ? r.recipe["dropmap"].value("class_weights", nlohmann::json())
                                  : nlohmann::json();
    if (w.is_array()) {
      weights = true;
      n_weights = std::max(n_weights, w.size());
    }
  }
  bool per_class = weights && !classes.empty() && classes.size() == n_weights;
  std::vector<std::string> header = {"Variant"};
  if (per_class) {
    header.insert(header.end(), classes.begin(), classes.end());
  } else if (weights) {
    header.push_back("class weights");
  }
  header.push_back("experts kept");
  header.insert(header.end(), varying.begin(), varying.end());
  header.push_back("quant");
  std::vector<std::vector<std::string>> table;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<std::string> row = {rows[i].variant};
    const nlohmann::json& dm = rows[i].recipe.is_object() && rows[i].recipe.contains("dropmap")
                                   ? rows[i].recipe["dropmap"] : nlohmann::json::object();
    const nlohmann::json w = dm.is_object() ? dm.value("class_weights", nlohmann::json())
                                            : nlohmann::json();
    if (per_class) {
      for (size_t c = 0; c < classes.size(); ++c) {
        row.push_back(w.is_array() && c < w.size() ? RecipeValue(w[c]) : "—");
      }
    } else if (weights) {
      row.push_back(w.is_array() ? RecipeValue(w) : "—");
    }
    auto get = [&](const std::string& k) {
      auto it = flat[i].find(k);
      return it == flat[i].end() ? std::string("—") : it->second;
    };
    row.push_back(get("dropmap.target"));
    for (const std::string& k : varying) row.push_back(get(k));
    row.push_back(get("quantize.type"));
    table.push_back(std::move(row));
  }
  return MarkdownTable(header, table) +
         "\nClass weights: the weight of each class's contribution scores in the drop map "
         "(dropmap.class_weights, one per class). Experts kept: per MoE layer "
         "(dropmap.target). Further columns: recipe parameters that differ between the "
         "variants. Quant: the GGUF type evaluated.\n";
}

std::string RenderCardScoreboard(const Scoreboard& board) {
  const std::vector<std::string> columns = ColumnOrder(board);
  std::vector<std::pair<std::string, std::string>> deltas;  // (model, reference)
  for (const std::string& m : columns) {
    if (std::find(board.references.begin(), board.references.end(), m) !=
        board.references.end()) {
      continue;
    }
    for (const std::string& ref : board.references) deltas.emplace_back(m, ref);
  }
  std::vector<std::string> header = {"Bench"};
  header.insert(header.end(), columns.begin(), columns.end());
  for (const auto& [m, ref] : deltas) header.push_back(absl::StrCat("Δ ", m, " vs ", ref));
  std::vector<std::vector<std::string>> rows;
  for (const std::string& suite : InCardOrder(board.suites)) {
    std::vector<std::string> row = {CardLabel(suite, SuiteN(board, suite))};
    for (const std::string& m : columns) {
      const Cell* c = board.Find(suite, m);
      row.push_back(c == nullptr || c->n == 0 ? "—" : Percent2(c->accuracy()));
    }
    for (const auto& [m, ref] : deltas) {
      std::optional<double> d = board.Delta(suite, m, ref);
      row.push_back(d ? absl::StrFormat("%+.2f", *d) : "—");
    }
    rows.push_back(std::move(row));
  }
  return MarkdownTable(header, rows) +
         "\nAccuracy: problems passed of the bench's n (the label's count), each model over "
         "its own answers; a server error counts as not passed. IFEval is prompt-level "
         "strict accuracy. Δ: accuracy minus the reference's, in percentage points.\n";
}

std::string RenderCardLengths(
    const std::map<std::pair<std::string, std::string>, LengthStats>& stats,
    const std::vector<std::string>& models, uint64_t saturation_tokens) {
  std::vector<std::string> suites;
  std::set<std::string> seen;
  for (const auto& [key, s] : stats) {
    if (seen.insert(key.second).second) suites.push_back(key.second);
  }
  suites = InCardOrder(suites);
  std::vector<std::string> columns;
  for (const std::string& m : models) {
    for (const auto& [key, s] : stats) {
      if (key.first == m) {
        columns.push_back(m);
        break;
      }
    }
  }
  auto table = [&](const std::string& title,
                   const std::function<std::string(const LengthStats&)>& cell) {
    std::vector<std::string> header = {"Bench"};
    header.insert(header.end(), columns.begin(), columns.end());
    std::vector<std::vector<std::string>> rows;
    for (const std::string& suite : suites) {
      uint64_t n = 0;
      for (const std::string& m : columns) {
        auto it = stats.find({m, suite});
        if (it != stats.end()) n = std::max(n, it->second.n);
      }
      std::vector<std::string> row = {CardLabel(suite, n)};
      for (const std::string& m : columns) {
        auto it = stats.find({m, suite});
        row.push_back(it == stats.end() ? "—" : cell(it->second));
      }
      rows.push_back(std::move(row));
    }
    return absl::StrCat("**", title, "**\n\n", MarkdownTable(header, rows), "\n");
  };
  auto spread = [](uint64_t p50, uint64_t p90, uint64_t max) {
    return absl::StrCat(p50, " / ", p90, " / ", max);
  };
  std::string out;
  out += table("Answer length, characters (p50 / p90 / max)", [&](const LengthStats& s) {
    return spread(s.chars_p50, s.chars_p90, s.chars_max);
  });
  out += table("Answer length, tokens (p50 / p90 / max)", [&](const LengthStats& s) {
    return spread(s.tokens_p50, s.tokens_p90, s.tokens_max);
  });
  out += table("Budget saturation", [](const LengthStats& s) {
    const uint64_t answered = s.n - s.server_errors;
    return absl::StrFormat("%d / %d (%.1f%%)", s.saturated, answered,
                           answered ? 100.0 * s.saturated / answered : 0.0);
  });
  out += table("Saturated and failed", [](const LengthStats& s) {
    if (s.saturated == 0) return std::string("0 / 0");
    return absl::StrFormat("%d / %d (%.0f%%)", s.saturated_and_failed, s.saturated,
                           100.0 * s.saturated_and_failed / s.saturated);
  });
  out += table("Mean tokens, passes / failures", [](const LengthStats& s) {
    return absl::StrCat(s.passes ? absl::StrFormat("%.0f", s.mean_tokens_pass) : "—", " / ",
                        s.failures ? absl::StrFormat("%.0f", s.mean_tokens_fail) : "—");
  });
  out += absl::StrCat(
      "Characters: answer and reasoning text together. Tokens: the server's count of the "
      "completion, reasoning included. pXX: nearest rank. Saturated: the output reached the "
      "thinking budget (",
      saturation_tokens,
      " tokens or more) or was cut by the token limit; shown of the answered problems. "
      "Saturated and failed: of the saturated outputs, those that did not pass. Server "
      "errors are left out of every length table.\n");
  return out;
}

}  // namespace cohort::client::report
