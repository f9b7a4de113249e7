#include "client/report/render.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace cohort::client::report {
namespace {

using json = nlohmann::json;

std::string Pct(double v) { return absl::StrFormat("%.1f", 100.0 * v); }
std::string Pts(double v) { return absl::StrFormat("%+.1f", v); }

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvTable(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> lines;
  std::vector<std::string> h;
  for (const auto& c : header) h.push_back(CsvField(c));
  lines.push_back(absl::StrJoin(h, ","));
  for (const auto& row : rows) {
    std::vector<std::string> r;
    for (const auto& c : row) r.push_back(CsvField(c));
    lines.push_back(absl::StrJoin(r, ","));
  }
  return absl::StrJoin(lines, "\n") + "\n";
}

// Δ columns: every non-reference model against every reference.
std::vector<std::pair<std::string, std::string>> DeltaColumns(const Scoreboard& b) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& ref : b.references) {
    for (const std::string& m : b.models) {
      if (m != ref && std::find(b.references.begin(), b.references.end(), m) ==
                          b.references.end()) {
        out.emplace_back(m, ref);
      }
    }
  }
  return out;
}

std::string KindsText(const std::map<std::string, uint64_t>& kinds) {
  std::vector<std::string> parts;
  for (const auto& [kind, count] : kinds) parts.push_back(absl::StrCat(kind, " ", count));
  return absl::StrJoin(parts, ", ");
}

bool AnyServerErrors(const Scoreboard& board) {
  for (const auto& [suite, models] : board.cells) {
    for (const auto& [model, cell] : models) {
      if (cell.server_errors > 0) return true;
    }
  }
  return false;
}

// Markdown: one line per cell with server errors, below the table.
std::string ServerErrorNote(const Scoreboard& board) {
  std::string out;
  for (const std::string& suite : board.suites) {
    for (const std::string& m : board.models) {
      const Cell* c = board.Find(suite, m);
      if (c == nullptr || c->server_errors == 0) continue;
      absl::StrAppend(&out, "\nServer errors: ", suite, " / ", m, ": ", c->server_errors,
                      " of ", c->n, " (", KindsText(c->server_error_kinds),
                      "); in n, not wrong answers");
    }
  }
  return out.empty() ? out : out + "\n";
}

json ScoreboardJson(const Scoreboard& board) {
  json out = {{"models", board.models}, {"references", board.references},
              {"suites", json::array()}};
  for (const std::string& suite : board.suites) {
    json s = {{"suite", suite}, {"cells", json::object()}, {"delta", json::object()}};
    for (const std::string& m : board.models) {
      if (const Cell* c = board.Find(suite, m)) {
        s["cells"][m] = {{"n", c->n}, {"passed", c->passed}, {"accuracy", c->accuracy()}};
        if (c->server_errors > 0) {
          s["cells"][m]["server_errors"] = c->server_errors;
          s["cells"][m]["server_error_kinds"] = c->server_error_kinds;
        }
      }
    }
    for (const auto& [m, ref] : DeltaColumns(board)) {
      if (auto d = board.Delta(suite, m, ref)) s["delta"][m][ref] = *d;
    }
    out["suites"].push_back(s);
  }
  return out;
}

}  // namespace

std::string MarkdownTable(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows) {
  std::string out = "| " + absl::StrJoin(header, " | ") + " |\n|";
  for (size_t i = 0; i < header.size(); ++i) out += i == 0 ? "---|" : "---:|";
  out += "\n";
  for (const auto& row : rows) out += "| " + absl::StrJoin(row, " | ") + " |\n";
  return out;
}

std::string RenderScoreboard(const Scoreboard& board, Format format) {
  if (format == Format::kJson) return ScoreboardJson(board).dump(2) + "\n";
  if (format == Format::kCsv) {
    // The server_errors column appears only when some cell has one.
    bool errors = AnyServerErrors(board);
    std::vector<std::string> header = {"suite", "model", "n", "passed", "accuracy"};
    for (const std::string& ref : board.references) header.push_back("delta_vs_" + ref);
    if (errors) header.push_back("server_errors");
    std::vector<std::vector<std::string>> rows;
    for (const std::string& suite : board.suites) {
      for (const std::string& m : board.models) {
        const Cell* c = board.Find(suite, m);
        if (c == nullptr) continue;
        std::vector<std::string> row = {suite, m, absl::StrCat(c->n),
                                        absl::StrCat(c->passed),
                                        absl::StrFormat("%.4f", c->accuracy())};
        for (const std::string& ref : board.references) {
          auto d = m == ref ? std::nullopt : board.Delta(suite, m, ref);
          row.push_back(d ? absl::StrFormat("%.1f", *d) : "");
        }
        if (errors) row.push_back(absl::StrCat(c->server_errors));
        rows.push_back(row);
      }
    }
    return CsvTable(header, rows);
  }
  std::vector<std::string> header = {"bench", "n"};
  for (const std::string& m : board.models) header.push_back(m);
  auto deltas = DeltaColumns(board);
  for (const auto& [m, ref] : deltas) header.push_back("Δ " + m + " vs " + ref);
  std::vector<std::vector<std::string>> rows;
  for (const std::string& suite : board.suites) {
    uint64_t n = 0;
    for (const std::string& m : board.models) {
      if (const Cell* c = board.Find(suite, m)) n = std::max(n, c->n);
    }
    std::vector<std::string> row = {suite, absl::StrCat(n)};
    for (const std::string& m : board.models) {
      const Cell* c = board.Find(suite, m);
      std::string cell = c == nullptr ? "—" : Pct(c->accuracy());
      if (c != nullptr && c->n != n) absl::StrAppend(&cell, " (n=", c->n, ")");
      row.push_back(cell);
    }
    for (const auto& [m, ref] : deltas) {
      auto d = board.Delta(suite, m, ref);
      row.push_back(d ? Pts(*d) : "—");
    }
    rows.push_back(row);
  }
  return MarkdownTable(header, rows) + ServerErrorNote(board);
}

std::string RenderLengths(
    const std::map<std::pair<std::string, std::string>, LengthStats>& stats,
    Format format) {
  if (format == Format::kJson) {
    json out = json::array();
    for (const auto& [key, s] : stats) {
      out.push_back({{"model", key.first}, {"suite", key.second}, {"n", s.n},
                     {"chars", {{"p50", s.chars_p50}, {"p90", s.chars_p90}, {"max", s.chars_max}}},
                     {"tokens", {{"p50", s.tokens_p50}, {"p90", s.tokens_p90}, {"max", s.tokens_max}}},
                     {"saturated", s.saturated},
                     {"saturated_and_failed", s.saturated_and_failed},
                     {"mean_tokens_pass", s.mean_tokens_pass},
                     {"mean_tokens_fail", s.mean_tokens_fail}});
      if (s.server_errors > 0) out.back()["server_errors"] = s.server_errors;
    }
    return out.dump(2) + "\n";
  }
  std::vector<std::string> header = {"model", "bench", "n", "chars p50", "chars p90",
                                     "chars max", "tok p50", "tok p90", "tok max",
                                     "saturated", "sat+failed (of sat.)", "mean tok pass",
                                     "mean tok fail"};
  bool errors = false;
  for (const auto& [key, s] : stats) errors = errors || s.server_errors > 0;
  if (errors && format == Format::kCsv) header.push_back("server errors");
  std::string note;
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, s] : stats) {
    if (s.server_errors > 0) {
      absl::StrAppend(&note, "\nServer errors: ", key.first, " / ", key.second, ": ",
                      s.server_errors, " of ", s.n,
                      "; not in the lengths, not counted as failures");
    }
    // Saturation is a share of the answered problems; saturated-and-failed
    // a share of the saturated ones (the card's definition).
    auto share = [](uint64_t k, uint64_t of) {
      return absl::StrFormat("%d (%.1f%%)", k, of ? 100.0 * k / of : 0.0);
    };
    rows.push_back({key.first, key.second, absl::StrCat(s.n), absl::StrCat(s.chars_p50),
                    absl::StrCat(s.chars_p90), absl::StrCat(s.chars_max),
                    absl::StrCat(s.tokens_p50), absl::StrCat(s.tokens_p90),
                    absl::StrCat(s.tokens_max), share(s.saturated, s.n - s.server_errors),
                    share(s.saturated_and_failed, s.saturated),
                    s.passes ? absl::StrFormat("%.0f", s.mean_tokens_pass) : "—",
                    s.failures ? absl::StrFormat("%.0f", s.mean_tokens_fail) : "—"});
    if (errors && format == Format::kCsv) rows.back().push_back(absl::StrCat(s.server_errors));
  }
  if (format == Format::kCsv) return CsvTable(header, rows);
  return MarkdownTable(header, rows) + (note.empty() ? note : note + "\n");
}

namespace {

// "21.9 GB", "412.5 MB", "97.0 KB": decimal units, as file managers and
// model cards give download sizes.
std::string HumanBytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) return absl::StrFormat("%.1f GB", b / 1e9);
  if (b >= 1e6) return absl::StrFormat("%.1f MB", b / 1e6);
  if (b >= 1e3) return absl::StrFormat("%.1f KB", b / 1e3);
  return absl::StrCat(bytes, " B");
}

}  // namespace

std::string RenderTiers(const std::vector<Tier>& tiers, const Scoreboard& board,
                        Format format) {
  if (format == Format::kJson) {
    json out = json::array();
    for (const Tier& t : tiers) {
      json accuracy = json::object();
      for (const std::string& suite : board.suites) {
        if (const Cell* c = board.Find(suite, t.model)) accuracy[suite] = c->accuracy();
      }
      json row = {{"model", t.model}, {"tier", t.type}, {"file_bytes", t.file_bytes},
                  {"parameters", t.parameters}, {"bits_per_weight", t.bits_per_weight},
                  {"tensor_rules", t.tensor_rules}, {"accuracy", accuracy}};
      if (t.map_target_bpw) row["quant_map_target_bpw"] = *t.map_target_bpw;
      out.push_back(std::move(row));
    }
    return out.dump(2) + "\n";
  }
  const bool csv = format == Format::kCsv;
  std::vector<std::string> header = {"model", "tier", csv ? "file_bytes" : "size",
                                     csv ? "bits_per_weight" : "BPW"};
  if (csv) header.insert(header.begin() + 3, "parameters");
  for (const std::string& suite : board.suites) header.push_back(suite);
  std::vector<std::vector<std::string>> rows;
  for (const Tier& t : tiers) {
    std::vector<std::string> row = {t.model, t.Label()};
    if (csv) {
      row.insert(row.end(), {absl::StrCat(t.file_bytes), absl::StrCat(t.parameters),
                             absl::StrFormat("%.4f", t.bits_per_weight)});
    } else {
      row.insert(row.end(), {HumanBytes(t.file_bytes), absl::StrFormat("%.2f", t.bits_per_weight)});
    }
    for (const std::string& suite : board.suites) {
      const Cell* c = board.Find(suite, t.model);
      if (c == nullptr) {
        row.push_back(csv ? "" : "—");
      } else {
        row.push_back(csv ? absl::StrFormat("%.4f", c->accuracy()) : Pct(c->accuracy()));
      }
    }
    rows.push_back(std::move(row));
  }
  return csv ? CsvTable(header, rows) : MarkdownTable(header, rows);
}

std::string RenderCompare(const std::map<std::string, Flips>& flips, const std::string& a,
                          const std::string& b, Format format, bool list_problems) {
  if (format == Format::kJson) {
    json out = json::object();
    for (const auto& [suite, f] : flips) {
      out[suite] = {{"wins", f.wins}, {"losses", f.losses}, {"both_pass", f.both_pass},
                    {"both_fail", f.both_fail}, {"only_a", f.only_a}, {"only_b", f.only_b}};
    }
    return json{{"a", a}, {"b", b}, {"suites", out}}.dump(2) + "\n";
  }
  std::vector<std::string> header = {"bench", "wins (" + a + " only)",
                                     "losses (" + b + " only)", "both pass", "both fail",
                                     "net"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& [suite, f] : flips) {
    long net = static_cast<long>(f.wins.size()) - static_cast<long>(f.losses.size());
    rows.push_back({suite, absl::StrCat(f.wins.size()), absl::StrCat(f.losses.size()),
                    absl::StrCat(f.both_pass), absl::StrCat(f.both_fail),
                    absl::StrFormat("%+d", net)});
  }
  std::string out = format == Format::kCsv ? CsvTable(header, rows) : MarkdownTable(header, rows);
  if (list_problems && format == Format::kMarkdown) {
    for (const auto& [suite, f] : flips) {
      if (!f.wins.empty()) absl::StrAppend(&out, "\n", suite, " wins: ", absl::StrJoin(f.wins, " "));
      if (!f.losses.empty()) {
        absl::StrAppend(&out, "\n", suite, " losses: ", absl::StrJoin(f.losses, " "));
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace cohort::client::report
