#include "common/safe_path.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cohort {
namespace {

absl::Status Refuse(absl::string_view what, absl::string_view text, absl::string_view why) {
  // Long texts are cut in the message: the problem is named, the whole
  // (possibly huge) request is not echoed back.
  std::string shown = absl::CHexEscape(text.substr(0, 120));
  if (text.size() > 120) absl::StrAppend(&shown, "...");
  return absl::InvalidArgumentError(absl::StrCat(what, " '", shown, "' ", why));
}

// The checks shared by relative and absolute paths, on the components
// after any leading '/'.
absl::Status CheckComponents(absl::string_view path, absl::string_view body,
                             absl::string_view what) {
  if (path.size() > kMaxPathBytes) {
    return Refuse(what, path, absl::StrCat("is longer than ", kMaxPathBytes, " bytes"));
  }
  for (char c : path) {
    if (c == '\0') return Refuse(what, path, "contains a NUL byte");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Refuse(what, path, "contains a control character");
    }
  }
  for (absl::string_view part : absl::StrSplit(body, '/')) {
    if (part == "..") return Refuse(what, path, "has a '..' component");
    if (part == ".") return Refuse(what, path, "has a '.' component");
    if (part.empty()) return Refuse(what, path, "has an empty component");
    if (part.size() > kMaxNameBytes) {
      return Refuse(what, path,
                    absl::StrCat("has a component longer than ", kMaxNameBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRelativePath(absl::string_view path, absl::string_view what) {
  if (path.empty()) return Refuse(what, path, "is empty");
  if (path.front() == '/') return Refuse(what, path, "is absolute");
  return CheckComponents(path, path, what);
}

absl::Status CheckPlainName(absl::string_view name, absl::string_view what) {
  if (absl::Status s = CheckRelativePath(name, what); !s.ok()) return s;
  if (name.find('/') != absl::string_view::npos) return Refuse(what, name, "contains '/'");
  return absl::OkStatus();
}

absl::Status CheckAbsolutePath(absl::string_view path, absl::string_view what) {
  if (path.empty()) return Refuse(what, path, "is empty");
  if (path.front() != '/') return Refuse(what, path, "is not absolute");
  if (path == "/") return Refuse(what, path, "is the root folder");
  // "/srv/models/base/" names the folder as well as "/srv/models/base".
  absl::string_view body = path.substr(1);
  if (body.size() > 1 && body.back() == '/') body.remove_suffix(1);
  return CheckComponents(path, body, what);
}

}  // namespace cohort
