#include "server/jobgraph/params_schema.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/vllm_options.h"

namespace cohort::server {
namespace {

using json = nlohmann::json;

enum class Type { kString, kNumber, kInteger, kBoolean, kObject, kArray };

struct Field {
  const char* path;  // "server.parallel": a field of an object field
  Type type;
};

const char* TypeName(Type type) {
  switch (type) {
    case Type::kString: return "a string";
    case Type::kNumber: return "a number";
    case Type::kInteger: return "an integer";
    case Type::kBoolean: return "true or false";
    case Type::kObject: return "an object";
    case Type::kArray: return "a list";
  }
  return "?";
}

bool Matches(const json& value, Type type) {
  switch (type) {
    case Type::kString: return value.is_string();
    case Type::kNumber: return value.is_number();
    case Type::kInteger: return value.is_number_integer();
    case Type::kBoolean: return value.is_boolean();
    case Type::kObject: return value.is_object();
    case Type::kArray: return value.is_array();
  }
  return false;
}

std::vector<Field> FieldsOf(StepKind kind) {
  switch (kind) {
    case StepKind::kDropmap:
      return {{"flags", Type::kObject}};
    case StepKind::kPrune:
      return {{"layout", Type::kString},      {"suffix", Type::kString},
              {"even_group_drop", Type::kBoolean}, {"upweight", Type::kObject},
              {"upweight.alpha", Type::kNumber},   {"upweight.target", Type::kString}};
    case StepKind::kUpweight:
      return {{"alpha", Type::kNumber}, {"target", Type::kString}};
    case StepKind::kConvert:
      return {{"outtype", Type::kString}};
    case StepKind::kImatrix:
      return {{"chunks", Type::kInteger}};
    case StepKind::kQuantize:
      return {{"type", Type::kString}, {"tensor_types", Type::kArray}};
    case StepKind::kQuantmap:
      return {{"target_bpw", Type::kNumber}, {"types", Type::kArray}, {"tensors", Type::kArray}};
    case StepKind::kGenerate:
      return {{"bench", Type::kString},           {"profile", Type::kObject},
              {"server", Type::kObject},          {"server.parallel", Type::kInteger},
              {"server.ctx_size", Type::kInteger}, {"shard", Type::kObject},
              {"shard.index", Type::kInteger},    {"shard.count", Type::kInteger},
              {"endpoint", Type::kObject},        {"endpoint.url", Type::kString},
              {"endpoint.model", Type::kString},  {"endpoint.parallel", Type::kInteger},
              {"vllm", Type::kObject}};
    case StepKind::kScore:
      return {{"bench", Type::kString}, {"profile", Type::kObject}};
    case StepKind::kGate:
      return {{"metric", Type::kString}, {"op", Type::kString}, {"value", Type::kNumber}};
    default:
      return {};
  }
}

// The value at a one- or two-part path; nullptr when absent (or when its
// parent is not an object: the parent's own check reports that).
const json* At(const json& params, const std::string& path) {
  size_t dot = path.find('.');
  const std::string first = path.substr(0, dot);
  auto it = params.find(first);
  if (it == params.end()) return nullptr;
  if (dot == std::string::npos) return &*it;
  if (!it->is_object()) return nullptr;
  auto inner = it->find(path.substr(dot + 1));
  return inner == it->end() ? nullptr : &*inner;
}

}  // namespace

absl::Status CheckParamTypes(StepKind kind, const json& params) {
  for (const Field& field : FieldsOf(kind)) {
    const json* value = At(params, field.path);
    if (value == nullptr || Matches(*value, field.type)) continue;
    return absl::InvalidArgumentError(absl::StrCat("params.", field.path, " must be ",
                                                   TypeName(field.type), ", not ",
                                                   value->type_name()));
  }
  // A checkpoint served by vLLM: its settings are the only things of a
  // campaign that reach vLLM's command line, each typed and in range.
  if (kind == StepKind::kGenerate && params.is_object() && params.contains("vllm")) {
    if (absl::Status s = CheckVllmSettings(params["vllm"]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("params.", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace cohort::server
