#include "client/datasets/pins.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "client/datasets/manifest.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cohort::client::datasets {
namespace {

using json = nlohmann::json;

absl::Status PinError(const std::string& source, const std::string& where,
                      const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", where, ": ", what,
      " (pins.json is written by `cohort datasets fetch`; remove it and fetch again)"));
}

absl::StatusOr<FilePin> ParseFilePin(const json& j, const std::string& source,
                                     const std::string& where) {
  if (!j.is_object() || !j.contains("sha256") || !j["sha256"].is_string() ||
      !IsSha256Hex(j["sha256"].get<std::string>())) {
    return PinError(source, where, "expected {sha256: <64 hex>, bytes, digest_from}");
  }
  FilePin pin;
  pin.sha256 = j["sha256"].get<std::string>();
  if (j.contains("bytes") && j["bytes"].is_number_unsigned()) {
    pin.bytes = j["bytes"].get<uint64_t>();
  }
  if (j.contains("digest_from") && j["digest_from"].is_string()) {
    pin.digest_from = j["digest_from"].get<std::string>();
  }
  return pin;
}

absl::StatusOr<DatasetPins> ParseDatasetPins(const json& j, const std::string& source,
                                             const std::string& where) {
  if (!j.is_object() || !j.contains("files") || !j["files"].is_object()) {
    return PinError(source, where, "expected {hub_repo, revision, files: {...}}");
  }
  DatasetPins d;
  if (j.contains("hub_repo") && j["hub_repo"].is_string()) d.hub_repo = j["hub_repo"];
  if (j.contains("revision") && j["revision"].is_string()) d.revision = j["revision"];
  for (const auto& [path, pin] : j["files"].items()) {
    COHORT_ASSIGN_OR_RETURN(d.files[path],
                            ParseFilePin(pin, source, absl::StrCat(where, ".files.", path)));
  }
  return d;
}

}  // namespace

const DatasetPins* Pins::Find(const std::string& name) const {
  auto it = datasets.find(name);
  return it == datasets.end() ? nullptr : &it->second;
}

const FilePin* Pins::FindFile(const std::string& name, const std::string& path) const {
  const DatasetPins* d = Find(name);
  if (d == nullptr) return nullptr;
  auto it = d->files.find(path);
  return it == d->files.end() ? nullptr : &it->second;
}

absl::StatusOr<Pins> ParsePins(const std::string& text, const std::string& source) {
  COHORT_ASSIGN_OR_RETURN(json root, ParseJson(text, source));
  if (!root.is_object() || !root.contains("version") || root["version"] != 1 ||
      !root.contains("datasets") ||
      !root["datasets"].is_object()) {
    return PinError(source, "(top level)", "expected {version: 1, datasets: {...}}");
  }
  Pins pins;
  for (const auto& [name, d] : root["datasets"].items()) {
    COHORT_ASSIGN_OR_RETURN(pins.datasets[name],
                            ParseDatasetPins(d, source, "datasets." + name));
  }
  return pins;
}

std::string PinsJson(const Pins& pins) {
  json datasets = json::object();
  for (const auto& [name, d] : pins.datasets) {
    json files = json::object();
    for (const auto& [path, pin] : d.files) {
      files[path] = {{"sha256", pin.sha256}, {"bytes", pin.bytes},
                     {"digest_from", pin.digest_from}};
    }
    datasets[name] = {{"hub_repo", d.hub_repo}, {"revision", d.revision}, {"files", files}};
  }
  json root = {{"version", 1}, {"datasets", datasets}};
  return root.dump(2) + "\n";
}

absl::StatusOr<Pins> LoadPins(const std::string& dir) {
  std::string path = dir + "/" + kPinsFile;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Pins{};
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParsePins(text, path);
}

absl::Status SavePins(const std::string& dir, const Pins& pins) {
  return WriteFileAtomically(dir + "/" + kPinsFile, PinsJson(pins));
}

}  // namespace cohort::client::datasets
