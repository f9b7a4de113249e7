#include "client/datasets/catalog.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/sha256.h"
#include "common/status_macros.h"

#ifndef COHORT_REPOSITORY_DATA_DIR
#define COHORT_REPOSITORY_DATA_DIR ""
#endif

namespace cohort::client::datasets {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string ExeDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : exe.parent_path().string();
}

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string Short(const std::string& hex) { return hex.substr(0, 12); }

}  // namespace

RootSettings RootSettingsFromEnvironment(const std::string& data_dir_flag) {
  RootSettings s;
  s.data_dir = data_dir_flag;
  s.env_data_dir = Env("COHORT_DATA_DIR");
  s.xdg_cache_home = Env("XDG_CACHE_HOME");
  s.home = Env("HOME");
  s.repository_data = COHORT_REPOSITORY_DATA_DIR;
  s.exe_dir = ExeDir();
  return s;
}

std::string CacheDir(const RootSettings& s) {
  if (!s.xdg_cache_home.empty() && s.xdg_cache_home[0] == '/') {
    return s.xdg_cache_home + "/cohort/datasets";
  }
  if (!s.home.empty()) return s.home + "/.cache/cohort/datasets";
  return "";
}

std::string FetchDir(const RootSettings& s) {
  return s.data_dir.empty() ? CacheDir(s) : s.data_dir;
}

std::vector<DataRoot> SearchRoots(const RootSettings& s) {
  std::vector<DataRoot> candidates = {
      {s.data_dir, "--data-dir"},
      {s.env_data_dir, "COHORT_DATA_DIR"},
      {CacheDir(s), "cache"},
      {s.repository_data, "repository"},
      {s.exe_dir.empty() ? "" : s.exe_dir + "/../share/cohort/data", "installed"}};
  std::vector<DataRoot> out;
  for (DataRoot& r : candidates) {
    if (r.path.empty()) continue;
    r.path = fs::absolute(r.path).lexically_normal().string();
    if (r.path.size() > 1 && r.path.back() == '/') r.path.pop_back();
    bool seen = false;
    for (const DataRoot& o : out) seen = seen || o.path == r.path;
    if (!seen) out.push_back(std::move(r));
  }
  return out;
}

bool LooksLikeDatasetName(const std::string& text) {
  if (absl::StartsWith(text, "sha256:")) return false;  // a digest
  size_t colon = text.find(':');
  std::string name = text.substr(0, colon);
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') return false;
  }
  if (colon == std::string::npos) return true;
  std::string split = text.substr(colon + 1);
  if (split.empty()) return false;
  for (char c : split) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::pair<std::string, std::string> SplitDatasetName(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) return {text, "test"};
  return {text.substr(0, colon), text.substr(colon + 1)};
}

absl::StatusOr<Catalog> Catalog::Load(std::vector<DataRoot> roots) {
  Catalog c;
  c.roots_ = std::move(roots);
  bool any_manifest = false;
  for (const DataRoot& root : c.roots_) {
    std::string manifest = root.path + "/datasets.json";
    if (IsRegularFile(manifest)) {
      any_manifest = true;
      COHORT_ASSIGN_OR_RETURN(Manifest m, LoadManifest(manifest));
      for (Dataset& d : m.datasets) {
        if (c.Find(d.name) == nullptr) c.datasets_.push_back(std::move(d));
      }
    }
    COHORT_ASSIGN_OR_RETURN(c.pins_[root.path], LoadPins(root.path));
  }
  if (!any_manifest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no datasets.json in any data folder (looked in: ", c.DescribeRoots(),
        "); give --data-dir or set COHORT_DATA_DIR to a folder laid out like the "
        "repository's data/"));
  }
  return c;
}

const Dataset* Catalog::Find(const std::string& name) const {
  for (const Dataset& d : datasets_) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::vector<std::string> Catalog::Names() const {
  std::vector<std::string> out;
  for (const Dataset& d : datasets_) out.push_back(d.name);
  return out;
}

std::string Catalog::DescribeRoots() const {
  std::vector<std::string> parts;
  for (const DataRoot& r : roots_) parts.push_back(absl::StrCat(r.path, " (", r.label, ")"));
  return parts.empty() ? "no folders" : absl::StrJoin(parts, ", ");
}

const Pins& Catalog::PinsOf(const std::string& root_path) const {
  static const Pins* const kEmpty = new Pins();
  auto it = pins_.find(root_path);
  return it == pins_.end() ? *kEmpty : it->second;
}

std::optional<Located> Catalog::Locate(const DatasetFile& file) const {
  for (const DataRoot& root : roots_) {
    std::string path = root.path + "/" + file.path;
    if (IsRegularFile(path)) return Located{path, &root};
  }
  return std::nullopt;
}

std::optional<ExpectedDigest> Catalog::Expected(const Dataset& d, const DatasetFile& file,
                                                const DataRoot* root) const {
  if (file.sha256) return ExpectedDigest{*file.sha256, file.bytes, d.manifest_file};
  if (root == nullptr) return std::nullopt;
  const FilePin* pin = PinsOf(root->path).FindFile(d.name, file.path);
  if (pin == nullptr) return std::nullopt;
  return ExpectedDigest{pin->sha256, pin->bytes, root->path + "/" + kPinsFile};
}

absl::StatusOr<ResolvedFile> Catalog::Resolve(const std::string& name_and_split) const {
  auto [name, split] = SplitDatasetName(name_and_split);
  const Dataset* d = Find(name);
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown dataset '", name, "' (known: ",
                                            absl::StrJoin(Names(), ", "), ")"));
  }
  const DatasetFile* file = d->FindSplit(split);
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("dataset ", name, " has no split '", split,
                                            "' (it has: ", absl::StrJoin(d->Splits(), ", "),
                                            "; name one as ", name, ":SPLIT)"));
  }
  std::optional<Located> where = Locate(*file);
  if (!where) {
    if (!d->shipped) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dataset ", name, " is not fetched: run `cohort datasets fetch ", name,
          "` (it looked for ", file->path, " in ", DescribeRoots(), ")"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "dataset ", name, ": ", file->path, " is in none of the data folders (",
        DescribeRoots(), "); it ships in the repository's data/"));
  }
  return ResolvedFile{d, file, where->path, Expected(*d, *file, where->root)};
}

std::string Catalog::State(const Dataset& d) const {
  size_t found = 0;
  for (const DatasetFile& f : d.files) found += Locate(f).has_value() ? 1 : 0;
  if (found == d.files.size()) return d.shipped ? "shipped" : "fetched";
  if (found == 0) return "missing";
  return absl::StrCat("partial (", found, " of ", d.files.size(), " files)");
}

namespace {

FileCheck CheckOne(const Catalog& catalog, const Dataset& d, const DatasetFile& f) {
  FileCheck c{&d, &f, FileState::kMissing, "", ""};
  std::optional<Located> where = catalog.Locate(f);
  if (!where) {
    c.detail = d.shipped ? absl::StrCat(f.path, " is in none of the data folders")
                         : absl::StrCat(f.path, " is not fetched (cohort datasets fetch ",
                                        d.name, ")");
    return c;
  }
  c.path = where->path;
  std::optional<ExpectedDigest> want = catalog.Expected(d, f, where->root);
  if (!want) {
    c.state = FileState::kUnpinned;
    c.detail = absl::StrCat("no digest to check against: ", d.manifest_file,
                            " pins none and ", where->root->path, "/", kPinsFile,
                            " has none (fetch it with cohort datasets fetch ", d.name, ")");
    return c;
  }
  std::error_code ec;
  uint64_t size = fs::file_size(where->path, ec);
  if (!ec && want->bytes && size != *want->bytes) {
    c.state = FileState::kMismatch;
    c.detail = absl::StrCat("size ", size, " bytes, expected ", *want->bytes,
                            " (pinned by ", want->pinned_by, ")");
    return c;
  }
  absl::StatusOr<std::string> got = Sha256File(where->path);
  if (!got.ok()) {
    c.state = FileState::kUnreadable;
    c.detail = std::string(got.status().message());
    return c;
  }
  if (*got != want->sha256) {
    c.state = FileState::kMismatch;
    c.detail = absl::StrCat("sha256 ", *got, ", expected ", want->sha256,
                            " (pinned by ", want->pinned_by, ")");
    return c;
  }
  c.state = FileState::kOk;
  c.detail = absl::StrCat("sha256 ", Short(*got), " (", where->root->label, ")");
  return c;
}

}  // namespace

std::vector<FileCheck> Catalog::Verify(const Dataset& d) const {
  std::vector<FileCheck> out;
  for (const DatasetFile& f : d.files) out.push_back(CheckOne(*this, d, f));
  return out;
}

}  // namespace cohort::client::datasets
