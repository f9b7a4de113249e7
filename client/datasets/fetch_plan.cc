#include "client/datasets/fetch_plan.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cohort::client::datasets {
namespace {

bool IsCommitId(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<FetchPlan> PlanFetch(const Dataset& d, const Pins& pins,
                                    const std::string& fetch_dir,
                                    const std::string& revision_flag) {
  if (d.hub_repo.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset ", d.name, " ships with cohort and has no hub_repo to fetch it from; "
        "`cohort datasets verify ", d.name, "` checks it"));
  }
  const DatasetPins* recorded = pins.Find(d.name);
  if (recorded != nullptr && recorded->hub_repo != d.hub_repo) recorded = nullptr;
  const std::string pins_file = fetch_dir + "/" + kPinsFile;

  FetchPlan plan;
  plan.dataset = &d;
  if (!revision_flag.empty()) {
    plan.revision = revision_flag;
    plan.revision_from = "--revision";
  } else if (d.revision) {
    plan.revision = *d.revision;
    plan.revision_from = d.manifest_file;
  } else if (recorded != nullptr && !recorded->revision.empty()) {
    plan.revision = recorded->revision;
    plan.revision_from = pins_file;
  } else {
    plan.revision = "main";
    plan.revision_from = "the default branch";
  }
  // Pins describe the bytes of one revision; another one makes them moot.
  bool manifest_pins_apply = revision_flag.empty() || (d.revision && *d.revision == revision_flag);
  bool recorded_pins_apply =
      recorded != nullptr && (revision_flag.empty() || recorded->revision == revision_flag);

  for (const DatasetFile& f : d.files) {
    FilePlan fp;
    fp.file = &f;
    fp.dest = fetch_dir + "/" + f.path;
    if (manifest_pins_apply && f.sha256) {
      fp.want_sha256 = f.sha256;
      fp.want_bytes = f.bytes;
      fp.pinned_by = d.manifest_file;
      fp.digest_from = "manifest";
    } else if (recorded_pins_apply && recorded->files.count(f.path) > 0) {
      const FilePin& pin = recorded->files.at(f.path);
      fp.want_sha256 = pin.sha256;
      fp.want_bytes = pin.bytes;
      fp.pinned_by = pins_file;
      fp.digest_from = pin.digest_from;
    } else if (manifest_pins_apply) {
      fp.want_bytes = f.bytes;
    }
    plan.files.push_back(std::move(fp));
  }
  return plan;
}

absl::StatusOr<DigestChoice> ChooseDigest(const FetchPlan& plan, const FilePlan& file,
                                          const std::string& announced_sha256) {
  if (file.want_sha256) {
    if (!announced_sha256.empty() && announced_sha256 != *file.want_sha256) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the Hub announces sha256 ", announced_sha256, " for datasets/",
          plan.dataset->hub_repo, " ", file.file->hub_path, " at revision ", plan.revision,
          ", but ", file.pinned_by, " pins ", *file.want_sha256,
          "; nothing was downloaded (if upstream changed on purpose, fetch a commit with "
          "--revision and update the pin)"));
    }
    return DigestChoice{file.want_sha256, file.digest_from};
  }
  if (!announced_sha256.empty()) return DigestChoice{announced_sha256, "hub"};
  return DigestChoice{std::nullopt, "download"};
}

absl::Status CheckCommit(const FetchPlan& plan, const std::string& first_commit,
                         const std::string& commit) {
  if (commit.empty()) return absl::OkStatus();
  if (IsCommitId(plan.revision) && commit != plan.revision) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asked the Hub for commit ", plan.revision, " of datasets/", plan.dataset->hub_repo,
        " and it answered with commit ", commit));
  }
  if (!first_commit.empty() && commit != first_commit) {
    return absl::FailedPreconditionError(absl::StrCat(
        "revision ", plan.revision, " of datasets/", plan.dataset->hub_repo,
        " moved during the fetch (commit ", first_commit, ", then ", commit,
        "); run again with --revision ", first_commit));
  }
  return absl::OkStatus();
}

void RecordFetchedFile(const FetchPlan& plan, const FilePlan& file, const std::string& commit,
                       const std::string& sha256, uint64_t bytes,
                       const std::string& digest_from, Pins* pins) {
  DatasetPins& d = pins->datasets[plan.dataset->name];
  // A file found up to date without asking the Hub brings no commit.
  std::string revision = !commit.empty()       ? commit
                         : !d.revision.empty() ? d.revision
                                               : plan.revision;
  // Pins of another repository or another commit describe other bytes.
  bool other_bytes = d.hub_repo != plan.dataset->hub_repo ||
                     (IsCommitId(d.revision) && IsCommitId(revision) && d.revision != revision);
  if (other_bytes) d.files.clear();
  d.hub_repo = plan.dataset->hub_repo;
  d.revision = revision;
  d.files[file.file->path] = FilePin{sha256, bytes, digest_from};
}

}  // namespace cohort::client::datasets
