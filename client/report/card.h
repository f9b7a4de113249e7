// File: card.h
//
// The report as a model card prints it (`cohort report --style card`,
// `cohort lengths --style card`): Markdown tables laid out like the seed
// card's, paste-ready, each followed by the definitions it uses.
//
//   Scoreboard  one row per bench in protocol order (ARC, GPQA, GSM8K,
//               MATH-500, AIME, IFEval, HumanEval, HumanEval+, LCB,
//               MultiPL-E rs/java/js; other suites after, as found),
//               labelled like the card ("GSM8K-100 flex", "ARC-Challenge
//               (1172)", "IFEval prompt_strict"); reference columns first;
//               accuracy with two decimals and a percent sign ("95.82%");
//               one Δ column per (model, reference) in points with a sign
//               ("+0.09").
//   Recipes     one row per variant: its class weights, one column per
//               class, then the experts kept per layer, every other recipe
//               parameter whose value differs between the variants, and
//               the quant type.
//   Lengths     one row per bench, one column per model: characters and
//               tokens as "p50 / p90 / max"; budget saturation as
//               "54 / 55 (98.2%)" (saturated of answered); saturated and
//               failed as "8 / 54 (15%)", a share of the SATURATED outputs,
//               as the card defines it; mean tokens of passes and failures
//               as "pass / fail".
// Pure functions of the report library's results.
#ifndef COHORT_CLIENT_REPORT_CARD_H_
#define COHORT_CLIENT_REPORT_CARD_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "client/report/report.h"
#include "nlohmann/json.hpp"

namespace cohort::client::report {

// The card's label of a suite with `n` problems: "GSM8K-100 flex".
std::string CardLabel(const std::string& suite, uint64_t n);
// The position of a suite in the protocol's bench order (smaller first).
int ProtocolRank(const std::string& suite);

std::string RenderCardScoreboard(const Scoreboard& board);

// One variant's recipe ({"dropmap": {...}, "upweight": {...}, ...}).
struct RecipeRow {
  std::string variant;
  nlohmann::json recipe;
};
// `classes`: the names of the class-weight columns (the recipe's
// dropmap.classes, else the contribution file's categories); empty: the
// weights are one column.
std::string RenderCardRecipes(const std::vector<RecipeRow>& rows,
                              const std::vector<std::string>& classes);
// `models`: the column order (the spec's variants, then its references).
std::string RenderCardLengths(
    const std::map<std::pair<std::string, std::string>, LengthStats>& stats,
    const std::vector<std::string>& models, uint64_t saturation_tokens);

}  // namespace cohort::client::report

#endif  // COHORT_CLIENT_REPORT_CARD_H_
