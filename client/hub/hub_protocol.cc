#include "client/hub/hub_protocol.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cohort::client::hub {
namespace {

bool Unreserved(char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string Quote(absl::string_view text, bool keep_slash) {
  std::string out;
  for (char c : text) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

bool IsHex(absl::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

std::string Where(const HubFile& f) {
  return absl::StrCat("datasets/", f.repo, " revision ", f.revision, " file ", f.path);
}

std::string Gated(const HubFile& f, const HttpFailure& h) {
  std::string out = absl::StrCat("gated dataset: accept its terms at ", RepoPage(f),
                                 " and set HF_TOKEN (HTTP ", h.status, " for ", Where(f));
  if (h.token_sent) {
    absl::StrAppend(&out, "; the HF_TOKEN sent was refused: it must belong to the account "
                          "that accepted the terms, with read access");
  }
  if (!h.error_message.empty()) absl::StrAppend(&out, "; the Hub says: ", h.error_message);
  return out + ")";
}

absl::Status NotFound(const HubFile& f, const HttpFailure& h) {
  std::string what;
  if (h.error_code == "RepoNotFound") {
    what = absl::StrCat("there is no dataset repository ", f.repo,
                        h.token_sent ? "" : " (or it is private: set HF_TOKEN)");
  } else if (h.error_code == "RevisionNotFound") {
    what = absl::StrCat("datasets/", f.repo, " has no revision ", f.revision);
  } else {
    what = absl::StrCat("datasets/", f.repo, " at revision ", f.revision, " has no file ",
                        f.path);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "not found on the Hub: ", what, " (HTTP ", h.status,
      h.error_code.empty() ? "" : " " + h.error_code, " at ", h.url, ")"));
}

absl::Status FromCdn(const HubFile& f, const HttpFailure& h) {
  std::string why = (h.status == 401 || h.status == 403)
                        ? "refused the pre-signed link (it may have expired): run the same "
                          "command again"
                        : "did not serve the file";
  return absl::FailedPreconditionError(absl::StrCat(
      "the download host the Hub redirected to ", why, " (HTTP ", h.status, " for ", Where(f),
      h.error_message.empty() ? "" : ": " + h.error_message, ")"));
}

}  // namespace

std::string EndpointOrDefault(const std::string& env_value) {
  std::string e(absl::StripSuffix(env_value, "/"));
  return e.empty() ? kDefaultEndpoint : e;
}

std::string ResolveUrl(const HubFile& f) {
  return absl::StrCat(f.endpoint, "/datasets/", f.repo, "/resolve/", Quote(f.revision, false),
                      "/", Quote(f.path, true));
}

std::string RepoPage(const HubFile& f) { return absl::StrCat(f.endpoint, "/datasets/", f.repo); }

bool ParseHeaderLine(absl::string_view line, std::string* name, std::string* value) {
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view n = line.substr(0, colon);
  if (absl::StrContains(n, ' ')) return false;  // "HTTP/1.1 302 Found"
  *name = absl::AsciiStrToLower(n);
  *value = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  return true;
}

std::string NormalizeEtag(absl::string_view etag) {
  etag = absl::StripAsciiWhitespace(etag);
  absl::ConsumePrefix(&etag, "W/");
  absl::ConsumePrefix(&etag, "\"");
  absl::ConsumeSuffix(&etag, "\"");
  return std::string(etag);
}

std::string AnnouncedSha256(const std::string& linked_etag, const std::string& etag) {
  std::string e = NormalizeEtag(linked_etag.empty() ? etag : linked_etag);
  return IsHex(e, 64) ? absl::AsciiStrToLower(e) : "";
}

absl::Status HttpError(const HubFile& f, const HttpFailure& h) {
  if (!h.from_hub) return FromCdn(f, h);
  if (h.error_code == "RepoNotFound" || h.status == 404) return NotFound(f, h);
  if (h.status == 401 || h.status == 403) return absl::PermissionDeniedError(Gated(f, h));
  if (h.status == 429 || h.status >= 500) {
    return absl::UnavailableError(absl::StrCat(
        "the Hub answered HTTP ", h.status, h.status == 429 ? " (rate limited)" : "", " for ",
        Where(f), ": try again later"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "unexpected HTTP ", h.status, " from the Hub for ", Where(f), " at ", h.url,
      h.error_message.empty() ? "" : ": " + h.error_message));
}

absl::Status TransportError(TransportFailure kind, const HubFile& f, const std::string& host,
                            const std::string& detail, uint64_t done,
                            std::optional<uint64_t> total) {
  switch (kind) {
    case TransportFailure::kNoConnection:
      return absl::UnavailableError(absl::StrCat(
          "cannot reach ", host, " (no network?): ", detail, ". Fetching datasets/", f.repo,
          " needs the network; HF_ENDPOINT names a mirror, and files copied by hand into a "
          "data folder (--data-dir, COHORT_DATA_DIR) are found without fetching"));
    case TransportFailure::kInterrupted:
      return absl::AbortedError(absl::StrCat(
          "download of ", f.path, " from ", host, " broke off after ", FormatBytes(done),
          total ? absl::StrCat(" of ", FormatBytes(*total)) : "", " (", detail,
          "); the partial file is kept: run the same command again to resume"));
    case TransportFailure::kOther:
      break;
  }
  return absl::InternalError(absl::StrCat("fetching ", Where(f), " from ", host, ": ", detail));
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace cohort::client::hub
