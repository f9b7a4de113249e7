#include "client/spec/manifest.h"

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace cohort::client {
namespace {

using json = nlohmann::json;

bool IsScalar(const json& v) { return !v.is_object() && !v.is_array(); }

void EmitScalar(YAML::Emitter& out, const json& v) {
  if (v.is_string()) {
    out << YAML::DoubleQuoted << v.get<std::string>();
  } else if (v.is_null()) {
    out << YAML::Null;
  } else {
    // nlohmann's shortest round-trip form ("1.2", "12", "true"), plain, so
    // the reader turns it back into the same number or boolean.
    out << v.dump();
  }
}

void Emit(YAML::Emitter& out, const json& v) {
  if (v.is_object()) {
    if (v.empty()) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    out << YAML::BeginMap;
    for (const auto& [key, child] : v.items()) {
      out << YAML::Key << key << YAML::Value;
      Emit(out, child);
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    bool flat = std::all_of(v.begin(), v.end(), [](const json& x) { return IsScalar(x); });
    if (flat) out << YAML::Flow;
    out << YAML::BeginSeq;
    for (const json& item : v) Emit(out, item);
    out << YAML::EndSeq;
  } else {
    EmitScalar(out, v);
  }
}

}  // namespace

const std::vector<std::string>& PinnableArtifacts() {
  static const std::vector<std::string> kArtifacts = {"drop_map", "pruned", "gguf", "quantized"};
  return kArtifacts;
}

json ManifestJson(const Spec& spec, const std::map<std::string, PinnedDigests>& pins) {
  json out = NormalizedSpecJson(spec);
  out["kind"] = "cohort";
  for (json& variant : out["variants"]) {
    variant.erase("digests");
    auto it = pins.find(variant["name"].get<std::string>());
    if (it != pins.end() && !it->second.empty()) variant["digests"] = it->second;
  }
  return out;
}

std::string ToYaml(const json& value, const std::vector<std::string>& header) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, value);
  std::string text;
  for (const std::string& line : header) absl::StrAppend(&text, "# ", line, "\n");
  absl::StrAppend(&text, out.c_str(), "\n");
  return text;
}

absl::StatusOr<std::vector<PinCheck>> CheckPins(
    const Spec& pins_from, const Graph& graph,
    const std::map<std::string, std::string>& produced) {
  std::vector<PinCheck> checks;
  for (const Variant& v : pins_from.variants) {
    const ModelNodes* model = nullptr;
    for (const ModelNodes& m : graph.models) {
      if (m.name == v.name && !m.reference) model = &m;
    }
    if (model == nullptr) {
      if (v.pinned.empty()) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(v.where.Prefix(), "variant '", v.name, "' is not in the campaign"));
    }
    for (const std::string& artifact : PinnableArtifacts()) {
      auto node = model->artifacts.find(artifact);
      auto pin = v.pinned.find(artifact);
      if (node == model->artifacts.end()) {
        if (pin == v.pinned.end()) continue;
        return absl::InvalidArgumentError(absl::StrCat(
            v.where.Prefix(), "variant '", v.name, "' pins ", artifact,
            " but its recipe makes none (quantize: none?)"));
      }
      PinCheck check;
      check.variant = v.name;
      check.artifact = artifact;
      if (pin != v.pinned.end()) check.pinned = pin->second;
      auto got = produced.find(node->second);
      if (got != produced.end()) check.produced = got->second;
      check.result = check.produced.empty()  ? PinCheck::Result::kPending
                     : check.pinned.empty()  ? PinCheck::Result::kUnpinned
                     : check.pinned == check.produced ? PinCheck::Result::kMatch
                                                      : PinCheck::Result::kMismatch;
      checks.push_back(std::move(check));
    }
  }
  return checks;
}

std::string PinResultName(PinCheck::Result r) {
  switch (r) {
    case PinCheck::Result::kMatch: return "match";
    case PinCheck::Result::kMismatch: return "MISMATCH";
    case PinCheck::Result::kPending: return "pending";
    case PinCheck::Result::kUnpinned: return "unpinned";
  }
  return "?";
}

}  // namespace cohort::client
