// datasets list | verify | path | fetch: the benchmark data catalog
// (client/datasets) and the Hub fetcher (client/hub). No cohortd involved.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/cli/commands.h"
#include "client/datasets/catalog.h"
#include "client/datasets/fetch_plan.h"
#include "client/hub/hub_download.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

namespace ds = datasets;
namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

absl::StatusOr<ds::Catalog> LoadCatalog(const DatasetsOptions& o) {
  return ds::Catalog::Load(ds::SearchRoots(ds::RootSettingsFromEnvironment(o.data_dir)));
}

absl::StatusOr<const ds::Dataset*> FindDataset(const ds::Catalog& c, const std::string& name) {
  const ds::Dataset* d = c.Find(name);
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown dataset '", name, "' (known: ",
                                            absl::StrJoin(c.Names(), ", "), ")"));
  }
  return d;
}

std::string Records(const ds::Dataset& d) {
  const ds::DatasetFile* test = d.FindSplit("test");
  if (test == nullptr || !test->records) return "-";
  return absl::StrCat(*test->records);
}

absl::Status List(const DatasetsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(ds::Catalog c, LoadCatalog(o));
  std::printf("%-16s %-24s %8s  %s\n", "NAME", "STATUS", "RECORDS", "LICENSE");
  for (const ds::Dataset& d : c.datasets()) {
    std::printf("%-16s %-24s %8s  %s\n", d.name.c_str(), c.State(d).c_str(),
                Records(d).c_str(), d.license.c_str());
  }
  std::fprintf(stderr, "data folders, first match wins: %s\n", c.DescribeRoots().c_str());
  return absl::OkStatus();
}

const char* StateWord(ds::FileState s) {
  switch (s) {
    case ds::FileState::kOk: return "ok";
    case ds::FileState::kMismatch: return "MISMATCH";
    case ds::FileState::kMissing: return "MISSING";
    case ds::FileState::kUnpinned: return "UNPINNED";
    case ds::FileState::kUnreadable: return "UNREADABLE";
  }
  return "?";
}

absl::Status Verify(const DatasetsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(ds::Catalog c, LoadCatalog(o));
  std::vector<const ds::Dataset*> chosen;
  for (const std::string& name : o.names) {
    COHORT_ASSIGN_OR_RETURN(const ds::Dataset* d, FindDataset(c, name));
    chosen.push_back(d);
  }
  if (o.names.empty()) {
    for (const ds::Dataset& d : c.datasets()) {
      // Not fetched is not broken: say so, and check what is there.
      if (!d.shipped && c.State(d) == "missing") {
        std::printf("%-10s %-28s not fetched (cohort datasets fetch %s)\n", "-",
                    d.name.c_str(), d.name.c_str());
        continue;
      }
      chosen.push_back(&d);
    }
  }
  size_t ok = 0;
  std::vector<std::string> failed;
  for (const ds::Dataset* d : chosen) {
    for (const ds::FileCheck& check : c.Verify(*d)) {
      std::string id = absl::StrCat(d->name, ":", check.file->split);
      std::string where = check.path.empty() ? "" : check.path + ": ";
      std::printf("%-10s %-28s %s%s\n", StateWord(check.state), id.c_str(), where.c_str(),
                  check.detail.c_str());
      if (check.state == ds::FileState::kOk) {
        ++ok;
      } else {
        failed.push_back(id + (check.path.empty() ? "" : " (" + check.path + ")"));
      }
    }
  }
  if (!failed.empty()) {
    return absl::DataLossError(absl::StrCat(failed.size(), " of ", ok + failed.size(),
                                            " files failed verification: ",
                                            absl::StrJoin(failed, ", ")));
  }
  std::fprintf(stderr, "verify: %zu files match their pinned sha256\n", ok);
  return absl::OkStatus();
}

absl::Status Path(const DatasetsOptions& o) {
  COHORT_ASSIGN_OR_RETURN(ds::Catalog c, LoadCatalog(o));
  COHORT_ASSIGN_OR_RETURN(ds::ResolvedFile f, c.Resolve(o.name));
  std::printf("%s\n", f.path.c_str());
  return absl::OkStatus();
}

// --- fetch -----------------------------------------------------------------

struct FetchContext {
  std::string endpoint;
  std::string token;
  std::string fetch_dir;
  int retries = 2;
  bool terminal = false;
  ds::Pins pins;
  std::string first_commit;
};

bool AlreadyThere(const std::string& dest, const std::optional<std::string>& want) {
  std::error_code ec;
  if (!want || !fs::is_regular_file(dest, ec)) return false;
  absl::StatusOr<std::string> got = Sha256File(dest);
  return got.ok() && *got == *want;
}

absl::Status Record(FetchContext& ctx, const ds::FetchPlan& plan, const ds::FilePlan& file,
                    const std::string& commit, const std::string& sha256, uint64_t bytes,
                    const std::string& digest_from) {
  ds::RecordFetchedFile(plan, file, commit, sha256, bytes, digest_from, &ctx.pins);
  return ds::SavePins(ctx.fetch_dir, ctx.pins);
}

absl::StatusOr<hub::DownloadResult> DownloadWithRetries(const FetchContext& ctx,
                                                        const hub::DownloadRequest& req,
                                                        const std::string& label) {
  for (int attempt = 0;; ++attempt) {
    hub::ProgressDisplay progress(label, ctx.terminal, stderr);
    absl::StatusOr<hub::DownloadResult> got = hub::DownloadFile(req, &progress);
    if (got.ok() || !absl::IsAborted(got.status()) || attempt >= ctx.retries) return got;
    absl::Duration wait = absl::Seconds(1 << attempt);
    std::fprintf(stderr, "fetch: %s; retrying in %s\n",
                 std::string(got.status().message()).c_str(), absl::FormatDuration(wait).c_str());
    absl::SleepFor(wait);
  }
}

hub::DownloadRequest MakeRequest(const FetchContext& ctx, const ds::FilePlan& file,
                                 const hub::HubFile& hf, const hub::HubMetadata& meta,
                                 const ds::DigestChoice& choice) {
  hub::DownloadRequest req;
  req.file = hf;
  req.url = meta.download_url;
  // The token goes to the Hub only, never to the CDN host it redirects to.
  req.token = meta.same_origin ? ctx.token : "";
  req.url_is_hub = meta.same_origin;
  req.dest = file.dest;
  req.want_sha256 = choice.want;
  req.want_bytes = file.want_bytes ? file.want_bytes : meta.size;
  // A partial file is resumed only for the same bytes.
  req.validator = choice.want ? *choice.want : meta.commit + ":" + hf.path;
  return req;
}

void SayDone(const std::string& label, const hub::DownloadResult& got,
             const ds::FilePlan& file, const ds::DigestChoice& choice) {
  std::string resumed =
      got.resumed_from > 0 ? ", resumed at " + hub::FormatBytes(got.resumed_from) : "";
  std::string checked = !choice.want                  ? "recorded"
                        : choice.digest_from == "hub" ? "matches the digest the Hub announced"
                                                      : "matches the pin in " + file.pinned_by;
  std::fprintf(stderr, "fetch: %s: done, %s%s, sha256 %s (%s)\n", label.c_str(),
               hub::FormatBytes(got.bytes).c_str(), resumed.c_str(), got.sha256.c_str(),
               checked.c_str());
}

absl::Status FetchFile(FetchContext& ctx, const ds::FetchPlan& plan, const ds::FilePlan& file) {
  const std::string& label = file.file->path;
  // A file whose pin is known and matches needs no network at all.
  if (AlreadyThere(file.dest, file.want_sha256)) {
    std::fprintf(stderr, "fetch: %s: up to date\n", label.c_str());
    return Record(ctx, plan, file, ctx.first_commit, *file.want_sha256,
                  fs::file_size(file.dest), file.digest_from);
  }
  hub::HubFile hf{ctx.endpoint, plan.dataset->hub_repo, plan.revision, file.file->hub_path};
  COHORT_ASSIGN_OR_RETURN(hub::HubMetadata meta, hub::FetchMetadata(hf, ctx.token));
  COHORT_RETURN_IF_ERROR(ds::CheckCommit(plan, ctx.first_commit, meta.commit));
  if (ctx.first_commit.empty()) ctx.first_commit = meta.commit;
  COHORT_ASSIGN_OR_RETURN(ds::DigestChoice choice,
                          ds::ChooseDigest(plan, file, meta.announced_sha256));
  if (AlreadyThere(file.dest, choice.want)) {
    std::fprintf(stderr, "fetch: %s: up to date\n", label.c_str());
    return Record(ctx, plan, file, meta.commit, *choice.want, fs::file_size(file.dest),
                  choice.digest_from);
  }
  if (!choice.want) {
    std::fprintf(stderr,
                 "fetch: %s: no pinned sha256 and the Hub announced none (not an LFS file): "
                 "this download's sha256 becomes the pin\n", label.c_str());
  }
  hub::DownloadRequest req = MakeRequest(ctx, file, hf, meta, choice);
  std::string size = req.want_bytes ? " (" + hub::FormatBytes(*req.want_bytes) + ")" : "";
  std::fprintf(stderr, "fetch: %s%s\n", label.c_str(), size.c_str());
  COHORT_ASSIGN_OR_RETURN(hub::DownloadResult got, DownloadWithRetries(ctx, req, label));
  SayDone(label, got, file, choice);
  return Record(ctx, plan, file, meta.commit, got.sha256, got.bytes, choice.digest_from);
}

absl::Status FetchDataset(FetchContext& ctx, const ds::Dataset& d, const std::string& revision) {
  COHORT_ASSIGN_OR_RETURN(ds::FetchPlan plan,
                          ds::PlanFetch(d, ctx.pins, ctx.fetch_dir, revision));
  std::fprintf(stderr, "fetch: %s from %s/datasets/%s at %s (%s) into %s\n", d.name.c_str(),
               ctx.endpoint.c_str(), d.hub_repo.c_str(), plan.revision.c_str(),
               plan.revision_from.c_str(), ctx.fetch_dir.c_str());
  ctx.first_commit.clear();
  for (const ds::FilePlan& file : plan.files) COHORT_RETURN_IF_ERROR(FetchFile(ctx, plan, file));
  const ds::DatasetPins* pinned = ctx.pins.Find(d.name);
  std::fprintf(stderr, "fetch: %s: %zu file%s at commit %s; pins in %s/%s\n", d.name.c_str(),
               plan.files.size(), plan.files.size() == 1 ? "" : "s",
               pinned != nullptr ? pinned->revision.c_str() : "?",
               ctx.fetch_dir.c_str(), ds::kPinsFile);
  return absl::OkStatus();
}

absl::Status Fetch(const DatasetsOptions& o) {
  ds::RootSettings settings = ds::RootSettingsFromEnvironment(o.data_dir);
  FetchContext ctx;
  ctx.fetch_dir = ds::FetchDir(settings);
  if (ctx.fetch_dir.empty()) {
    return absl::InvalidArgumentError(
        "no cache folder: HOME and XDG_CACHE_HOME are unset; give --data-dir");
  }
  ctx.fetch_dir = fs::absolute(ctx.fetch_dir).lexically_normal().string();
  COHORT_ASSIGN_OR_RETURN(ds::Catalog c, ds::Catalog::Load(ds::SearchRoots(settings)));
  std::vector<const ds::Dataset*> chosen;
  for (const std::string& name : o.names) {
    COHORT_ASSIGN_OR_RETURN(const ds::Dataset* d, FindDataset(c, name));
    chosen.push_back(d);
  }
  std::error_code ec;
  fs::create_directories(ctx.fetch_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError("cannot create " + ctx.fetch_dir + ": " + ec.message());
  }
  COHORT_ASSIGN_OR_RETURN(ctx.pins, ds::LoadPins(ctx.fetch_dir));
  ctx.endpoint = hub::EndpointOrDefault(Env("HF_ENDPOINT"));
  ctx.token = Env("HF_TOKEN");
  ctx.retries = o.retries;
  ctx.terminal = isatty(2) != 0;
  for (const ds::Dataset* d : chosen) COHORT_RETURN_IF_ERROR(FetchDataset(ctx, *d, o.revision));
  return absl::OkStatus();
}

}  // namespace

int RunDatasetsList(const DatasetsOptions& o) { return ExitWith(List(o)); }
int RunDatasetsVerify(const DatasetsOptions& o) { return ExitWith(Verify(o)); }
int RunDatasetsPath(const DatasetsOptions& o) { return ExitWith(Path(o)); }
int RunDatasetsFetch(const DatasetsOptions& o) { return ExitWith(Fetch(o)); }

}  // namespace cohort::client
