// File: yaml_reader.h
//
// Internal to client/spec: a yaml-cpp node together with the file and key
// path it was found under, so every accessor can fail with
// "file:line:column: key: what". yaml-cpp throws; these wrappers never do.
#ifndef COHORT_CLIENT_SPEC_YAML_READER_H_
#define COHORT_CLIENT_SPEC_YAML_READER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/spec.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace cohort::client::spec_internal {

// Immutable; cheap to copy (yaml-cpp nodes are handles).
class YNode {
 public:
  YNode(YAML::Node node, std::string file, std::string key);

  // Parses a whole document. Syntax errors name the file and position.
  static absl::StatusOr<YNode> Load(const std::string& text,
                                    const std::string& file);

  Where where() const;
  const std::string& key() const { return key_; }
  absl::Status Error(const std::string& what) const;

  bool IsMap() const { return node_.IsMap(); }
  bool IsSeq() const { return node_.IsSequence(); }
  bool IsScalar() const { return node_.IsScalar(); }
  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }
  // A scalar written in quotes (never a number or a boolean).
  bool IsQuoted() const { return node_.IsScalar() && node_.Tag() == "!"; }

  // Refuses keys outside `allowed`, naming the closest spelling rule.
  absl::Status CheckKeys(const std::vector<std::string>& allowed) const;
  // Requires a mapping; then the child at `key`, if present and not null.
  std::optional<YNode> Get(const std::string& key) const;
  absl::StatusOr<YNode> Require(const std::string& key) const;

  absl::StatusOr<std::string> AsString() const;
  absl::StatusOr<int64_t> AsInt() const;
  absl::StatusOr<double> AsDouble() const;
  absl::StatusOr<bool> AsBool() const;
  // Sequence items (key path "key[i]") or mapping entries ("key.name").
  absl::StatusOr<std::vector<YNode>> Items() const;
  absl::StatusOr<std::vector<std::pair<std::string, YNode>>> Entries() const;
  // Plain scalars become numbers/booleans/null where they read as such;
  // quoted scalars stay strings.
  absl::StatusOr<nlohmann::json> ToJson() const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string key_;
};

}  // namespace cohort::client::spec_internal

#endif  // COHORT_CLIENT_SPEC_YAML_READER_H_
