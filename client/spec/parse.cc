// ParseSpecText: the top level, inputs, and variants (grid or list).
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/spec/parse_internal.h"
#include "client/spec/recipe.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace spec_internal {
namespace {

using json = nlohmann::json;

bool IsDigest(const std::string& s) {
  if (!absl::StartsWith(s, "sha256:") || s.size() != 71) return false;
  for (size_t i = 7; i < s.size(); ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "${VAR}" from the environment; an unset variable is an error, so a demo
// never silently reads "/datasets/...".
absl::StatusOr<std::string> ExpandEnv(const YNode& node, std::string text) {
  size_t start;
  while ((start = text.find("${")) != std::string::npos) {
    size_t end = text.find('}', start);
    if (end == std::string::npos) return node.Error("unterminated ${ in path");
    std::string var = text.substr(start + 2, end - start - 2);
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) {
      return node.Error(absl::StrCat("environment variable ", var, " is not set"));
    }
    text.replace(start, end - start + 1, value);
  }
  return text;
}

absl::StatusOr<std::string> ResolvePath(const YNode& node,
                                        const std::string& base_dir) {
  COHORT_ASSIGN_OR_RETURN(std::string text, node.AsString());
  if (spec_internal::IsStoredSpec(base_dir)) {
    if (absl::StrContains(text, "${")) {
      return node.Error("a stored spec names no environment variable");
    }
  } else {
    COHORT_ASSIGN_OR_RETURN(text, ExpandEnv(node, text));
  }
  if (text.empty()) return node.Error("empty path");
  std::filesystem::path p(text);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  return std::filesystem::absolute(p).lexically_normal().string();
}

// A short label for an unlabeled grid value: "1-1-3" for lists.
std::string ValueLabel(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const json& x : v) parts.push_back(ValueLabel(x));
    return absl::StrJoin(parts, "-");
  }
  return v.dump();
}

struct AxisValue {
  std::string label;
  json value;
  Where where;  // grid.<section>.<parameter>.<label> or ...[i], with its line
};

struct Axis {
  std::string section, key;
  std::vector<AxisValue> values;
};

absl::StatusOr<Axis> ParseAxis(const std::string& path, const YNode& node) {
  Axis axis;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  if (parts.size() != 2) {
    return node.Error("grid keys are <section>.<parameter>, e.g. "
                      "dropmap.class_weights or upweight.alpha");
  }
  axis.section = parts[0];
  axis.key = parts[1];
  std::string short_key = axis.key;
  if (node.IsMap()) {  // labeled values: {v6coder: [1, 1, 3, ...]}
    COHORT_ASSIGN_OR_RETURN(auto entries, node.Entries());
    for (const auto& [label, value] : entries) {
      COHORT_ASSIGN_OR_RETURN(json v, ParseRecipeValue(axis.section, axis.key, value));
      axis.values.push_back({label, std::move(v), value.where()});
    }
  } else {
    COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, node.Items());
    for (const YNode& item : items) {
      COHORT_ASSIGN_OR_RETURN(json v, ParseRecipeValue(axis.section, axis.key, item));
      std::string label = absl::StrCat(short_key, "=", ValueLabel(v));
      axis.values.push_back({label, std::move(v), item.where()});
    }
  }
  if (axis.values.empty()) return node.Error("a grid axis needs at least one value");
  return axis;
}

absl::Status ParseGrid(const YNode& grid, const json& defaults,
                       const std::map<std::string, Where>& default_origins, Spec* spec) {
  std::vector<Axis> axes;
  COHORT_ASSIGN_OR_RETURN(auto entries, grid.Entries());
  for (const auto& [path, node] : entries) {
    COHORT_ASSIGN_OR_RETURN(Axis axis, ParseAxis(path, node));
    axes.push_back(std::move(axis));
  }
  // Cartesian product, the last axis varying fastest.
  std::vector<size_t> index(axes.size(), 0);
  while (true) {
    Variant v;
    v.recipe = defaults;
    v.where = grid.where();
    v.origins = default_origins;
    std::vector<std::string> labels;
    for (size_t a = 0; a < axes.size(); ++a) {
      const AxisValue& value = axes[a].values[index[a]];
      v.recipe[axes[a].section][axes[a].key] = value.value;
      v.origins[axes[a].section + "." + axes[a].key] = value.where;
      labels.push_back(value.label);
    }
    v.name = labels.empty() ? spec->name : absl::StrJoin(labels, ",");
    COHORT_RETURN_IF_ERROR(ValidateRecipe(v));
    spec->variants.push_back(std::move(v));
    size_t a = axes.size();
    while (a > 0 && ++index[a - 1] == axes[a - 1].values.size()) index[--a] = 0;
    if (a == 0) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<Variant> ParseVariant(const YNode& node, const json& defaults,
                                     const std::map<std::string, Where>& default_origins) {
  COHORT_RETURN_IF_ERROR(node.CheckKeys({"name", "recipe", "digests"}));
  Variant v;
  v.where = node.where();
  COHORT_ASSIGN_OR_RETURN(YNode name, node.Require("name"));
  COHORT_ASSIGN_OR_RETURN(v.name, name.AsString());
  v.recipe = defaults;
  v.origins = default_origins;
  if (auto recipe = node.Get("recipe")) {
    COHORT_RETURN_IF_ERROR(ParseRecipeInto(*recipe, &v.recipe, &v.origins));
  }
  if (auto digests = node.Get("digests")) {
    COHORT_RETURN_IF_ERROR(
        digests->CheckKeys({"drop_map", "pruned", "gguf", "quantized"}));
    COHORT_ASSIGN_OR_RETURN(auto entries, digests->Entries());
    for (const auto& [artifact, value] : entries) {
      COHORT_ASSIGN_OR_RETURN(std::string d, value.AsString());
      if (!IsDigest(d)) return value.Error("expected sha256:<64 lowercase hex>");
      v.pinned[artifact] = d;
    }
  }
  COHORT_RETURN_IF_ERROR(ValidateRecipe(v));
  return v;
}

}  // namespace

absl::StatusOr<InputRef> ParseInput(const YNode& node, const std::string& kind,
                                    const std::string& base_dir) {
  InputRef ref;
  ref.kind = kind;
  ref.where = node.where();
  if (node.IsMap()) {
    COHORT_RETURN_IF_ERROR(node.CheckKeys({"path", "digest"}));
    if (auto path = node.Get("path")) {
      COHORT_ASSIGN_OR_RETURN(ref.path, ResolvePath(*path, base_dir));
    }
    if (auto digest = node.Get("digest")) {
      COHORT_ASSIGN_OR_RETURN(ref.digest, digest->AsString());
      if (!IsDigest(ref.digest)) {
        return digest->Error("expected sha256:<64 lowercase hex>");
      }
    }
    if (ref.empty()) return node.Error("needs a path or a digest");
    return ref;
  }
  COHORT_ASSIGN_OR_RETURN(std::string text, node.AsString());
  if (absl::StartsWith(text, "sha256:")) {
    if (!IsDigest(text)) return node.Error("expected sha256:<64 lowercase hex>");
    ref.digest = text;
  } else {
    COHORT_ASSIGN_OR_RETURN(ref.path, ResolvePath(node, base_dir));
  }
  return ref;
}

absl::Status ParseVariants(const YNode& root, const json& defaults,
                           const std::map<std::string, Where>& default_origins, Spec* spec) {
  std::optional<YNode> grid = root.Get("grid");
  std::optional<YNode> variants = root.Get("variants");
  if (grid && variants) {
    return variants->Error("give either grid or variants, not both");
  }
  if (spec->kind == "cohort" && !variants) {
    return root.Error("a cohort manifest needs 'variants'");
  }
  if (variants) {
    COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, variants->Items());
    if (items.empty()) return variants->Error("needs at least one variant");
    for (const YNode& item : items) {
      COHORT_ASSIGN_OR_RETURN(Variant v, ParseVariant(item, defaults, default_origins));
      spec->variants.push_back(std::move(v));
    }
  } else if (grid) {
    COHORT_RETURN_IF_ERROR(ParseGrid(*grid, defaults, default_origins, spec));
  } else {
    COHORT_RETURN_IF_ERROR(ParseGrid(YNode(YAML::Node(YAML::NodeType::Map),
                                           root.where().file, "grid"),
                                     defaults, default_origins, spec));
  }
  std::set<std::string> names;
  for (const Variant& v : spec->variants) {
    if (!names.insert(v.name).second) {
      return absl::InvalidArgumentError(
          v.where.Prefix() + "variant name '" + v.name + "' used twice");
    }
  }
  return absl::OkStatus();
}

}  // namespace spec_internal

namespace {

using spec_internal::ParseInput;
using spec_internal::YNode;

absl::Status ParseInputs(const YNode& root, const std::string& base_dir,
                         Spec* spec) {
  struct Slot {
    const char* key;
    const char* kind;
    InputRef* ref;
    bool required;
  };
  Slot slots[] = {{"base_model", "checkpoint", &spec->base_model, true},
                  {"contrib", "contribution", &spec->contrib, true},
                  {"v4_data", "contribution", &spec->v4_data, false},
                  {"floor_map", "drop_map", &spec->floor_map, false},
                  {"baseline_drop_map", "drop_map", &spec->baseline_drop_map, false},
                  {"calibration", "dataset", &spec->calibration, false}};
  for (const Slot& slot : slots) {
    std::optional<YNode> node = root.Get(slot.key);
    if (!node) {
      if (slot.required) return root.Error(absl::StrCat("missing required key '", slot.key, "'"));
      continue;
    }
    COHORT_ASSIGN_OR_RETURN(*slot.ref, ParseInput(*node, slot.kind, base_dir));
  }
  return absl::OkStatus();
}

absl::Status ParseHeader(const YNode& root, Spec* spec) {
  COHORT_ASSIGN_OR_RETURN(YNode kind, root.Require("kind"));
  COHORT_ASSIGN_OR_RETURN(spec->kind, kind.AsString());
  if (spec->kind != "sweep" && spec->kind != "cohort") {
    return kind.Error("expected 'sweep' or 'cohort'");
  }
  COHORT_ASSIGN_OR_RETURN(YNode name, root.Require("name"));
  COHORT_ASSIGN_OR_RETURN(spec->name, name.AsString());
  if (spec->name.empty()) return name.Error("must not be empty");
  if (auto priority = root.Get("priority")) {
    COHORT_ASSIGN_OR_RETURN(int64_t p, priority->AsInt());
    spec->priority = static_cast<int>(p);
  }
  if (auto attempts = root.Get("max_attempts")) {
    COHORT_ASSIGN_OR_RETURN(int64_t n, attempts->AsInt());
    if (n < 1 || n > 100) return attempts->Error("expected 1 to 100 attempts per step");
    spec->max_attempts = static_cast<int>(n);
  }
  if (auto labels = root.Get("labels")) {
    COHORT_ASSIGN_OR_RETURN(auto entries, labels->Entries());
    for (const auto& [k, v] : entries) {
      COHORT_ASSIGN_OR_RETURN(spec->labels[k], v.AsString());
    }
  }
  if (auto tools = root.Get("tools")) {
    COHORT_RETURN_IF_ERROR(tools->CheckKeys({"llama_cpp", "scorer_version"}));
    if (auto v = tools->Get("llama_cpp")) {
      COHORT_ASSIGN_OR_RETURN(spec->llama_cpp, v->AsString());
    }
    if (auto v = tools->Get("scorer_version")) {
      COHORT_ASSIGN_OR_RETURN(spec->scorer_version, v->AsString());
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Spec> ParseSpecText(const std::string& text,
                                   const std::string& source,
                                   const std::string& base_dir) {
  COHORT_ASSIGN_OR_RETURN(YNode root, YNode::Load(text, source));
  if (!root.IsMap()) return root.Error("a spec is a mapping (kind, name, ...)");
  COHORT_RETURN_IF_ERROR(root.CheckKeys(
      {"kind", "name", "priority", "max_attempts", "labels", "tools", "base_model", "contrib",
       "v4_data", "floor_map", "baseline_drop_map", "calibration", "recipe",
       "grid", "variants", "eval", "gates", "references"}));
  Spec spec;
  spec.source = source;
  COHORT_RETURN_IF_ERROR(ParseHeader(root, &spec));
  COHORT_RETURN_IF_ERROR(ParseInputs(root, base_dir, &spec));
  nlohmann::json defaults = spec_internal::DefaultRecipe();
  std::map<std::string, Where> default_origins;
  if (auto recipe = root.Get("recipe")) {
    COHORT_RETURN_IF_ERROR(spec_internal::ParseRecipeInto(*recipe, &defaults, &default_origins));
  }
  COHORT_RETURN_IF_ERROR(spec_internal::ParseVariants(root, defaults, default_origins, &spec));
  for (const Variant& v : spec.variants) {
    if (v.recipe["imatrix"]["enabled"].get<bool>() && spec.calibration.empty()) {
      return absl::InvalidArgumentError(
          v.where.Prefix() + "imatrix.enabled needs a top-level 'calibration' text file");
    }
  }
  COHORT_ASSIGN_OR_RETURN(YNode eval, root.Require("eval"));
  COHORT_RETURN_IF_ERROR(spec_internal::ParseEval(eval, base_dir, &spec.eval, &spec.warnings));
  if (auto gates = root.Get("gates")) {
    COHORT_ASSIGN_OR_RETURN(spec.gate, spec_internal::ParseGate(*gates, spec.eval, base_dir,
                                                                    &spec.warnings));
  }
  if (auto refs = root.Get("references")) {
    COHORT_ASSIGN_OR_RETURN(std::vector<YNode> items, refs->Items());
    std::set<std::string> names;
    for (const Variant& v : spec.variants) names.insert(v.name);
    for (const YNode& item : items) {
      COHORT_ASSIGN_OR_RETURN(Reference r, spec_internal::ParseReference(item, base_dir));
      if (!names.insert(r.name).second) {
        return item.Error("reference name '" + r.name + "' is already a variant or reference");
      }
      spec.references.push_back(std::move(r));
    }
  }
  return spec;
}

absl::StatusOr<Spec> ParseSpecFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read spec: ", text.status().message()));
  }
  std::string base = std::filesystem::absolute(path).parent_path().string();
  return ParseSpecText(*text, path, base);
}

}  // namespace cohort::client
