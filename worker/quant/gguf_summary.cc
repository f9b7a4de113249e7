#include "worker/quant/gguf_summary.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "worker/quant/ggml_types.h"

namespace cohort::worker::quant {
namespace {

absl::Status WrongType(const GgufContents& gguf, absl::string_view key,
                       const GgufValue& v, absl::string_view want) {
  return absl::InvalidArgumentError(
      absl::StrCat(gguf.file, ": metadata '", key, "' is a ",
                   GgufTypeName(v.type()), ", expected ", want));
}

absl::StatusOr<std::string> OptionalString(const GgufContents& gguf,
                                           absl::string_view key) {
  const GgufValue* v = gguf.Find(key);
  if (v == nullptr) return std::string();
  if (v->AsString() == nullptr) return WrongType(gguf, key, *v, "a string");
  return *v->AsString();
}

absl::StatusOr<std::optional<uint64_t>> OptionalCount(const GgufContents& gguf,
                                                      absl::string_view key) {
  const GgufValue* v = gguf.Find(key);
  if (v == nullptr) return std::optional<uint64_t>();
  std::optional<uint64_t> n = v->AsUint64();
  if (!n.has_value()) {
    return WrongType(gguf, key, *v, "a non-negative integer");
  }
  return n;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Show(const std::optional<uint64_t>& n) {
  return n.has_value() ? absl::StrCat("is ", *n) : "is missing";
}

}  // namespace

absl::StatusOr<GgufSummary> SummarizeGguf(const GgufContents& gguf) {
  GgufSummary s;
  s.file = gguf.file;
  s.version = gguf.version;
  COHORT_ASSIGN_OR_RETURN(s.architecture,
                          OptionalString(gguf, "general.architecture"));
  COHORT_ASSIGN_OR_RETURN(s.general_type, OptionalString(gguf, "general.type"));
  COHORT_ASSIGN_OR_RETURN(std::optional<uint64_t> file_type,
                          OptionalCount(gguf, "general.file_type"));
  if (file_type.has_value()) {
    if (*file_type > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(gguf.file, ": metadata 'general.file_type' ", *file_type,
                       " is out of range"));
    }
    s.file_type = static_cast<uint32_t>(*file_type);
    s.file_type_name = LlamaFileTypeName(*s.file_type);
  }
  if (!s.architecture.empty()) {
    const std::string& a = s.architecture;
    COHORT_ASSIGN_OR_RETURN(s.expert_count,
                            OptionalCount(gguf, a + ".expert_count"));
    COHORT_ASSIGN_OR_RETURN(s.expert_used_count,
                            OptionalCount(gguf, a + ".expert_used_count"));
    COHORT_ASSIGN_OR_RETURN(s.block_count,
                            OptionalCount(gguf, a + ".block_count"));
  }
  s.tensor_count = gguf.tensors.size();
  s.tensor_bytes = gguf.tensor_bytes;
  for (const GgufTensorInfo& t : gguf.tensors) {
    ++s.tensor_types[t.type_info->name];
    uint64_t elements = 1;
    for (uint64_t d : t.dims) elements *= d;  // the reader bounded each tensor's size
    s.parameters += elements;
  }
  return s;
}

absl::Status VerifyGguf(const GgufSummary& summary,
                        const GgufExpectations& expected) {
  if (expected.architecture.empty()) {
    return absl::InvalidArgumentError(
        "VerifyGguf: the expected architecture is empty");
  }
  std::vector<std::string> problems;
  if (summary.architecture != expected.architecture) {
    problems.push_back(absl::StrCat("architecture is '", summary.architecture,
                                    "', expected '", expected.architecture,
                                    "'"));
  }
  if (summary.expert_count != expected.expert_count) {
    std::string source =
        expected.expert_count_source.empty()
            ? ""
            : absl::StrCat(" (", expected.expert_count_source, ")");
    problems.push_back(absl::StrCat("expert_count ", Show(summary.expert_count),
                                    ", expected ", expected.expert_count,
                                    source));
  }
  if (expected.tensor_count.has_value() &&
      summary.tensor_count != *expected.tensor_count) {
    problems.push_back(absl::StrCat("tensor_count is ", summary.tensor_count,
                                    ", expected ", *expected.tensor_count));
  }
  if (expected.file_type.has_value()) {
    COHORT_ASSIGN_OR_RETURN(uint32_t want,
                            LlamaFileTypeFromName(*expected.file_type));
    if (summary.file_type != want) {
      problems.push_back(absl::StrCat(
          "file_type is ",
          summary.file_type_name.empty() ? "missing" : summary.file_type_name,
          ", expected ", LlamaFileTypeName(want)));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  std::string file = BaseName(summary.file);
  for (std::string& p : problems) p = absl::StrCat(file, ": ", p);
  return absl::FailedPreconditionError(absl::StrJoin(problems, "; "));
}

}  // namespace cohort::worker::quant
