#include "common/json_fields.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cohort {

using json = nlohmann::json;

JsonFields::JsonFields(const json& object, std::string where)
    : object_(object), where_(std::move(where)) {}

absl::Status JsonFields::CheckObject() const {
  if (object_.is_object()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(where_, " is ", object_.type_name(), ", not an object"));
}

bool JsonFields::Has(const char* key) const {
  return object_.is_object() && object_.contains(key);
}

bool JsonFields::IsNull(const char* key) const { return !Has(key) || object_.at(key).is_null(); }

absl::Status JsonFields::Require(const char* key) const { return Member(key).status(); }

JsonFields JsonFields::Child(const char* key) const {
  static const json kNull;
  return JsonFields(Has(key) ? object_.at(key) : kNull, absl::StrCat(where_, ".", key));
}

absl::StatusOr<std::vector<JsonFields>> JsonFields::Elements(const char* key) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (!value->is_array()) return WrongType(key, *value, "an array");
  std::vector<JsonFields> out;
  out.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    out.emplace_back((*value)[i], absl::StrCat(where_, ".", key, "[", i, "]"));
  }
  return out;
}

absl::Status JsonFields::Int(const char* key, int64_t* out) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (!value->is_number_integer() ||
      (value->is_number_unsigned() && value->get<uint64_t>() > INT64_MAX)) {
    return WrongType(key, *value, "an integer");
  }
  *out = value->get<int64_t>();
  return absl::OkStatus();
}

absl::Status JsonFields::Uint(const char* key, uint64_t* out) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (!value->is_number_unsigned()) return WrongType(key, *value, "an integer >= 0");
  *out = value->get<uint64_t>();
  return absl::OkStatus();
}

absl::Status JsonFields::Double(const char* key, double* out) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (!value->is_number()) return WrongType(key, *value, "a number");
  *out = value->get<double>();
  return absl::OkStatus();
}

absl::Status JsonFields::Bool(const char* key, bool* out) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (!value->is_boolean()) return WrongType(key, *value, "true or false");
  *out = value->get<bool>();
  return absl::OkStatus();
}

absl::Status JsonFields::String(const char* key, std::string* out) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (!value->is_string()) return WrongType(key, *value, "a string");
  *out = value->get<std::string>();
  return absl::OkStatus();
}

absl::Status JsonFields::NullableDouble(const char* key, std::optional<double>* out) const {
  COHORT_ASSIGN_OR_RETURN(const json* value, Member(key));
  if (value->is_null()) {
    out->reset();
    return absl::OkStatus();
  }
  double d = 0;
  COHORT_RETURN_IF_ERROR(Double(key, &d));
  *out = d;
  return absl::OkStatus();
}

absl::Status JsonFields::Strings(const char* key, std::vector<std::string>* out) const {
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonFields> items, Elements(key));
  out->clear();
  for (const JsonFields& item : items) {
    if (!item.object_.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(item.where_, " is ", item.object_.type_name(), ", not a string"));
    }
    out->push_back(item.object_.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status JsonFields::Doubles(const char* key, std::vector<double>* out) const {
  COHORT_ASSIGN_OR_RETURN(std::vector<JsonFields> items, Elements(key));
  out->clear();
  for (const JsonFields& item : items) {
    if (!item.object_.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(item.where_, " is ", item.object_.type_name(), ", not a number"));
    }
    out->push_back(item.object_.get<double>());
  }
  return absl::OkStatus();
}

absl::Status JsonFields::Counts(const char* key, std::map<std::string, int64_t>* out) const {
  JsonFields counts = Child(key);
  COHORT_RETURN_IF_ERROR(Require(key));
  COHORT_RETURN_IF_ERROR(counts.CheckObject());
  out->clear();
  for (const auto& [name, value] : counts.object_.items()) {
    COHORT_RETURN_IF_ERROR(counts.Int(name.c_str(), &(*out)[name]));
  }
  return absl::OkStatus();
}

absl::StatusOr<const json*> JsonFields::Member(const char* key) const {
  if (!object_.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where_, " is ", object_.type_name(), ", not an object"));
  }
  auto it = object_.find(key);
  if (it == object_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(where_, ".", key, " is missing"));
  }
  return &*it;
}

absl::Status JsonFields::WrongType(const char* key, const json& value, const char* wanted) const {
  return absl::InvalidArgumentError(
      absl::StrCat(where_, ".", key, " is ", value.type_name(), ", not ", wanted));
}

}  // namespace cohort
