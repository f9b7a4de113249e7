#include "client/report/report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/canonical_json.h"
#include "nlohmann/json.hpp"

namespace cohort::client::report {
namespace {

bool Scored(const Row& r) { return r.verdict != Verdict::kUnscored; }

void AppendUnique(std::vector<std::string>* list, const std::string& v) {
  if (std::find(list->begin(), list->end(), v) == list->end()) list->push_back(v);
}

}  // namespace

std::string ErrorKind(const Row& row) {
  if (!row.details_json.empty()) {
    nlohmann::json details = ParseJsonOrDiscarded(row.details_json);
    if (details.is_object()) {
      auto it = details.find("error_kind");
      if (it != details.end() && it->is_string() && !it->get<std::string>().empty()) {
        return it->get<std::string>();
      }
    }
  }
  return "error";
}

const Cell* Scoreboard::Find(const std::string& suite, const std::string& model) const {
  auto s = cells.find(suite);
  if (s == cells.end()) return nullptr;
  auto m = s->second.find(model);
  return m == s->second.end() ? nullptr : &m->second;
}

std::optional<double> Scoreboard::Delta(const std::string& suite, const std::string& model,
                                        const std::string& reference) const {
  const Cell* a = Find(suite, model);
  const Cell* b = Find(suite, reference);
  if (a == nullptr || b == nullptr || a->n == 0 || b->n == 0) return std::nullopt;
  return 100.0 * (a->accuracy() - b->accuracy());
}

Scoreboard EmptyScoreboard(const std::vector<std::string>& model_order,
                           const std::vector<std::string>& references) {
  Scoreboard board;
  board.references = references;
  for (const std::string& m : model_order) {
    if (board.listed_models.insert(m).second) board.models.push_back(m);
  }
  for (const std::string& r : references) {
    if (board.listed_models.insert(r).second) board.models.push_back(r);
  }
  return board;
}

void AddToScoreboard(Scoreboard* board, const std::string& suite, const std::string& model,
                     Verdict verdict, uint64_t count, const std::string& error_kind) {
  if (verdict == Verdict::kUnscored || count == 0) return;
  auto [cell_it, new_cell] = board->cells[suite].try_emplace(model);
  if (new_cell) {
    AppendUnique(&board->suites, suite);
    if (board->listed_models.insert(model).second) board->models.push_back(model);
  }
  Cell& cell = cell_it->second;
  cell.n += count;
  cell.passed += verdict == Verdict::kPass ? count : 0;
  if (verdict == Verdict::kError) {
    cell.server_errors += count;
    cell.server_error_kinds[error_kind] += count;
  }
}

Scoreboard BuildScoreboard(const std::vector<Row>& rows,
                           const std::vector<std::string>& model_order,
                           const std::vector<std::string>& references) {
  Scoreboard board = EmptyScoreboard(model_order, references);
  for (const Row& row : rows) {
    AddToScoreboard(&board, row.suite, row.model, row.verdict, 1,
                    row.verdict == Verdict::kError ? ErrorKind(row) : "");
  }
  return board;
}

uint64_t Percentile(std::vector<uint64_t> values, double pct) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double rank = std::ceil(pct / 100.0 * static_cast<double>(values.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

bool Saturated(const Row& row, uint64_t saturation_tokens) {
  return row.finish_reason == "length" ||
         (saturation_tokens > 0 && row.completion_tokens >= saturation_tokens);
}

std::map<std::pair<std::string, std::string>, LengthStats> BuildLengths(
    const std::vector<Row>& rows, uint64_t saturation_tokens) {
  struct Acc {
    std::vector<uint64_t> chars, tokens;
    double pass_tokens = 0, fail_tokens = 0;
    LengthStats stats;
  };
  std::map<std::pair<std::string, std::string>, Acc> acc;
  for (const Row& row : rows) {
    if (!Scored(row)) continue;
    Acc& a = acc[{row.model, row.suite}];
    a.stats.n += 1;
    if (row.verdict == Verdict::kError) {  // no answer to measure
      a.stats.server_errors += 1;
      continue;
    }
    a.chars.push_back(row.completion_chars + row.reasoning_chars);
    a.tokens.push_back(row.completion_tokens);
    bool pass = row.verdict == Verdict::kPass;
    bool saturated = Saturated(row, saturation_tokens);
    a.stats.saturated += saturated ? 1 : 0;
    a.stats.saturated_and_failed += saturated && !pass ? 1 : 0;
    if (pass) {
      a.stats.passes += 1;
      a.pass_tokens += static_cast<double>(row.completion_tokens);
    } else {
      a.stats.failures += 1;
      a.fail_tokens += static_cast<double>(row.completion_tokens);
    }
  }
  std::map<std::pair<std::string, std::string>, LengthStats> out;
  for (auto& [key, a] : acc) {
    LengthStats s = a.stats;
    s.chars_p50 = Percentile(a.chars, 50);
    s.chars_p90 = Percentile(a.chars, 90);
    s.chars_max = Percentile(a.chars, 100);
    s.tokens_p50 = Percentile(a.tokens, 50);
    s.tokens_p90 = Percentile(a.tokens, 90);
    s.tokens_max = Percentile(a.tokens, 100);
    s.mean_tokens_pass = s.passes ? a.pass_tokens / static_cast<double>(s.passes) : 0;
    s.mean_tokens_fail = s.failures ? a.fail_tokens / static_cast<double>(s.failures) : 0;
    out[key] = s;
  }
  return out;
}

std::map<std::string, Flips> Compare(const std::vector<Row>& rows, const std::string& a,
                                     const std::string& b) {
  // suite -> problem -> (A passed?, B passed?)
  std::map<std::string, std::map<std::string, std::pair<std::optional<bool>,
                                                        std::optional<bool>>>> seen;
  for (const Row& row : rows) {
    if (!Scored(row) || row.sample != 0) continue;
    if (row.model != a && row.model != b) continue;
    auto& slot = seen[row.suite][row.problem_id];
    (row.model == a ? slot.first : slot.second) = row.verdict == Verdict::kPass;
  }
  std::map<std::string, Flips> out;
  for (const auto& [suite, problems] : seen) {
    Flips& f = out[suite];
    for (const auto& [id, pair] : problems) {
      if (!pair.first) { ++f.only_b; continue; }
      if (!pair.second) { ++f.only_a; continue; }
      bool pa = *pair.first, pb = *pair.second;
      if (pa && pb) ++f.both_pass;
      if (!pa && !pb) ++f.both_fail;
      if (pa && !pb) f.wins.push_back(id);
      if (!pa && pb) f.losses.push_back(id);
    }
  }
  return out;
}

std::optional<Tier> TierFromFacts(const std::string& model, const std::string& facts_json) {
  if (facts_json.empty()) return std::nullopt;
  const nlohmann::json facts = ParseJsonOrDiscarded(facts_json);
  if (!facts.is_object()) return std::nullopt;
  auto type = facts.find("type");
  auto bytes = facts.find("file_bytes");
  auto parameters = facts.find("parameters");
  auto bpw = facts.find("bits_per_weight");
  if (type == facts.end() || !type->is_string() || bytes == facts.end() ||
      !bytes->is_number_unsigned() || parameters == facts.end() ||
      !parameters->is_number_unsigned() || bpw == facts.end() || !bpw->is_number() ||
      !std::isfinite(bpw->get<double>())) {
    return std::nullopt;
  }
  Tier tier{model, type->get<std::string>(), bytes->get<uint64_t>(),
            parameters->get<uint64_t>(), bpw->get<double>()};
  if (auto rules = facts.find("tensor_rules"); rules != facts.end() && rules->is_number_integer()) {
    tier.tensor_rules = rules->get<int64_t>();
  }
  if (auto target = facts.find("quant_map_target_bpw");
      target != facts.end() && target->is_number() && std::isfinite(target->get<double>())) {
    tier.map_target_bpw = target->get<double>();
  }
  return tier;
}

std::string Tier::Label() const {
  if (map_target_bpw) return absl::StrFormat("%s + map %.2f", type, *map_target_bpw);
  if (tensor_rules > 0) {
    return absl::StrCat(type, " + ", tensor_rules, tensor_rules == 1 ? " rule" : " rules");
  }
  return type;
}

}  // namespace cohort::client::report
