// File: render.h
//
// Text forms of the report library's results: Markdown tables ready for a
// model card, CSV and JSON (the lm-eval export: lm_eval_export.h). Pure
// functions returning strings; the CLI decides where they go.
#ifndef COHORT_CLIENT_REPORT_RENDER_H_
#define COHORT_CLIENT_REPORT_RENDER_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "client/report/report.h"
#include "nlohmann/json.hpp"

namespace cohort::client::report {

enum class Format { kMarkdown, kCsv, kJson };

// A Markdown table: the first column left-aligned, the others right-aligned.
std::string MarkdownTable(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows);

// Accuracy in percent with one decimal; n per suite (a cell whose n differs
// from the row's shows it); one Δ column per model and reference.
std::string RenderScoreboard(const Scoreboard& board, Format format);
std::string RenderLengths(
    const std::map<std::pair<std::string, std::string>, LengthStats>& stats,
    Format format);
// The tier table (the seed's GGUF card): per quantized model its tier, size
// on disk, bits per weight and accuracy on each suite of `board`.
std::string RenderTiers(const std::vector<Tier>& tiers, const Scoreboard& board,
                        Format format);
std::string RenderCompare(const std::map<std::string, Flips>& flips,
                          const std::string& a, const std::string& b, Format format,
                          bool list_problems);

}  // namespace cohort::client::report

#endif  // COHORT_CLIENT_REPORT_RENDER_H_
