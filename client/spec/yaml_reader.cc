#include "client/spec/yaml_reader.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cohort::client {

std::string Where::Prefix() const {
  std::string out = file;
  if (line > 0) absl::StrAppend(&out, ":", line, ":", column);
  absl::StrAppend(&out, ": ");
  if (!key.empty()) absl::StrAppend(&out, key, ": ");
  return out;
}

namespace spec_internal {

YNode::YNode(YAML::Node node, std::string file, std::string key)
    : node_(std::move(node)), file_(std::move(file)), key_(std::move(key)) {}

absl::StatusOr<YNode> YNode::Load(const std::string& text,
                                  const std::string& file) {
  // yaml-cpp reports syntax errors only by exception; keep them in here.
  try {
    YAML::Node root = YAML::Load(text);
    return YNode(root, file, "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}

Where YNode::where() const {
  Where w;
  w.file = file_;
  w.key = key_;
  if (node_.IsDefined()) {
    YAML::Mark mark = node_.Mark();
    if (mark.line >= 0) {
      w.line = mark.line + 1;
      w.column = mark.column + 1;
    }
  }
  return w;
}

absl::Status YNode::Error(const std::string& what) const {
  return absl::InvalidArgumentError(where().Prefix() + what);
}

absl::Status YNode::CheckKeys(const std::vector<std::string>& allowed) const {
  if (!IsMap()) return Error("expected a mapping");
  for (const auto& entry : node_) {
    std::string name = entry.first.Scalar();
    bool known = false;
    for (const std::string& a : allowed) known = known || a == name;
    if (!known) {
      YNode child(entry.first, file_, key_.empty() ? name : key_ + "." + name);
      return child.Error(absl::StrCat("unknown key '", name,
                                      "' (expected one of: ",
                                      absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

std::optional<YNode> YNode::Get(const std::string& key) const {
  if (!IsMap()) return std::nullopt;
  YAML::Node child = node_[key];
  if (!child.IsDefined() || child.IsNull()) return std::nullopt;
  return YNode(child, file_, key_.empty() ? key : key_ + "." + key);
}

absl::StatusOr<YNode> YNode::Require(const std::string& key) const {
  if (!IsMap()) return Error("expected a mapping");
  std::optional<YNode> child = Get(key);
  if (!child) {
    return Error(absl::StrCat("missing required key '", key, "'"));
  }
  return *child;
}

absl::StatusOr<std::string> YNode::AsString() const {
  if (!IsScalar()) return Error("expected a string");
  return node_.Scalar();
}

absl::StatusOr<int64_t> YNode::AsInt() const {
  int64_t v = 0;
  if (!IsScalar() || IsQuoted() || !absl::SimpleAtoi(node_.Scalar(), &v)) {
    return Error("expected an integer");
  }
  return v;
}

absl::StatusOr<double> YNode::AsDouble() const {
  double v = 0;
  if (!IsScalar() || IsQuoted() || !absl::SimpleAtod(node_.Scalar(), &v) ||
      !std::isfinite(v)) {
    return Error("expected a finite number");
  }
  return v;
}

absl::StatusOr<bool> YNode::AsBool() const {
  if (IsScalar() && !IsQuoted()) {
    std::string s = absl::AsciiStrToLower(node_.Scalar());
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  return Error("expected true or false");
}

absl::StatusOr<std::vector<YNode>> YNode::Items() const {
  if (!IsSeq()) return Error("expected a list");
  std::vector<YNode> out;
  for (size_t i = 0; i < node_.size(); ++i) {
    out.emplace_back(node_[i], file_, absl::StrCat(key_, "[", i, "]"));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, YNode>>> YNode::Entries()
    const {
  if (!IsMap()) return Error("expected a mapping");
  std::vector<std::pair<std::string, YNode>> out;
  for (const auto& entry : node_) {
    std::string name = entry.first.Scalar();
    out.emplace_back(name, YNode(entry.second, file_,
                                 key_.empty() ? name : key_ + "." + name));
  }
  return out;
}

absl::StatusOr<nlohmann::json> YNode::ToJson() const {
  if (IsNull()) return nlohmann::json(nullptr);
  if (IsSeq()) {
    nlohmann::json out = nlohmann::json::array();
    absl::StatusOr<std::vector<YNode>> items = Items();
    if (!items.ok()) return items.status();
    for (const YNode& item : *items) {
      absl::StatusOr<nlohmann::json> v = item.ToJson();
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  }
  if (IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    absl::StatusOr<std::vector<std::pair<std::string, YNode>>> entries =
        Entries();
    if (!entries.ok()) return entries.status();
    for (const auto& [name, child] : *entries) {
      absl::StatusOr<nlohmann::json> v = child.ToJson();
      if (!v.ok()) return v.status();
      out[name] = std::move(*v);
    }
    return out;
  }
  const std::string& s = node_.Scalar();
  if (IsQuoted()) return nlohmann::json(s);
  int64_t i = 0;
  if (absl::SimpleAtoi(s, &i)) return nlohmann::json(i);
  double d = 0;
  if (absl::SimpleAtod(s, &d) && std::isfinite(d) &&
      s.find_first_of("0123456789") != std::string::npos) {
    return nlohmann::json(d);
  }
  absl::StatusOr<bool> b = AsBool();
  if (b.ok()) return nlohmann::json(*b);
  if (s == "~" || s == "null") return nlohmann::json(nullptr);
  return nlohmann::json(s);
}

}  // namespace spec_internal
}  // namespace cohort::client
