#include "client/datasets/manifest.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/safe_path.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cohort::client::datasets {
namespace {

using json = nlohmann::json;

// Reads the fields of one JSON object, refusing unknown keys and wrong
// types; every error names the file and the object's place ("datasets[3]").
class Fields {
 public:
  Fields(const json& object, std::string source, std::string where)
      : object_(object), source_(std::move(source)), where_(std::move(where)) {}

  absl::Status Error(const std::string& key, const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", where_, key.empty() ? "" : ".", key, ": ", what));
  }
  absl::Status CheckObject(const std::set<std::string>& known) const {
    if (!object_.is_object()) return Error("", "expected an object");
    for (const auto& [key, value] : object_.items()) {
      if (known.count(key) == 0) {
        return Error(key, absl::StrCat("unknown key (known: ", absl::StrJoin(known, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }
  bool Has(const std::string& key) const {
    return object_.contains(key) && !object_[key].is_null();
  }
  absl::StatusOr<std::string> String(const std::string& key, bool required) const {
    if (!Has(key)) {
      if (required) return Error(key, "missing (a string)");
      return std::string();
    }
    if (!object_[key].is_string()) return Error(key, "expected a string");
    return object_[key].get<std::string>();
  }
  absl::StatusOr<std::optional<std::string>> NullableString(const std::string& key) const {
    if (!Has(key)) return std::optional<std::string>();
    COHORT_ASSIGN_OR_RETURN(std::string s, String(key, true));
    return std::optional<std::string>(std::move(s));
  }
  absl::StatusOr<std::optional<uint64_t>> Count(const std::string& key) const {
    if (!Has(key)) return std::optional<uint64_t>();
    if (!object_[key].is_number_unsigned()) {
      return Error(key, "expected a whole number >= 0 or null");
    }
    return std::optional<uint64_t>(object_[key].get<uint64_t>());
  }
  absl::StatusOr<bool> Bool(const std::string& key, bool required) const {
    if (!Has(key)) {
      if (required) return Error(key, "missing (true or false)");
      return false;
    }
    if (!object_[key].is_boolean()) return Error(key, "expected true or false");
    return object_[key].get<bool>();
  }
  const json& object() const { return object_; }
  const std::string& where() const { return where_; }

 private:
  const json& object_;
  std::string source_;
  std::string where_;
};

bool IsName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') return false;
  }
  return true;
}

bool IsSplit(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

absl::Status CheckPath(const Fields& f, const std::string& key, const std::string& path) {
  absl::Status s = CheckRelativePath(path, key);
  if (!s.ok()) return f.Error(key, "must be a relative path inside the data folder");
  return absl::OkStatus();
}

absl::StatusOr<DatasetFile> ParseFile(const json& object, const std::string& source,
                                      const std::string& where, const Dataset& d) {
  Fields f(object, source, where);
  COHORT_RETURN_IF_ERROR(
      f.CheckObject({"path", "split", "sha256", "bytes", "records", "hub_path"}));
  DatasetFile file;
  COHORT_ASSIGN_OR_RETURN(file.path, f.String("path", true));
  COHORT_RETURN_IF_ERROR(CheckPath(f, "path", file.path));
  COHORT_ASSIGN_OR_RETURN(file.split, f.String("split", true));
  if (!IsSplit(file.split)) {
    return f.Error("split", "use lowercase letters, digits, '_' and '-'");
  }
  COHORT_ASSIGN_OR_RETURN(file.sha256, f.NullableString("sha256"));
  if (file.sha256 && !IsSha256Hex(*file.sha256)) {
    return f.Error("sha256", "expected 64 lowercase hex digits or null");
  }
  COHORT_ASSIGN_OR_RETURN(file.bytes, f.Count("bytes"));
  COHORT_ASSIGN_OR_RETURN(file.records, f.Count("records"));
  COHORT_ASSIGN_OR_RETURN(file.hub_path, f.String("hub_path", !d.hub_repo.empty()));
  if (!file.hub_path.empty()) COHORT_RETURN_IF_ERROR(CheckPath(f, "hub_path", file.hub_path));
  // What ships in the repository is checked byte for byte: it needs a pin.
  if (d.shipped && (!file.sha256 || !file.bytes)) {
    return f.Error(file.sha256 ? "bytes" : "sha256", "a shipped file needs its sha256 and bytes");
  }
  return file;
}

absl::Status ParseFiles(const Fields& f, const std::string& source, Dataset* d) {
  if (!f.Has("files") || !f.object()["files"].is_array() || f.object()["files"].empty()) {
    return f.Error("files", "expected a non-empty list");
  }
  std::set<std::string> splits;
  size_t i = 0;
  for (const json& item : f.object()["files"]) {
    std::string where = absl::StrCat(f.where(), ".files[", i++, "]");
    COHORT_ASSIGN_OR_RETURN(DatasetFile file, ParseFile(item, source, where, *d));
    if (!splits.insert(file.split).second) {
      return Fields(item, source, where).Error("split", "'" + file.split + "' used twice");
    }
    d->files.push_back(std::move(file));
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ParseDataset(const json& object, const std::string& source, size_t i) {
  std::string where = absl::StrCat("datasets[", i, "]");
  if (object.is_object() && object.contains("name") && object["name"].is_string()) {
    absl::StrAppend(&where, " (", object["name"].get<std::string>(), ")");
  }
  Fields f(object, source, where);
  COHORT_RETURN_IF_ERROR(f.CheckObject({"name", "shipped", "files", "source", "revision",
                                        "hub_repo", "gated", "license", "license_file",
                                        "provenance", "notes"}));
  Dataset d;
  d.manifest_file = source;
  COHORT_ASSIGN_OR_RETURN(d.name, f.String("name", true));
  if (!IsName(d.name)) return f.Error("name", "use lowercase letters, digits and '_'");
  COHORT_ASSIGN_OR_RETURN(d.shipped, f.Bool("shipped", true));
  COHORT_ASSIGN_OR_RETURN(d.hub_repo, f.String("hub_repo", false));
  if (!d.shipped && d.hub_repo.empty()) {
    return f.Error("hub_repo",
                   "a dataset that is not shipped needs the repository to fetch it from");
  }
  if (!d.hub_repo.empty() && d.hub_repo.find('/') == std::string::npos) {
    return f.Error("hub_repo", "expected owner/name");
  }
  COHORT_ASSIGN_OR_RETURN(d.gated, f.Bool("gated", false));
  COHORT_ASSIGN_OR_RETURN(d.source, f.String("source", true));
  COHORT_ASSIGN_OR_RETURN(d.revision, f.NullableString("revision"));
  COHORT_ASSIGN_OR_RETURN(d.license, f.String("license", true));
  COHORT_ASSIGN_OR_RETURN(d.license_file, f.String("license_file", false));
  COHORT_ASSIGN_OR_RETURN(d.provenance, f.String("provenance", false));
  COHORT_ASSIGN_OR_RETURN(d.notes, f.String("notes", false));
  COHORT_RETURN_IF_ERROR(ParseFiles(f, source, &d));
  return d;
}

}  // namespace

bool IsSha256Hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

const DatasetFile* Dataset::FindSplit(const std::string& split) const {
  for (const DatasetFile& f : files) {
    if (f.split == split) return &f;
  }
  return nullptr;
}

std::vector<std::string> Dataset::Splits() const {
  std::vector<std::string> out;
  for (const DatasetFile& f : files) out.push_back(f.split);
  return out;
}

const Dataset* Manifest::Find(const std::string& name) const {
  for (const Dataset& d : datasets) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

absl::StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& source) {
  COHORT_ASSIGN_OR_RETURN(json root, ParseJson(text, source));
  Fields f(root, source, "(top level)");
  COHORT_RETURN_IF_ERROR(f.CheckObject({"version", "datasets"}));
  if (!root.contains("version") || root["version"] != 1) {
    return f.Error("version", "expected 1 (this cohort reads version 1 manifests)");
  }
  if (!root.contains("datasets") || !root["datasets"].is_array()) {
    return f.Error("datasets", "expected a list");
  }
  Manifest m;
  std::set<std::string> names;
  for (size_t i = 0; i < root["datasets"].size(); ++i) {
    COHORT_ASSIGN_OR_RETURN(Dataset d, ParseDataset(root["datasets"][i], source, i));
    if (!names.insert(d.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": datasets[", i, "].name: '", d.name, "' used twice"));
    }
    m.datasets.push_back(std::move(d));
  }
  return m;
}

absl::StatusOr<Manifest> LoadManifest(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseManifest(text, path);
}

}  // namespace cohort::client::datasets
