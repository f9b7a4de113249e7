// report, lengths, compare, export: results of score steps, put
// under model and suite names through the campaign's re-expanded spec.
#include <cstdio>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/rpc.h"
#include "client/report/card.h"
#include "client/report/lm_eval_export.h"
#include "client/report/plots.h"
#include "client/report/render.h"
#include "client/spec/check.h"
#include "common/atomic_file.h"
#include "common/subprocess.h"
#include "common/status_macros.h"
#include "worker/eval/profile.h"

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

// The class names of the weights: the recipe's dropmap.classes, else the
// contribution file's categories when it is readable here; empty otherwise.
std::vector<std::string> ClassNames(const Spec& spec) {
  for (const Variant& v : spec.variants) {
    const nlohmann::json& dm = v.recipe.contains("dropmap") ? v.recipe["dropmap"]
                                                            : nlohmann::json::object();
    if (dm.is_object() && dm.contains("classes") && dm["classes"].is_array()) {
      std::vector<std::string> names;
      for (const nlohmann::json& c : dm["classes"]) {
        if (c.is_string()) names.push_back(c.get<std::string>());
      }
      return names;
    }
  }
  if (spec.contrib.path.empty()) return {};
  absl::StatusOr<nlohmann::ordered_json> metadata = ReadContribMetadata(spec.contrib.path);
  if (!metadata.ok()) return {};
  absl::StatusOr<ContribShape> shape = ContribShapeOf(*metadata, spec.contrib.path);
  if (!shape.ok() || !shape->categories) return {};
  return *shape->categories;
}

// The plots into `dir` (created if missing), each file written atomically;
// with `png`, rsvg-convert renders a PNG beside each SVG.
absl::Status WritePlots(const std::string& dir, bool png, const std::vector<report::Row>& rows,
                        const report::Scoreboard& board, uint64_t saturation_tokens) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::FailedPreconditionError("--plots " + dir + ": " + ec.message());
  for (const report::PlotFile& f : report::RenderPlots(rows, board, saturation_tokens)) {
    std::string path = (std::filesystem::path(dir) / f.name).string();
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(path, f.svg));
    if (!png) continue;
    std::string png_path = path.substr(0, path.size() - 4) + ".png";
    std::string partial = png_path + ".partial";
    SubprocessOptions convert;
    convert.argv = {"rsvg-convert", "-f", "png", "-o", partial, path};
    convert.timeout = absl::Minutes(1);
    absl::StatusOr<SubprocessResult> r = RunSubprocess(convert);
    if (!r.ok() || !r->Succeeded()) {
      std::filesystem::remove(partial, ec);
      return absl::FailedPreconditionError(
          "--png: rsvg-convert (Debian librsvg2-bin) could not render " + path + ": " +
          (r.ok() ? r->Describe() : std::string(r.status().message())));
    }
    std::filesystem::rename(partial, png_path, ec);
    if (ec) return absl::InternalError("--png: " + png_path + ": " + ec.message());
  }
  return absl::OkStatus();
}

// The tier table's rows: what each variant's quantize step measured of its
// GGUF (Step.facts_json), in the spec's variant order.
std::vector<report::Tier> LoadTiers(const CampaignModel& model) {
  std::vector<report::Tier> tiers;
  for (const ModelNodes& m : model.graph.models) {
    auto node = m.artifacts.find("quantized");
    if (node == m.artifacts.end()) continue;
    auto key = model.node_to_key.find(node->second);
    if (key == model.node_to_key.end()) continue;
    const v1::Step* step = model.FindStep(key->second);
    if (step == nullptr) continue;
    if (std::optional<report::Tier> tier = report::TierFromFacts(m.name, step->facts_json())) {
      tiers.push_back(*tier);
    }
  }
  return tiers;
}

absl::Status Report(const GlobalOptions& g, const ResultsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(report::Format format, ParseFormat(o.format));
  COHORT_ASSIGN_OR_RETURN(Loaded l, Load(g, o));
  report::Scoreboard board = report::BuildScoreboard(l.rows, l.model_order, l.references);
  if (!o.plots_dir.empty()) {
    COHORT_RETURN_IF_ERROR(WritePlots(o.plots_dir, o.png, l.rows, board, o.saturation_tokens));
  } else if (o.png) {
    return absl::InvalidArgumentError("--png needs --plots DIR");
  }
  // Only the two layouts that show it read the quantize steps' facts.
  const std::vector<report::Tier> tiers =
      o.tiers || o.style == "card" ? LoadTiers(l.model) : std::vector<report::Tier>{};
  if (o.tiers) {
    if (tiers.empty()) {
      return absl::FailedPreconditionError(
          "campaign " + o.campaign_id + " has no quantized variant whose quantize step "
          "reported its size (none succeeded yet, or they ran before cohortd kept step facts)");
    }
    return Emit(o.out, report::RenderTiers(tiers, board, format));
  }
  if (o.style == "card") {
    // The recipes at a glance, then the scoreboard, then the tiers.
    std::vector<report::RecipeRow> recipes;
    for (const Variant& v : l.model.spec->variants) recipes.push_back({v.name, v.recipe});
    std::string text = report::RenderCardRecipes(recipes, ClassNames(*l.model.spec));
    if (!text.empty()) text += "\n";
    text += report::RenderCardScoreboard(board);
    if (!tiers.empty()) {
      text += "\nQuantized models: size on disk and bits per weight (tensor bytes x 8 / "
              "parameters, as llama.cpp counts them), with each bench's accuracy.\n\n" +
              report::RenderTiers(tiers, board, report::Format::kMarkdown);
    }
    return Emit(o.out, text);
  }
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

// The suites of the campaign's spec (the gate's probe included), each with
// its dataset and the profile's settings for its bench.
absl::StatusOr<std::map<std::string, report::LmEvalSuite>> ExportSuites(const Spec& spec) {
  COHORT_ASSIGN_OR_RETURN(worker::eval::Profile profile,
                          worker::eval::ParseProfile(spec.eval.profile.dump(),
                                                     "the campaign's profile"));
  std::vector<const Suite*> all;
  for (const Suite& s : spec.eval.suites) all.push_back(&s);
  if (spec.gate) all.push_back(&spec.gate->probe);
  std::map<std::string, report::LmEvalSuite> suites;
  for (const Suite* s : all) {
    const worker::eval::BenchSettings* settings = profile.Find(s->bench);
    if (settings == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "suite ", s->name, ": the campaign's profile has no bench '", s->bench, "'"));
    }
    report::LmEvalSuite suite;
    suite.bench = s->bench;
    suite.settings = *settings;
    suite.settings.fewshot_path = s->fewshot.path;
    suite.dataset_path = s->dataset.path;
    suite.dataset_digest = s->dataset.digest;
    suites.emplace(s->name, std::move(suite));
  }
  return suites;
}

// lm-eval's output folder layout: <out>/<model>/results_<date>.json and
// samples_<task>_<date>.jsonl, each file written atomically.
absl::Status Export(const GlobalOptions& g, const ResultsOptions& o) {
  if (o.out.empty()) return absl::InvalidArgumentError("export needs --out DIR");
  if (o.export_format != "lm-eval") {
    return absl::InvalidArgumentError("--format: expected lm-eval, not '" + o.export_format + "'");
  }
  COHORT_ASSIGN_OR_RETURN(Loaded l, Load(g, o));
  COHORT_RETURN_IF_ERROR(CheckNamed(l.rows, o));
  std::vector<report::Row> rows;
  for (report::Row& row : l.rows) {
    if (!o.model.empty() && row.model != o.model) continue;
    if (!o.suite.empty() && row.suite != o.suite) continue;
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    std::fprintf(stderr, "cohort: no scored results to export\n");
    return absl::OkStatus();
  }
  COHORT_ASSIGN_OR_RETURN(auto suites, ExportSuites(*l.model.spec));
  report::LmEvalRun run;
  run.campaign = o.campaign_id;
  run.profile_name = l.model.spec->eval.profile_name;
  absl::Time now = absl::Now();
  run.date = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  run.date_id = absl::FormatTime("%Y-%m-%dT%H-%M-%E6S", now, absl::LocalTimeZone());
  COHORT_ASSIGN_OR_RETURN(report::LmEvalExport exported,
                          report::BuildLmEvalExport(rows, suites, run));
  for (const std::string& warning : exported.warnings) {
    std::fprintf(stderr, "cohort: warning: %s\n", warning.c_str());
  }
  for (const report::ExportFile& file : exported.files) {
    std::filesystem::path path = std::filesystem::path(o.out) / file.relative_path;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return absl::InvalidArgumentError("--out " + o.out + ": " + ec.message());
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(path.string(), file.contents));
    std::printf("%s\n", path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int RunReport(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Report(g, o)); }
int RunLengths(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Lengths(g, o)); }
int RunCompare(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Compare(g, o)); }
int RunExport(const GlobalOptions& g, const ResultsOptions& o) { return ExitWith(Export(g, o)); }

}  // namespace cohort::client
