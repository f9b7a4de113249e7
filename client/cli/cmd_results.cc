// report, lengths, compare, export: results of score steps, put
// under model and suite names through the campaign's re-expanded spec.
#include <cstdio>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/rpc.h"
#include "client/report/card.h"
#include "client/report/render.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

absl::StatusOr<report::Format> ParseFormat(const std::string& f) {
  if (f == "md" || f == "markdown") return report::Format::kMarkdown;
  if (f == "csv") return report::Format::kCsv;
  if (f == "json") return report::Format::kJson;
  return absl::InvalidArgumentError("--format: expected md, csv or json, not '" + f + "'");
}

struct Loaded {
  CampaignModel model;
  std::vector<report::Row> rows;
  std::vector<std::string> model_order;
  std::vector<std::string> references;
};

// Rows of the campaign, plus rows of references that name earlier campaigns
// (relabelled with the reference's name).
absl::StatusOr<Loaded> Load(const GlobalOptions& g, const ResultsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  Loaded out;
  COHORT_ASSIGN_OR_RETURN(out.model, LoadCampaign(*conn, o.campaign_id));
  if (!out.model.spec) {
    return absl::FailedPreconditionError("campaign " + o.campaign_id +
                                         " was not submitted from a cohort spec");
  }
  COHORT_ASSIGN_OR_RETURN(out.rows, LoadRows(*conn, out.model));
  for (const Variant& v : out.model.spec->variants) out.model_order.push_back(v.name);
  for (const Reference& r : out.model.spec->references) {
    out.model_order.push_back(r.name);
    if (r.campaign.empty()) continue;
    COHORT_ASSIGN_OR_RETURN(CampaignModel earlier, LoadCampaign(*conn, r.campaign));
    COHORT_ASSIGN_OR_RETURN(std::vector<report::Row> rows, LoadRows(*conn, earlier));
    for (report::Row& row : rows) {
      if (row.model != r.model) continue;
      row.model = r.name;
      out.rows.push_back(std::move(row));
    }
  }
  out.references = o.references;
  if (out.references.empty()) {
    for (const Reference& r : out.model.spec->references) out.references.push_back(r.name);
  }
  for (const std::string& ref : out.references) {
    if (std::find(out.model_order.begin(), out.model_order.end(), ref) ==
        out.model_order.end()) {
      return absl::InvalidArgumentError("--ref: '" + ref + "' is not a model of campaign " +
                                        o.campaign_id);
    }
  }
  return out;
}

absl::Status Report(const GlobalOptions& g, const ResultsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(report::Format format, ParseFormat(o.format));
  COHORT_ASSIGN_OR_RETURN(Loaded l, Load(g, o));
  report::Scoreboard board = report::BuildScoreboard(l.rows, l.model_order, l.references);
  if (o.style == "card") return Emit(o.out, report::RenderCardScoreboard(board));
  return Emit(o.out, report::RenderScoreboard(board, format));
}

absl::Status Lengths(const GlobalOptions& g, const ResultsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(report::Format format, ParseFormat(o.format));
  COHORT_ASSIGN_OR_RETURN(Loaded l, Load(g, o));
  auto stats = report::BuildLengths(l.rows, o.saturation_tokens);
  if (o.style == "card") {
    return Emit(o.out, report::RenderCardLengths(stats, l.model_order, o.saturation_tokens));
  }
  return Emit(o.out, report::RenderLengths(stats, format));
}

absl::Status Compare(const GlobalOptions& g, const ResultsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(report::Format format, ParseFormat(o.format));
  COHORT_ASSIGN_OR_RETURN(Loaded l, Load(g, o));
  for (const std::string& m : {o.model_a, o.model_b}) {
    if (std::find(l.model_order.begin(), l.model_order.end(), m) == l.model_order.end()) {
      return absl::InvalidArgumentError("'" + m + "' is not a model of campaign " +
                                        o.campaign_id);
    }
  }
  auto flips = report::Compare(l.rows, o.model_a, o.model_b);
  return Emit(o.out, report::RenderCompare(flips, o.model_a, o.model_b, format,
                                           o.list_problems));
}

std::string SafeName(std::string s) {
  for (char& c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      c = '_';
    }
  }
  return s;
}

// --model and --suite name something the campaign has (a typo exported
// nothing and exited 0). kNotFound listing what there is.
absl::Status CheckNamed(const std::vector<report::Row>& rows, const ResultsOptions& o) {
  std::set<std::string> models, suites;
  for (const report::Row& row : rows) {
    models.insert(row.model);
    suites.insert(row.suite);
  }
  if (!o.model.empty() && models.count(o.model) == 0) {
    return absl::NotFoundError(absl::StrCat("no model '", o.model, "' in the results (models: ",
                                            absl::StrJoin(models, ", "), ")"));
  }
  if (!o.suite.empty() && suites.count(o.suite) == 0) {
    return absl::NotFoundError(absl::StrCat("no suite '", o.suite, "' in the results (suites: ",
                                            absl::StrJoin(suites, ", "), ")"));
  }
  return absl::OkStatus();
}

// One samples_<suite>_<model>.jsonl per (model, suite), each written
// atomically into an existing or new folder.
absl::Status Export(const GlobalOptions& g, const ResultsOptions& o) {
  if (o.out.empty()) return absl::InvalidArgumentError("export needs --out DIR");
  COHORT_ASSIGN_OR_RETURN(Loaded l, Load(g, o));
  COHORT_RETURN_IF_ERROR(CheckNamed(l.rows, o));
  std::map<std::pair<std::string, std::string>, std::vector<report::Row>> groups;
  for (report::Row& row : l.rows) {
    if (!o.model.empty() && row.model != o.model) continue;
    if (!o.suite.empty() && row.suite != o.suite) continue;
    groups[{row.model, row.suite}].push_back(std::move(row));
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec) return absl::InvalidArgumentError("--out " + o.out + ": " + ec.message());
  for (const auto& [key, rows] : groups) {
    std::string path = absl::StrCat(o.out, "/samples_", SafeName(key.second), "_",
                                    SafeName(key.first), ".jsonl");
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(path, report::RenderSamplesJsonl(rows)));
    std::printf("%s (%zu samples)\n", path.c_str(), rows.size());
  }
  if (groups.empty()) std::fprintf(stderr, "cohort: no scored results to export\n");
  return absl::OkStatus();
}

}  // namespace

int RunReport(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Report(g, o)); }
int RunLengths(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Lengths(g, o)); }
int RunCompare(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Compare(g, o)); }
int RunExport(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Export(g, o)); }

}  // namespace cohort::client
