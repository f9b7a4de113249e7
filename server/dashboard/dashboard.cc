#include "server/dashboard/dashboard.h"

#include <algorithm>
#include <list>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/report/plots.h"
#include "client/report/render.h"
#include "cohort/v1/types.pb.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"
#include "server/dashboard/assets.h"
#include "server/dashboard/http_request.h"
#include "server/dashboard/views.h"
#include "spdlog/spdlog.h"

namespace cohort::server::dashboard {
namespace {

using nlohmann::json;
namespace report = client::report;
using internal::CampaignNames;

constexpr char kCookieName[] = "cohort_token";
constexpr size_t kMaxListedCampaigns = 200;
// Running and failed steps listed on a campaign's page (the grid counts all).
constexpr int64_t kMaxListed = 500;

// No inline script or style, nothing from elsewhere: a name or completion
// that slipped past escaping still could not run.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// The JSON `cohort report/lengths/compare --format json` prints: the page
// and the CLI read one rendering.
HttpResponse RenderedJson(std::string text) {
  HttpResponse r;
  r.body = std::move(text);
  return r;
}

HttpResponse JsonResponse(const json& body) {
  HttpResponse r;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string CookieValue(const std::string& header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

std::string SessionCookie(const std::string& token, bool tls, bool clear) {
  return absl::StrCat(kCookieName, "=", clear ? "" : token,
                      "; Path=/; HttpOnly; SameSite=Strict", tls ? "; Secure" : "",
                      clear ? "; Max-Age=0" : "");
}

// The path's parts: "/api/campaigns/ID/lengths" -> {api, campaigns, ID, lengths}.
std::vector<std::string> PathParts(const std::string& path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

}  // namespace

HttpResponse Dashboard::ErrorResponse(const absl::Status& status) {
  HttpResponse r = JsonResponse({{"error", std::string(status.message())}});
  r.status = HttpStatusOf(status.code());
  return r;
}

struct Dashboard::Impl {
  Impl(Coordinator& c, Clock& k, DashboardOptions o)
      : coordinator(c), clock(k), options(std::move(o)) {}

  Coordinator& coordinator;
  Clock& clock;
  const DashboardOptions options;

  // Expanded specs of recently viewed campaigns, newest first: a campaign's
  // nodes and steps never change once submitted, and expanding a 10^5-step
  // spec costs more than the page's queries.
  absl::Mutex mu;
  std::list<std::pair<std::string, std::shared_ptr<const CampaignNames>>> names
      ABSL_GUARDED_BY(mu);

  absl::StatusOr<Coordinator::Caller> Authenticate(const HttpRequest& request) {
    std::string token = BearerToken(request.authorization);
    if (token.empty()) token = CookieValue(request.cookie, kCookieName);
    if (token.empty()) return absl::UnauthenticatedError("sign in with a client token");
    COHORT_ASSIGN_OR_RETURN(Coordinator::Caller caller, coordinator.Identify(token));
    if (caller.role != "client" && caller.role != "admin") {
      return absl::PermissionDeniedError(
          absl::StrCat("a ", caller.role, " token may not read the dashboard"));
    }
    return caller;
  }

  // The campaign's names, cached: from the labels its client gave the steps
  // and the spec's outline, or, for a campaign without labels, from its
  // expanded spec (whose labels are then stored).
  absl::StatusOr<std::shared_ptr<const CampaignNames>> Names(const std::string& id) {
    {
      absl::MutexLock lock(&mu);
      for (auto it = names.begin(); it != names.end(); ++it) {
        if (it->first != id) continue;
        names.splice(names.begin(), names, it);
        return names.front().second;
      }
    }
    COHORT_ASSIGN_OR_RETURN(CampaignRecord campaign, coordinator.GetCampaign(id));
    COHORT_ASSIGN_OR_RETURN(int64_t unlabelled, coordinator.UnlabelledSteps(id));
    if (unlabelled > 0) {
      COHORT_ASSIGN_OR_RETURN(CampaignNames expanded, ExpandedNames(campaign));
      const std::vector<StepLabel> labels = internal::LabelsToStore(expanded);
      expanded.model_of_step.clear();  // stored now; the cache keeps names only
      if (absl::Status stored = coordinator.LabelSteps(id, labels); !stored.ok()) {
        spdlog::warn("dashboard: storing the labels of campaign {}: {}", id, stored.ToString());
      }
      return Remember(id, std::make_shared<const CampaignNames>(std::move(expanded)));
    }
    absl::StatusOr<client::SpecOutline> outline = client::ReadSpecOutline(campaign.spec_json);
    if (!outline.ok()) {  // not a cohort spec: steps without model names
      return Remember(id, std::make_shared<const CampaignNames>());
    }
    COHORT_ASSIGN_OR_RETURN(std::vector<StepLabel> score, coordinator.CampaignScoreLabels(id));
    return Remember(id, std::make_shared<const CampaignNames>(
                            internal::NameFromStoredLabels(*outline, score)));
  }

  // Names of a campaign whose client sent no labels (an older CLI): its
  // spec expanded and matched to its steps.
  absl::StatusOr<CampaignNames> ExpandedNames(const CampaignRecord& campaign) {
    COHORT_ASSIGN_OR_RETURN(std::vector<StepRecord> steps,
                            coordinator.CampaignStepStates(campaign.id));
    std::optional<client::CampaignLabels> labels =
        client::LabelCampaign(campaign.spec_json, StepViews(steps));
    if (labels && labels->unmatched_nodes > 0) {
      // Nodes that share a step: matching them needs the steps' params and
      // inputs, which the light view leaves out.
      COHORT_ASSIGN_OR_RETURN(steps, coordinator.CampaignSteps(campaign.id));
      labels = client::LabelCampaign(campaign.spec_json, StepViews(steps));
    }
    return internal::NameCampaign(std::move(labels));
  }

  std::shared_ptr<const CampaignNames> Remember(const std::string& id,
                                                std::shared_ptr<const CampaignNames> named) {
    absl::MutexLock lock(&mu);
    names.emplace_front(id, named);
    while (names.size() > std::max<size_t>(1, options.cached_campaigns)) names.pop_back();
    return named;
  }

  static std::vector<client::StepView> StepViews(const std::vector<StepRecord>& steps) {
    std::vector<client::StepView> views;
    views.reserve(steps.size());
    for (const StepRecord& s : steps) {
      client::StepView v;
      v.key = s.key;
      v.kind = std::string(StepKindName(s.kind));
      v.params_json = s.params_json;
      for (const StepInput& in : s.inputs) {
        if (!in.artifact_digest.empty()) v.digest_inputs.emplace_back(in.name, in.artifact_digest);
        if (!in.source_step_key.empty()) v.depends_on.push_back(in.source_step_key);
      }
      v.node_id = s.node_id;
      views.push_back(std::move(v));
    }
    return views;
  }

  // The campaign's access check, then its names.
  absl::StatusOr<std::shared_ptr<const CampaignNames>> OpenCampaign(
      const Coordinator::Caller& caller, const std::string& id) {
    COHORT_RETURN_IF_ERROR(coordinator.CheckCampaignAccess(caller, id));
    return Names(id);
  }

  HttpResponse Route(const HttpRequest& request);
  absl::StatusOr<HttpResponse> Api(const Coordinator::Caller& caller,
                                   const std::vector<std::string>& parts,
                                   const std::map<std::string, std::string>& query);
  absl::StatusOr<HttpResponse> CampaignApi(const Coordinator::Caller& caller,
                                           const std::string& id, const std::string& view,
                                           const std::vector<std::string>& parts,
                                           const std::map<std::string, std::string>& query);
  absl::StatusOr<json> Campaigns(const Coordinator::Caller& caller);
  absl::StatusOr<json> Campaign(const std::string& id);
  absl::StatusOr<report::Scoreboard> Board(const Coordinator::Caller& caller,
                                           const std::string& id, const CampaignNames& names,
                                           const std::vector<std::string>& references);
  absl::StatusOr<std::vector<report::Row>> Rows(const Coordinator::Caller& caller,
                                                const CampaignNames& names,
                                                const std::string& suite,
                                                const std::vector<std::string>& models);
  absl::StatusOr<json> Problem(const CampaignNames& names, const std::string& suite,
                               const std::string& problem,
                               const std::vector<std::string>& models);
  HttpResponse Login(const HttpRequest& request);
};

Dashboard::Dashboard(Coordinator& coordinator, Clock& clock, DashboardOptions options)
    : impl_(std::make_unique<Impl>(coordinator, clock, std::move(options))) {}

Dashboard::~Dashboard() = default;

HttpResponse Dashboard::Handle(const HttpRequest& request) {
  HttpResponse response = impl_->Route(request);
  response.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse Dashboard::Impl::Route(const HttpRequest& request) {
  std::vector<std::string> parts = PathParts(request.path);
  if (request.method == "POST") {
    if (request.path == "/login" || request.path == "/logout") {
      // A form on another site may not sign the browser in or out.
      if (!request.origin.empty() && request.origin != "http://" + request.host &&
          request.origin != "https://" + request.host) {
        return ErrorResponse(absl::PermissionDeniedError("cross-origin sign-in refused"));
      }
      if (request.path == "/logout") {
        HttpResponse r = JsonResponse({{"signed_out", true}});
        r.headers.emplace_back("Set-Cookie", SessionCookie("", request.tls, true));
        return r;
      }
      return Login(request);
    }
    HttpResponse r = ErrorResponse(absl::InvalidArgumentError("only GET here"));
    r.status = 405;
    return r;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = ErrorResponse(absl::InvalidArgumentError("only GET and POST /login"));
    r.status = 405;
    return r;
  }
  if (parts.empty() || (parts.size() == 2 && parts[0] == "static")) {
    std::optional<Asset> asset = FindAsset(parts.empty() ? "index.html" : parts[1]);
    if (!asset) return ErrorResponse(absl::NotFoundError("no such file"));
    HttpResponse r;
    r.content_type = asset->content_type;
    r.body = std::string(asset->body);
    return r;
  }
  if (parts[0] != "api") return ErrorResponse(absl::NotFoundError("no page " + request.path));
  absl::StatusOr<Coordinator::Caller> caller = Authenticate(request);
  if (!caller.ok()) return ErrorResponse(caller.status());
  absl::StatusOr<HttpResponse> r = Api(*caller, parts, ParseForm(request.query));
  return r.ok() ? *std::move(r) : ErrorResponse(r.status());
}

HttpResponse Dashboard::Impl::Login(const HttpRequest& request) {
  std::map<std::string, std::string> form = ParseForm(request.body);
  // The token goes back in a Set-Cookie header: printable ASCII only.
  for (char c : form["token"]) {
    if (c <= ' ' || c > '~' || c == ';' || c == ',') {
      return ErrorResponse(absl::UnauthenticatedError("not a cohort token"));
    }
  }
  HttpRequest as_bearer;
  as_bearer.authorization = "Bearer " + form["token"];
  absl::StatusOr<Coordinator::Caller> caller = Authenticate(as_bearer);
  if (!caller.ok()) return ErrorResponse(caller.status());
  HttpResponse r = JsonResponse({{"role", caller->role}, {"identity", caller->identity}});
  r.headers.emplace_back("Set-Cookie", SessionCookie(form["token"], request.tls, false));
  return r;
}

absl::StatusOr<HttpResponse> Dashboard::Impl::Api(
    const Coordinator::Caller& caller, const std::vector<std::string>& parts,
    const std::map<std::string, std::string>& query) {
  if (parts.size() == 2 && parts[1] == "whoami") {
    return JsonResponse({{"role", caller.role}, {"identity", caller.identity}});
  }
  if (parts.size() == 2 && parts[1] == "campaigns") {
    COHORT_ASSIGN_OR_RETURN(json body, Campaigns(caller));
    return JsonResponse(body);
  }
  if (parts.size() == 2 && parts[1] == "workers") {
    COHORT_ASSIGN_OR_RETURN(std::vector<WorkerRecord> workers, coordinator.ListWorkers());
    COHORT_ASSIGN_OR_RETURN(std::vector<StepRecord> leased, coordinator.LeasedSteps());
    const CoordinatorOptions& o = coordinator.options();
    return JsonResponse(internal::WorkersJson(workers, leased, clock.Now(), o.lease_duration,
                                              o.forget_workers_after));
  }
  if (parts.size() >= 3 && parts[1] == "campaigns") {
    return CampaignApi(caller, parts[2], parts.size() > 3 ? parts[3] : "", parts, query);
  }
  return absl::NotFoundError("no API " + absl::StrJoin(parts, "/"));
}

absl::StatusOr<HttpResponse> Dashboard::Impl::CampaignApi(
    const Coordinator::Caller& caller, const std::string& id, const std::string& view,
    const std::vector<std::string>& parts, const std::map<std::string, std::string>& query) {
  auto arg = [&query](const char* name) {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  };
  COHORT_RETURN_IF_ERROR(coordinator.CheckCampaignAccess(caller, id));
  if (view.empty() && parts.size() == 3) {
    COHORT_ASSIGN_OR_RETURN(json body, Campaign(id));
    return JsonResponse(body);
  }
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<const CampaignNames> names, Names(id));
  auto is_model = [&names](const std::string& m) {
    return std::find(names->models.begin(), names->models.end(), m) != names->models.end();
  };
  // ?ref=A,B: the Δ columns, as `cohort report --ref` (default: the spec's references).
  std::vector<std::string> references = names->references;
  if (query.count("ref") > 0) {
    references = absl::StrSplit(arg("ref"), ',', absl::SkipEmpty());
    for (const std::string& r : references) {
      if (!is_model(r)) return absl::NotFoundError("ref: '" + r + "' is not a model of " + id);
    }
  }
  if (view == "scoreboard" && parts.size() == 4) {
    COHORT_ASSIGN_OR_RETURN(report::Scoreboard board, Board(caller, id, *names, references));
    return RenderedJson(report::RenderScoreboard(board, report::Format::kJson));
  }
  if (view == "plots" && parts.size() == 5 && parts[4] == "scoreboard.svg") {
    COHORT_ASSIGN_OR_RETURN(report::Scoreboard board, Board(caller, id, *names, references));
    HttpResponse r;
    r.content_type = "image/svg+xml";
    r.body = report::ScoreboardSvg(board);
    return r;
  }
  const std::string suite = arg("suite");
  if ((view == "lengths" && parts.size() == 4) ||
      (view == "plots" && parts.size() == 5 && parts[4] == "lengths.svg")) {
    if (std::find(names->suites.begin(), names->suites.end(), suite) == names->suites.end()) {
      return absl::NotFoundError("campaign " + id + " has no suite '" + suite + "'");
    }
    COHORT_ASSIGN_OR_RETURN(std::vector<report::Row> rows,
                            Rows(caller, *names, suite, names->models));
    if (view == "lengths") {
      return RenderedJson(report::RenderLengths(report::BuildLengths(rows, options.saturation_tokens),
                                                report::Format::kJson));
    }
    HttpResponse r;
    r.content_type = "image/svg+xml";
    r.body = report::LengthsSvg(rows, suite, names->models, options.saturation_tokens);
    return r;
  }
  if (view == "compare" && parts.size() == 4) {
    const std::string a = arg("a"), b = arg("b");
    for (const std::string& m : {a, b}) {
      if (!is_model(m)) return absl::NotFoundError("'" + m + "' is not a model of campaign " + id);
    }
    std::vector<report::Row> rows;
    for (const std::string& s : names->suites) {
      COHORT_ASSIGN_OR_RETURN(std::vector<report::Row> suite_rows, Rows(caller, *names, s, {a, b}));
      rows.insert(rows.end(), suite_rows.begin(), suite_rows.end());
    }
    return RenderedJson(report::RenderCompare(report::Compare(rows, a, b), a, b,
                                              report::Format::kJson, /*list_problems=*/true));
  }
  if (view == "problem" && parts.size() == 4) {
    std::vector<std::string> models = absl::StrSplit(arg("models"), ',', absl::SkipEmpty());
    if (models.empty() || models.size() > 8) {
      return absl::InvalidArgumentError("models: one to eight model names, comma-separated");
    }
    COHORT_ASSIGN_OR_RETURN(json body, Problem(*names, suite, arg("problem"), models));
    return JsonResponse(body);
  }
  return absl::NotFoundError("no API " + absl::StrJoin(parts, "/"));
}

absl::StatusOr<json> Dashboard::Impl::Campaigns(const Coordinator::Caller& caller) {
  std::optional<std::string> owner;
  if (caller.role != "admin") owner = caller.identity;
  COHORT_ASSIGN_OR_RETURN(std::vector<CampaignRecord> campaigns,
                          coordinator.ListCampaigns(kMaxListedCampaigns, owner));
  json list = json::array();
  const absl::Time now = clock.Now();
  for (const CampaignRecord& c : campaigns) {
    COHORT_ASSIGN_OR_RETURN(CampaignTally tally, coordinator.TallyCampaign(c.id));
    list.push_back(internal::CampaignSummaryJson(c, tally, now));
  }
  return json{{"campaigns", std::move(list)}};
}

absl::StatusOr<json> Dashboard::Impl::Campaign(const std::string& id) {
  // Names first: for a campaign without labels they store them, and the
  // grid counts by label.
  COHORT_ASSIGN_OR_RETURN(std::shared_ptr<const CampaignNames> names, Names(id));
  COHORT_ASSIGN_OR_RETURN(CampaignRecord campaign, coordinator.GetCampaign(id));
  COHORT_ASSIGN_OR_RETURN(CampaignTally tally, coordinator.TallyCampaign(id));
  COHORT_ASSIGN_OR_RETURN(std::vector<GridCell> grid, coordinator.CampaignGrid(id));
  COHORT_ASSIGN_OR_RETURN(std::vector<StepRecord> running,
                          coordinator.CampaignStepsIn(id, StepState::kLeased, kMaxListed));
  COHORT_ASSIGN_OR_RETURN(std::vector<StepRecord> failures,
                          coordinator.CampaignStepsIn(id, StepState::kFailed, kMaxListed));
  json page = internal::CampaignDetailJson(campaign, tally, grid, running, failures, *names,
                                           clock.Now());
  page["saturation_tokens"] = options.saturation_tokens;
  return page;
}

// The verdict counts of every score step, then those of references that name
// an earlier campaign (which the caller must be allowed to read), under the
// reference's name.
absl::StatusOr<report::Scoreboard> Dashboard::Impl::Board(
    const Coordinator::Caller& caller, const std::string& id, const CampaignNames& names,
    const std::vector<std::string>& references) {
  report::Scoreboard board = report::EmptyScoreboard(names.models, references);
  // Suites in the spec's order, as the CLI's rows bring them.
  auto add = [&](const std::string& campaign, const CampaignNames& from,
                 const std::string& only_model, const std::string& as) -> absl::Status {
    COHORT_ASSIGN_OR_RETURN(auto tallies, coordinator.TallyScores(campaign));
    for (const auto& [model_suite, keys] : from.ScoreStepsInOrder()) {
      if (!only_model.empty() && model_suite.first != only_model) continue;
      const std::string& model = as.empty() ? model_suite.first : as;
      for (const std::string& key : keys) {
        auto tally = tallies.find(key);
        if (tally == tallies.end()) continue;
        for (const auto& [verdict, count] : tally->second.by_verdict) {
          if (verdict == static_cast<int>(report::Verdict::kError)) continue;
          report::Verdict v = verdict >= 0 && verdict <= 2 ? static_cast<report::Verdict>(verdict)
                                                           : report::Verdict::kFail;
          report::AddToScoreboard(&board, model_suite.second, model, v,
                                  static_cast<uint64_t>(count));
        }
        for (const std::string& body : tally->second.error_bodies) {
          v1::ProblemResult result;
          report::Row row;
          if (result.ParseFromString(body)) row.details_json = result.details_json();
          report::AddToScoreboard(&board, model_suite.second, model, report::Verdict::kError, 1,
                                  report::ErrorKind(row));
        }
      }
    }
    return absl::OkStatus();
  };
  COHORT_RETURN_IF_ERROR(add(id, names, "", ""));
  for (const client::Reference& r : names.earlier_references) {
    if (r.campaign == id) continue;
    COHORT_ASSIGN_OR_RETURN(std::shared_ptr<const CampaignNames> earlier,
                            OpenCampaign(caller, r.campaign));
    COHORT_RETURN_IF_ERROR(add(r.campaign, *earlier, r.model, r.name));
  }
  return board;
}

// The rows of `suite` for `models` (references from earlier campaigns
// included), without completions.
absl::StatusOr<std::vector<report::Row>> Dashboard::Impl::Rows(
    const Coordinator::Caller& caller, const CampaignNames& names, const std::string& suite,
    const std::vector<std::string>& models) {
  // Each step's stored rows under the name they are shown as; converted
  // once all are read, into a vector sized for them (growing it moved 10^5
  // rows several times: half the time of a suite's length table).
  std::vector<std::pair<std::string, std::vector<ResultRow>>> fetched;
  auto add = [&](const CampaignNames& from, const std::string& model,
                 const std::string& as) -> absl::Status {
    auto it = from.score_steps.find({model, suite});
    if (it == from.score_steps.end()) return absl::OkStatus();
    for (const std::string& key : it->second) {
      COHORT_ASSIGN_OR_RETURN(std::vector<ResultRow> stored, coordinator.ResultLengths(key));
      fetched.emplace_back(as, std::move(stored));
    }
    return absl::OkStatus();
  };
  for (const std::string& model : models) {
    const client::Reference* reference = nullptr;
    for (const client::Reference& r : names.earlier_references) {
      if (r.name == model) reference = &r;
    }
    if (reference == nullptr) {
      COHORT_RETURN_IF_ERROR(add(names, model, model));
      continue;
    }
    COHORT_ASSIGN_OR_RETURN(std::shared_ptr<const CampaignNames> earlier,
                            OpenCampaign(caller, reference->campaign));
    COHORT_RETURN_IF_ERROR(add(*earlier, reference->model, model));
  }
  size_t total = 0;
  for (const auto& [as, stored] : fetched) total += stored.size();
  std::vector<report::Row> rows;
  rows.reserve(total);
  for (const auto& [as, stored] : fetched) {
    for (const ResultRow& row : stored) {
      uint64_t reasoning_chars = row.reasoning_chars.value_or(0);
      if (!row.reasoning_chars) {  // stored before reasoning_chars had a column
        v1::ProblemResult old;
        if (old.ParseFromString(row.body)) reasoning_chars = old.reasoning_chars();
      }
      rows.push_back(internal::RowOf(row, reasoning_chars, as, suite));
    }
  }
  return rows;
}

absl::StatusOr<json> Dashboard::Impl::Problem(const CampaignNames& names,
                                              const std::string& suite,
                                              const std::string& problem,
                                              const std::vector<std::string>& models) {
  if (problem.empty()) return absl::InvalidArgumentError("problem: a problem id");
  json answers = json::array();
  for (const std::string& model : models) {
    auto it = names.score_steps.find({model, suite});
    if (it == names.score_steps.end()) {
      return absl::NotFoundError("no results of '" + model + "' on suite '" + suite + "'");
    }
    for (const std::string& key : it->second) {
      COHORT_ASSIGN_OR_RETURN(std::vector<StoredResult> stored, coordinator.Results(key, problem));
      for (const StoredResult& s : stored) {
        v1::ProblemResult r;
        if (!r.ParseFromString(s.row.body)) continue;
        answers.push_back({{"model", model},
                           {"sample", r.sample_index()},
                           {"verdict", s.row.verdict},
                           {"finish_reason", r.finish_reason()},
                           {"completion_tokens", r.completion_tokens()},
                           {"extracted_answer", r.extracted_answer()},
                           {"completion", r.completion()},
                           {"reasoning", r.reasoning()},
                           {"details", ParseJsonOrDiscarded(r.details_json())}});
      }
    }
  }
  return json{{"suite", suite}, {"problem", problem}, {"answers", std::move(answers)}};
}

absl::StatusOr<EventStream> Dashboard::OpenEvents(const HttpRequest& request,
                                                  const std::string& last_event_id) {
  COHORT_ASSIGN_OR_RETURN(Coordinator::Caller caller, impl_->Authenticate(request));
  EventStream stream;
  stream.campaign_id = ParseForm(request.query)["campaign"];
  if (stream.campaign_id.empty()) {
    if (caller.role != "admin") {
      return absl::PermissionDeniedError("every campaign's events need an admin token");
    }
  } else {
    COHORT_RETURN_IF_ERROR(impl_->coordinator.CheckCampaignAccess(caller, stream.campaign_id));
  }
  if (!last_event_id.empty() && absl::SimpleAtoi(last_event_id, &stream.cursor)) return stream;
  COHORT_ASSIGN_OR_RETURN(stream.cursor, impl_->coordinator.LastCursor());
  return stream;
}

absl::StatusOr<std::string> Dashboard::EventFrames(EventStream* stream, int limit) {
  COHORT_ASSIGN_OR_RETURN(std::vector<EventRecord> events,
                          impl_->coordinator.Events(stream->campaign_id, stream->cursor, limit));
  std::string frames;
  for (const EventRecord& e : events) {
    absl::StrAppend(&frames, "id: ", e.cursor, "\ndata: ",
                    internal::EventJson(e).dump(-1, ' ', false, json::error_handler_t::replace),
                    "\n\n");
    stream->cursor = e.cursor;
  }
  return frames;
}

}  // namespace cohort::server::dashboard
