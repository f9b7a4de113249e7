// File: hub_protocol.h
//
// The pure half of talking to the Hugging Face Hub's resolve endpoint, as
// huggingface_hub does:
//
//   HEAD {endpoint}/datasets/{repo}/resolve/{revision}/{path}
//     302 Location: <pre-signed CDN URL>       (LFS file; no Authorization there)
//         X-Linked-Etag: "<sha256 of the file>"  X-Linked-Size: <bytes>
//         X-Repo-Commit: <commit the revision resolved to>
//     200 ETag: "<git blob sha1>"               (small file served directly)
//     401/403 X-Error-Code: GatedRepo | RepoNotFound, 404 EntryNotFound |
//         RevisionNotFound
//
// URL building, header parsing and the wording of every failure, so the
// messages are tested without a network. hub_download.h does the I/O.
#ifndef COHORT_CLIENT_HUB_HUB_PROTOCOL_H_
#define COHORT_CLIENT_HUB_HUB_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cohort::client::hub {

inline constexpr char kDefaultEndpoint[] = "https://huggingface.co";

// A file of a dataset repository at a revision.
struct HubFile {
  std::string endpoint;  // HF_ENDPOINT or kDefaultEndpoint, no trailing '/'
  std::string repo;      // owner/name
  std::string revision;  // branch, tag or commit
  std::string path;      // inside the repository
};

// HF_ENDPOINT's value (trailing '/' dropped), or kDefaultEndpoint if empty.
std::string EndpointOrDefault(const std::string& env_value);

// {endpoint}/datasets/{repo}/resolve/{revision}/{path}; the revision is
// percent-encoded whole (a branch "refs/pr/1" becomes refs%2Fpr%2F1), the
// path keeps its '/'.
std::string ResolveUrl(const HubFile& f);
// {endpoint}/datasets/{repo}: where its terms are accepted.
std::string RepoPage(const HubFile& f);

// "Name: value\r\n" -> name (lowercased) and value (trimmed); false for a
// line that is not a header (the status line, the blank line).
bool ParseHeaderLine(absl::string_view line, std::string* name, std::string* value);
// An ETag without W/ and quotes.
std::string NormalizeEtag(absl::string_view etag);
// The file's sha256 from X-Linked-Etag (else ETag) when it is one: 64 hex
// digits. A git blob id (40 hex, small non-LFS files) gives "".
std::string AnnouncedSha256(const std::string& linked_etag, const std::string& etag);

// An HTTP answer that is not what a download needs.
struct HttpFailure {
  int status = 0;
  std::string error_code;     // X-Error-Code
  std::string error_message;  // X-Error-Message
  std::string url;
  bool token_sent = false;
  bool from_hub = true;  // false: the CDN host a redirect pointed to
};

// 401/403 gated (kPermissionDenied: accept the terms, set HF_TOKEN), 404 and
// RepoNotFound (kFailedPrecondition naming repo, revision and file), 429 and
// 5xx (kUnavailable: try again), anything else kFailedPrecondition.
absl::Status HttpError(const HubFile& f, const HttpFailure& h);

enum class TransportFailure {
  kNoConnection,  // DNS, refused, unreachable: "no network"
  kInterrupted,   // the transfer broke off; the partial file is kept
  kOther,
};

// The message for a failure below HTTP. kUnavailable for no connection,
// kAborted for an interrupted transfer (resumable), kInternal otherwise.
absl::Status TransportError(TransportFailure kind, const HubFile& f, const std::string& host,
                            const std::string& detail, uint64_t done,
                            std::optional<uint64_t> total);

// "1.5 MiB", "512 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace cohort::client::hub

#endif  // COHORT_CLIENT_HUB_HUB_PROTOCOL_H_
