// SVG rendering of the scoreboard and the length analysis (see plots.h).
// Hand-written SVG 1.1: rect, line, circle, text, g; sizes in pixels; the
// fonts are the viewer's sans-serif.
#include "client/report/plots.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cohort::client::report {
namespace {

constexpr int kWidth = 760;
constexpr int kLeft = 170;   // model names
constexpr int kRight = 250;  // per-lane numbers
constexpr int kTop = 46;
constexpr int kBottom = 44;
constexpr int kLane = 34;
constexpr const char* kPass = "#2e7d32";
constexpr const char* kFail = "#c62828";
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#17becf"};

std::string Header(int width, int height, const std::string& title) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<title>%s</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">%s</text>\n",
      width, height, width, height, XmlEscape(title), 12, XmlEscape(title));
}

std::string Text(double x, double y, const std::string& text, const char* anchor = "start",
                 const char* extra = "") {
  return absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>%s</text>\n", x, y,
                         anchor, extra, XmlEscape(text));
}

std::string Line(double x1, double y1, double x2, double y2, const char* stroke,
                 const char* extra = "") {
  return absl::StrFormat(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"%s/>\n", x1, y1, x2, y2,
      stroke, extra);
}

// 1234567 -> "1,234,567".
std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A round axis step giving about five ticks up to `max`.
uint64_t TickStep(uint64_t max) {
  uint64_t step = 1;
  while (step * 5 < max) {
    for (uint64_t m : {2, 5, 10}) {
      if (step * m * 5 >= max || m == 10) {
        step *= m;
        break;
      }
    }
  }
  return step;
}

// A stable vertical offset in [-1, 1) for a problem's dot.
double Jitter(const std::string& problem_id) {
  uint64_t h = std::hash<std::string>{}(problem_id);
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 32;
  return static_cast<double>(h % 2000) / 1000.0 - 1.0;
}

std::string FileSafe(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.empty() || out[0] == '.' ? "_" + out : out;
}

using LengthTable = std::map<std::pair<std::string, std::string>, LengthStats>;

// One model's lane: the rows it draws (server errors have no length) and
// the numbers `cohort lengths` prints for it.
struct Lane {
  std::string model;
  std::vector<const Row*> rows;
  LengthStats stats;
};

std::vector<Lane> LanesOf(const std::vector<Row>& rows, const std::string& suite,
                          const std::vector<std::string>& models, const LengthTable& table) {
  // The rows by model in one pass: a pass per model was 4,000 x 10^5
  // string comparisons for a 4,000-variant sweep (3 s a plot).
  std::unordered_map<std::string_view, std::vector<const Row*>> by_model;
  for (const Row& row : rows) {
    if (row.suite == suite && row.verdict != Verdict::kUnscored &&
        row.verdict != Verdict::kError) {
      by_model[row.model].push_back(&row);
    }
  }
  std::vector<Lane> lanes;
  for (const std::string& model : models) {
    auto it = table.find({model, suite});
    if (it == table.end()) continue;  // no scored row of this model on the suite
    Lane lane{model, {}, it->second};
    if (auto rows_of = by_model.find(model); rows_of != by_model.end()) {
      lane.rows = rows_of->second;
    }
    lanes.push_back(std::move(lane));
  }
  return lanes;
}

std::string Axis(double x0, double x1, double y, uint64_t max_tokens) {
  std::string out = Line(x0, y, x1, y, "#444");
  uint64_t step = TickStep(max_tokens);
  for (uint64_t t = 0; t <= max_tokens; t += step) {
    double x = x0 + (x1 - x0) * static_cast<double>(t) / static_cast<double>(max_tokens);
    absl::StrAppend(&out, Line(x, y, x, y + 5, "#444"), Text(x, y + 18, Thousands(t), "middle"));
  }
  absl::StrAppend(&out, Text((x0 + x1) / 2, y + 34, "completion tokens (reasoning included)",
                             "middle"));
  return out;
}

std::string LaneSvg(const Lane& lane, double y, double x0, double x1, uint64_t max_tokens) {
  auto x_of = [&](uint64_t t) {
    return x0 + (x1 - x0) * static_cast<double>(std::min(t, max_tokens)) /
                    static_cast<double>(max_tokens);
  };
  std::string out = Text(kLeft - 8, y + 4, lane.model, "end");
  absl::StrAppend(&out, Line(x0, y, x1, y, "#eee"));
  for (const Row* row : lane.rows) {
    absl::StrAppend(&out, absl::StrFormat(
        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\" fill-opacity=\"0.6\"/>\n",
        x_of(row->completion_tokens), y + 10 * Jitter(row->problem_id),
        row->verdict == Verdict::kPass ? kPass : kFail));
  }
  const LengthStats& s = lane.stats;
  for (auto [label, tokens] : {std::pair{"p50", s.tokens_p50}, std::pair{"p90", s.tokens_p90}}) {
    double x = x_of(tokens);
    absl::StrAppend(&out, Line(x, y - 13, x, y + 13, "#111", " stroke-width=\"2\""),
                    Text(x, y - 15, label, "middle", " font-size=\"9\""));
  }
  std::string stats =
      absl::StrFormat("p50 %s · p90 %s · sat %d (%d failed)", Thousands(s.tokens_p50),
                      Thousands(s.tokens_p90), s.saturated, s.saturated_and_failed);
  std::string means = absl::StrFormat(
      "mean pass %s · fail %s%s", s.passes ? Thousands(std::llround(s.mean_tokens_pass)) : "-",
      s.failures ? Thousands(std::llround(s.mean_tokens_fail)) : "-",
      s.server_errors ? absl::StrCat(" · ", s.server_errors, " server errors") : "");
  absl::StrAppend(&out, Text(x1 + 10, y - 2, stats, "start", " font-size=\"10\""),
                  Text(x1 + 10, y + 11, means, "start", " font-size=\"10\""));
  return out;
}

std::string Legend(double x, double y) {
  return absl::StrCat(
      absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x, y - 4, kPass),
      Text(x + 8, y, "passed"),
      absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x + 70, y - 4,
                      kFail),
      Text(x + 78, y, "failed"));
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even escaped.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {

std::string LengthsSvgOf(const std::vector<Row>& rows, const std::string& suite,
                         const std::vector<std::string>& models, uint64_t saturation_tokens,
                         const LengthTable& table) {
  std::vector<Lane> lanes = LanesOf(rows, suite, models, table);
  uint64_t max_tokens = std::max<uint64_t>(saturation_tokens, 1);
  for (const Lane& lane : lanes) {
    for (const Row* row : lane.rows) max_tokens = std::max(max_tokens, row->completion_tokens);
  }
  max_tokens = (max_tokens / TickStep(max_tokens) + 1) * TickStep(max_tokens);
  int height = kTop + kLane * static_cast<int>(std::max<size_t>(lanes.size(), 1)) + kBottom + 10;
  double x0 = kLeft;
  double x1 = kWidth - kRight;
  std::string out = Header(kWidth, height, absl::StrCat(suite, ": completion tokens per problem"));
  absl::StrAppend(&out, Legend(kWidth - 150, 24));
  for (size_t i = 0; i < lanes.size(); ++i) {
    absl::StrAppend(&out, LaneSvg(lanes[i], kTop + 14 + kLane * static_cast<double>(i), x0, x1,
                                  max_tokens));
  }
  double axis_y = kTop + kLane * static_cast<double>(std::max<size_t>(lanes.size(), 1));
  double sat_x = x0 + (x1 - x0) * static_cast<double>(saturation_tokens) /
                          static_cast<double>(max_tokens);
  absl::StrAppend(&out,
                  Line(sat_x, kTop - 4, sat_x, axis_y, kFail, " stroke-dasharray=\"5,4\""),
                  Text(sat_x - 4, axis_y - 4,
                       absl::StrCat("saturation ", Thousands(saturation_tokens)), "end",
                       " font-size=\"10\" fill=\"#c62828\""),
                  Axis(x0, x1, axis_y, max_tokens), "</svg>\n");
  return out;
}

}  // namespace

std::string LengthsSvg(const std::vector<Row>& rows, const std::string& suite,
                       const std::vector<std::string>& models, uint64_t saturation_tokens) {
  return LengthsSvgOf(rows, suite, models, saturation_tokens,
                      BuildLengths(rows, saturation_tokens));
}

std::string ScoreboardSvg(const Scoreboard& board) {
  const int bar = 16;
  const int group_gap = 14;
  int bars = 0;
  for (const std::string& suite : board.suites) {
    for (const std::string& model : board.models) bars += board.Find(suite, model) ? 1 : 0;
  }
  const int header = 20;  // the suite's name, on a line of its own
  int height = kTop + bars * (bar + 4) +
               static_cast<int>(board.suites.size()) * (group_gap + header) + 40;
  double x0 = kLeft;
  double x1 = kWidth - 110;
  std::string out = Header(kWidth, height, "Accuracy per bench");
  std::string reference = board.references.empty() ? "" : board.references.front();
  double y = kTop;
  for (const std::string& suite : board.suites) {
    absl::StrAppend(&out, Text(12, y + 12, suite, "start", " font-weight=\"bold\""));
    y += header;
    for (size_t m = 0; m < board.models.size(); ++m) {
      const Cell* cell = board.Find(suite, board.models[m]);
      if (cell == nullptr) continue;
      double w = (x1 - x0) * cell->accuracy();
      absl::StrAppend(
          &out, Text(x0 - 8, y + bar - 4, board.models[m], "end", " font-size=\"11\""),
          absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
                          x0, y, w, bar, kPalette[m % std::size(kPalette)]));
      std::string label = absl::StrFormat("%.1f%% (n=%d)", 100 * cell->accuracy(), cell->n);
      if (std::optional<double> d = board.Delta(suite, board.models[m], reference);
          d.has_value() && board.models[m] != reference) {
        absl::StrAppend(&label, absl::StrFormat("  Δ %+.1f", *d));
      }
      absl::StrAppend(&out, Text(x0 + w + 6, y + bar - 4, label, "start", " font-size=\"11\""));
      y += bar + 4;
    }
    y += group_gap;
  }
  absl::StrAppend(&out, Line(x0, kTop - 6, x0, y, "#444"),
                  Text(x0, y + 14, reference.empty() ? "accuracy"
                                                     : absl::StrCat("accuracy; Δ in points against ",
                                                                    reference),
                       "start", " font-size=\"11\""),
                  "</svg>\n");
  return out;
}

std::vector<PlotFile> RenderPlots(const std::vector<Row>& rows, const Scoreboard& board,
                                  uint64_t saturation_tokens) {
  std::vector<PlotFile> files = {{"scoreboard.svg", ScoreboardSvg(board)}};
  const LengthTable table = BuildLengths(rows, saturation_tokens);
  std::set<std::string> taken = {"scoreboard.svg"};
  for (const std::string& suite : board.suites) {
    std::string name = absl::StrCat("lengths-", FileSafe(suite), ".svg");
    for (int i = 2; taken.count(name) > 0; ++i) {
      name = absl::StrCat("lengths-", FileSafe(suite), "-", i, ".svg");
    }
    taken.insert(name);
    files.push_back(
        {name, LengthsSvgOf(rows, suite, board.models, saturation_tokens, table)});
  }
  return files;
}

}  // namespace cohort::client::report
