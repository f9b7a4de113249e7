// File: plots.h
//
// The report's pictures, as SVG text (pure: no I/O, no plotting library):
//
//   scoreboard.svg        accuracy per bench and model as bars, with the Δ
//                         against the first reference written beside each bar;
//   lengths-<bench>.svg   one lane per model, one dot per scored problem at
//                         its completion tokens (green passed, red failed),
//                         the p50 and p90 marks, the saturation line, and per
//                         lane the saturated and saturated-and-failed counts
//                         and the mean tokens of passes against failures.
//
// `cohort report --plots DIR` writes them for a model card (docs/cli.md); the
// dashboard serves the same text. Every name that reaches the SVG (models,
// benches) is escaped, so a hostile name cannot inject markup. Dots of one
// problem keep their place across runs (the vertical jitter is a hash of
// the problem id).
#ifndef COHORT_CLIENT_REPORT_PLOTS_H_
#define COHORT_CLIENT_REPORT_PLOTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/report/report.h"

namespace cohort::client::report {

struct PlotFile {
  std::string name;  // a file name: [A-Za-z0-9._-] only
  std::string svg;
};

// The scoreboard as bars (suites top to bottom, models within a suite).
std::string ScoreboardSvg(const Scoreboard& board);

// The length plot of one suite over `models` (those without rows on the
// suite are left out).
std::string LengthsSvg(const std::vector<Row>& rows, const std::string& suite,
                       const std::vector<std::string>& models, uint64_t saturation_tokens);

// scoreboard.svg, then lengths-<suite>.svg for each suite of the board.
std::vector<PlotFile> RenderPlots(const std::vector<Row>& rows, const Scoreboard& board,
                                  uint64_t saturation_tokens);

// Escapes & < > " ' for XML text and attributes.
std::string XmlEscape(const std::string& text);

}  // namespace cohort::client::report

#endif  // COHORT_CLIENT_REPORT_PLOTS_H_
