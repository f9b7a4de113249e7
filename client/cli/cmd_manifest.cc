// manifest, verify, reproduce: a finished campaign written as a cohort
// manifest (variants, lineage, pinned digests), and the manifest run again
// from scratch with every artifact compared with its pin.
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/cli/rpc.h"
#include "client/spec/manifest.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

absl::StatusOr<CampaignModel> LoadSpecCampaign(Connection& conn, const std::string& id) {
  COHORT_ASSIGN_OR_RETURN(CampaignModel model, LoadCampaign(conn, id));
  if (!model.spec) {
    return absl::FailedPreconditionError("campaign " + id +
                                         " was not submitted from a cohort spec");
  }
  return model;
}

// The nodes that make the variants' pinnable artifacts.
std::set<std::string> ArtifactNodes(const Graph& graph) {
  std::set<std::string> nodes;
  for (const ModelNodes& m : graph.models) {
    if (m.reference) continue;
    for (const auto& [artifact, node] : m.artifacts) nodes.insert(node);
  }
  return nodes;
}

absl::Status Manifest(const GlobalOptions& g, const ManifestOptions& o) {
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  COHORT_ASSIGN_OR_RETURN(CampaignModel model, LoadSpecCampaign(*conn, o.campaign_id));
  std::map<std::string, std::string> produced =
      ProducedDigests(model, ArtifactNodes(model.graph));
  std::map<std::string, PinnedDigests> pins;
  std::vector<std::string> missing;
  for (const ModelNodes& m : model.graph.models) {
    if (m.reference) continue;
    for (const std::string& artifact : PinnableArtifacts()) {
      auto node = m.artifacts.find(artifact);
      if (node == m.artifacts.end()) continue;
      auto digest = produced.find(node->second);
      if (digest == produced.end()) {
        missing.push_back(m.name + " " + artifact);
      } else {
        pins[m.name][artifact] = digest->second;
      }
    }
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "campaign ", o.campaign_id, " (", CampaignStateName(model.campaign.state()),
        ") has not produced ", absl::StrJoin(missing, ", "),
        "; a manifest pins finished artifacts only"));
  }
  std::vector<std::string> header = {
      absl::StrCat("cohort manifest of campaign ", o.campaign_id, " ('",
                   model.campaign.name(), "'), written by `cohort manifest`."),
      "Lineage: every variant's whole recipe, from base_model and contrib (path and digest);",
      "digests: what each artifact of the campaign hashed to.",
      "Reproduce (every step runs again, each digest is compared): cohort reproduce FILE"};
  return Emit(o.out, ToYaml(ManifestJson(*model.spec, pins), header));
}

// Prints the comparison table and summary; the status says whether every
// pinned artifact was produced and matches.
absl::Status ReportPins(const Spec& pins_from, const CampaignModel& model) {
  std::map<std::string, std::string> produced =
      ProducedDigests(model, ArtifactNodes(model.graph));
  COHORT_ASSIGN_OR_RETURN(std::vector<PinCheck> checks,
                          CheckPins(pins_from, model.graph, produced));
  int pinned = 0, matched = 0, pending = 0;
  std::vector<std::string> mismatched;
  std::printf("%-24s %-10s %-9s %s\n", "VARIANT", "ARTIFACT", "RESULT", "DIGEST");
  for (const PinCheck& c : checks) {
    std::printf("%-24s %-10s %-9s %s\n", c.variant.c_str(), c.artifact.c_str(),
                PinResultName(c.result).c_str(), c.produced.empty() ? "-" : c.produced.c_str());
    if (c.result == PinCheck::Result::kMismatch) {
      std::printf("%-24s %-10s %-9s %s\n", "", "", "pinned", c.pinned.c_str());
      mismatched.push_back(c.variant + " " + c.artifact);
    }
    pinned += !c.pinned.empty();
    matched += c.result == PinCheck::Result::kMatch;
    pending += !c.pinned.empty() && c.result == PinCheck::Result::kPending;
  }
  std::printf("%d of %d pinned artifacts match\n", matched, pinned);
  if (!mismatched.empty()) {
    return absl::DataLossError(absl::StrCat(mismatched.size(),
                                            " artifact(s) differ from their pinned digest: ",
                                            absl::StrJoin(mismatched, ", ")));
  }
  if (pending > 0) {
    return absl::UnavailableError(absl::StrCat(pending, " pinned artifact(s) not produced (yet)"));
  }
  return absl::OkStatus();
}

absl::Status Verify(const GlobalOptions& g, const VerifyOptions& o) {
  Spec pins_from;
  if (!o.manifest.empty()) {
    COHORT_ASSIGN_OR_RETURN(pins_from, ParseSpecFile(o.manifest));
  }
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  COHORT_ASSIGN_OR_RETURN(CampaignModel model, LoadSpecCampaign(*conn, o.campaign_id));
  return ReportPins(o.manifest.empty() ? *model.spec : pins_from, model);
}

// Polls the campaign until it leaves RUNNING; progress on stderr.
absl::StatusOr<v1::Campaign> WaitForCampaign(Connection& conn, const std::string& id,
                                             const ReproduceOptions& o) {
  absl::Time start = absl::Now();
  std::string last;
  while (true) {
    v1::GetCampaignRequest request;
    request.set_campaign_id(id);
    v1::Campaign campaign;
    COHORT_RETURN_IF_ERROR(FromGrpc(
        conn.stub().GetCampaign(conn.Context().get(), request, &campaign), "campaign " + id));
    uint32_t total = 0;
    for (const auto& [state, n] : campaign.steps_by_state()) total += n;
    auto succeeded = campaign.steps_by_state().find("succeeded");
    std::string line = absl::StrCat(
        succeeded == campaign.steps_by_state().end() ? 0 : succeeded->second, "/", total,
        " steps succeeded");
    if (!o.quiet && line != last) {
      std::fprintf(stderr, "%s %s\n",
                   absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()).c_str(),
                   line.c_str());
      last = line;
    }
    if (campaign.state() != v1::CAMPAIGN_STATE_RUNNING) return campaign;
    if (o.max_wait_minutes > 0 && absl::Now() - start > absl::Minutes(o.max_wait_minutes)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "campaign ", id, " still runs after ", o.max_wait_minutes,
          " minutes; compare later with `cohort verify ", id, " --manifest ", o.manifest, "`"));
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

absl::Status Reproduce(const GlobalOptions& g, const ReproduceOptions& o) {
  COHORT_ASSIGN_OR_RETURN(Spec manifest, ParseSpecFile(o.manifest));
  size_t pins = 0;
  for (const Variant& v : manifest.variants) pins += v.pinned.size();
  if (pins == 0) {
    return absl::InvalidArgumentError(
        o.manifest + ": no variant pins a digest (variants[].digests); write a manifest of "
                     "a finished campaign with `cohort manifest CAMPAIGN`");
  }
  absl::Time start = absl::Now();
  SubmitFlags flags;
  flags.rerun = true;
  COHORT_ASSIGN_OR_RETURN(Submission s, SubmitSpecFile(g, o.manifest, flags));
  const std::string& id = s.response.campaign_id();
  std::printf("campaign %s\n", id.c_str());
  std::fflush(stdout);
  if (!o.quiet) {
    std::fprintf(stderr, "reproducing '%s' as campaign %s: %u steps, %u run again\n",
                 s.spec.name.c_str(), id.c_str(), s.response.steps_total(),
                 s.response.steps_to_run());
  }
  // A step another campaign holds leased is not re-armed; its output is
  // then not a fresh one, so say so.
  if (s.response.steps_cached() > 0) {
    std::fprintf(stderr, "cohort: %u step(s) were not run again (leased for another campaign)\n",
                 s.response.steps_cached());
  }
  COHORT_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(g));
  COHORT_ASSIGN_OR_RETURN(v1::Campaign finished, WaitForCampaign(*conn, id, o));
  if (!o.quiet) {
    std::fprintf(stderr, "campaign %s %s after %.1f s\n", id.c_str(),
                 CampaignStateName(finished.state()).c_str(),
                 absl::ToDoubleSeconds(absl::Now() - start));
  }
  // Inputs given by path were hashed again and matched their pins, or the
  // submission would have stopped.
  for (InputRef* in : MutableInputs(manifest)) {
    if (in->path.empty() || in->digest.empty()) continue;
    std::printf("%-24s %-10s %-9s %s\n", "(input)", in->where.key.c_str(), "match",
                in->digest.c_str());
  }
  COHORT_ASSIGN_OR_RETURN(CampaignModel model, LoadSpecCampaign(*conn, id));
  COHORT_RETURN_IF_ERROR(ReportPins(s.spec, model));
  if (finished.state() != v1::CAMPAIGN_STATE_SUCCEEDED) {
    return absl::AbortedError(absl::StrCat("campaign ", id, " finished ",
                                           CampaignStateName(finished.state()),
                                           "; see `cohort status ", id, "`"));
  }
  return absl::OkStatus();
}

}  // namespace

int RunManifest(const GlobalOptions& g, const ManifestOptions& o) {
  return ExitWith(Manifest(g, o));
}
int RunVerify(const GlobalOptions& g, const VerifyOptions& o) { return ExitWith(Verify(g, o)); }
int RunReproduce(const GlobalOptions& g, const ReproduceOptions& o) {
  return ExitWith(Reproduce(g, o));
}

}  // namespace cohort::client
