// File: hub_download.h
//
// The libcurl shell that fetches one file of a Hub dataset repository:
//
//   COHORT_ASSIGN_OR_RETURN(HubMetadata m, FetchMetadata(file, token));
//   DownloadRequest r{file, m.download_url, m.same_origin ? token : "", dest, ...};
//   COHORT_ASSIGN_OR_RETURN(DownloadResult got, DownloadFile(r, &progress));
//
// FetchMetadata asks the resolve endpoint with HEAD and does not follow its
// redirect to the CDN: it reads the commit, the announced sha256 and size on
// the way. Redirects within the Hub's own origin (a renamed repository) are
// followed with the token; a redirect to another host is the pre-signed
// download link, which gets no Authorization header (as huggingface_hub).
//
// DownloadFile writes <dest>.part and renames it to <dest> once the bytes
// match the expected sha256. An interrupted transfer keeps the .part (and
// <dest>.part.json: the server's ETag and what the bytes belong to), and the
// next call resumes it with Range and If-Range: a changed file on the
// server answers 200 and the download starts over. The size is bounded; a
// digest mismatch deletes the .part and says so.
#ifndef COHORT_CLIENT_HUB_HUB_DOWNLOAD_H_
#define COHORT_CLIENT_HUB_HUB_DOWNLOAD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/hub/hub_protocol.h"
#include "client/hub/progress.h"

namespace cohort::client::hub {

struct HubMetadata {
  std::string download_url;
  bool same_origin = true;        // the token may go with the download
  std::string commit;             // X-Repo-Commit
  std::string announced_sha256;   // X-Linked-Etag of an LFS file, else ""
  std::optional<uint64_t> size;   // X-Linked-Size, else Content-Length
};

// Errors: HttpError and TransportError (hub_protocol.h).
absl::StatusOr<HubMetadata> FetchMetadata(const HubFile& file, const std::string& token);

struct DownloadRequest {
  HubFile file;  // for messages
  std::string url;
  std::string token;  // sent when not empty; never across a redirect
  std::string dest;
  std::optional<std::string> want_sha256;
  std::optional<uint64_t> want_bytes;  // the exact size, when known
  uint64_t max_bytes = uint64_t{64} << 30;  // bound when the size is not known
  // What a partial file must have been downloaded for (the announced
  // digest, or commit and path) to be resumed; "" resumes any.
  std::string validator;
  bool url_is_hub = false;  // the Hub itself serves the bytes (not the CDN)
};

struct DownloadResult {
  std::string sha256;
  uint64_t bytes = 0;
  uint64_t resumed_from = 0;  // 0: downloaded from the start
};

// kDataLoss for a digest mismatch (the .part removed), kAborted for an
// interrupted transfer (the .part kept), kUnavailable for no connection.
absl::StatusOr<DownloadResult> DownloadFile(const DownloadRequest& request,
                                            ProgressDisplay* progress);

}  // namespace cohort::client::hub

#endif  // COHORT_CLIENT_HUB_HUB_DOWNLOAD_H_
