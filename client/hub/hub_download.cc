#include "client/hub/hub_download.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/errno_status.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "curl/curl.h"
#include "nlohmann/json.hpp"

namespace cohort::client::hub {
namespace {

namespace fs = std::filesystem;

constexpr long kMaxHubHops = 5;
constexpr size_t kErrorBodyBytes = 4096;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Curl = std::unique_ptr<CURL, CurlDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// The headers of the last response (a redirect chain resets them).
struct Headers {
  long status = 0;
  std::map<std::string, std::string> values;
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* h = static_cast<Headers*>(user);
  absl::string_view line(data, size * n);
  if (absl::StartsWith(line, "HTTP/")) {
    h->values.clear();
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    int code = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &code)) h->status = code;
    return size * n;
  }
  std::string name, value;
  if (ParseHeaderLine(line, &name, &value)) h->values[name] = value;
  return size * n;
}

// Scheme, host and port of a URL, to tell the Hub's origin from the CDN's.
std::string Origin(const std::string& url) {
  CURLU* u = curl_url();
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char *scheme = nullptr, *host = nullptr, *port = nullptr;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    out = absl::StrCat(scheme ? scheme : "", "://", host ? host : "", ":", port ? port : "");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return out;
}

std::string HostOf(const std::string& url) {
  std::string o = Origin(url);
  absl::string_view v(o);
  if (!absl::ConsumePrefix(&v, "https://")) absl::ConsumePrefix(&v, "http://");
  return std::string(v);
}

TransportFailure Classify(CURLcode rc, long status) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return TransportFailure::kNoConnection;
    case CURLE_OPERATION_TIMEDOUT:
      return status == 0 ? TransportFailure::kNoConnection : TransportFailure::kInterrupted;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportFailure::kInterrupted;
    default:
      return TransportFailure::kOther;
  }
}

// Settings every request shares.
Curl NewHandle(const std::string& url, char* error_buffer) {
  GlobalInit();
  Curl c(curl_easy_init());
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_USERAGENT, "cohort/" COHORT_VERSION);
  curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  // A stalled transfer (under 1 KiB/s for a minute) counts as interrupted.
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  return c;
}

std::string Detail(CURLcode rc, const char* error_buffer) {
  return error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
}

Slist RequestHeaders(const std::string& token, std::initializer_list<std::string> extra) {
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Accept-Encoding: identity");
  if (!token.empty()) list = curl_slist_append(list, ("Authorization: Bearer " + token).c_str());
  for (const std::string& h : extra) {
    if (!h.empty()) list = curl_slist_append(list, h.c_str());
  }
  return Slist(list);
}

std::optional<uint64_t> ParseSize(const std::string& text) {
  uint64_t v = 0;
  if (!text.empty() && absl::SimpleAtoi(text, &v)) return v;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<HubMetadata> FetchMetadata(const HubFile& file, const std::string& token) {
  const std::string hub_origin = Origin(file.endpoint);
  std::string url = ResolveUrl(file);
  HubMetadata m;
  for (long hop = 0; hop <= kMaxHubHops; ++hop) {
    char error_buffer[CURL_ERROR_SIZE] = {0};
    Curl c = NewHandle(url, error_buffer);
    Headers h;
    // Only the Hub's own origin sees the token.
    bool send_token = !token.empty() && Origin(url) == hub_origin;
    Slist headers = RequestHeaders(send_token ? token : "", {});
    curl_easy_setopt(c.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &h);
    CURLcode rc = curl_easy_perform(c.get());
    if (rc != CURLE_OK) {
      TransportFailure kind = Classify(rc, h.status);
      if (kind == TransportFailure::kInterrupted) kind = TransportFailure::kOther;
      return TransportError(kind, file, HostOf(url), Detail(rc, error_buffer), 0, std::nullopt);
    }
    if (m.commit.empty()) m.commit = h.Get("x-repo-commit");
    if (h.status >= 300 && h.status < 400) {
      char* location = nullptr;
      curl_easy_getinfo(c.get(), CURLINFO_REDIRECT_URL, &location);
      if (location == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the Hub answered HTTP ", h.status, " without a Location for ", url));
      }
      std::string next = location;
      m.announced_sha256 = AnnouncedSha256(h.Get("x-linked-etag"), h.Get("etag"));
      m.size = ParseSize(h.Get("x-linked-size"));
      if (Origin(next) != hub_origin) {  // the pre-signed CDN link
        m.download_url = next;
        m.same_origin = false;
        return m;
      }
      url = next;
      continue;
    }
    if (h.status == 200) {
      m.download_url = url;
      m.same_origin = true;
      m.announced_sha256 = AnnouncedSha256(h.Get("x-linked-etag"), h.Get("etag"));
      m.size = ParseSize(h.Get("x-linked-size"));
      if (!m.size) m.size = ParseSize(h.Get("content-length"));
      return m;
    }
    return HttpError(file, HttpFailure{static_cast<int>(h.status), h.Get("x-error-code"),
                                       h.Get("x-error-message"), url, send_token, true});
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the Hub redirected more than ", kMaxHubHops, " times for ", ResolveUrl(file)));
}

namespace {

// <dest>.part.json: what the partial bytes are, so a resume asks for the
// same object (If-Range) and a partial file of another version is dropped.
struct PartInfo {
  std::string validator;
  std::string etag;
};

std::optional<PartInfo> ReadPartInfo(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return std::nullopt;
  absl::StatusOr<nlohmann::json> j = ParseJson(*text, path);
  if (!j.ok() || !j->is_object()) return std::nullopt;
  PartInfo p;
  if (j->contains("validator") && (*j)["validator"].is_string()) p.validator = (*j)["validator"];
  if (j->contains("etag") && (*j)["etag"].is_string()) p.etag = (*j)["etag"];
  return p;
}

absl::Status WritePartInfo(const std::string& path, const PartInfo& p) {
  nlohmann::json j = {{"validator", p.validator}, {"etag", p.etag}};
  return WriteFileAtomically(path, j.dump() + "\n");
}

void RemovePart(const std::string& part, const std::string& info) {
  std::error_code ec;
  fs::remove(part, ec);
  fs::remove(info, ec);
}

// The transfer's state, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  int fd = -1;
  std::string part_path;
  std::string info_path;
  PartInfo info;
  Headers headers;
  Sha256* hasher = nullptr;
  uint64_t offset = 0;   // bytes of the file before this response's body
  uint64_t written = 0;  // body bytes of this response written
  uint64_t bound = 0;
  std::optional<uint64_t> total;
  bool started = false;  // the first body byte of the final response seen
  bool restarted = false;
  bool discard = false;  // the bytes received are wrong: drop the .part
  long status = 0;
  std::string error_body;
  absl::Status error;  // set when a callback stops the transfer
  ProgressDisplay* progress = nullptr;
  std::unique_ptr<Sha256> fresh_hasher;
};

absl::Status StartBody(Transfer* t) {
  t->started = true;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
  if (t->status == 206) {
    std::string range = t->headers.Get("content-range");  // "bytes 100-199/200"
    if (!absl::StartsWith(range, absl::StrCat("bytes ", t->offset, "-"))) {
      t->discard = true;
      return absl::FailedPreconditionError(absl::StrCat(
          "asked to resume at byte ", t->offset, " and got Content-Range '", range, "'"));
    }
  } else if (t->status == 200) {
    // A full body: the server holds another version, or ignored the range.
    if (t->offset > 0) {
      if (ftruncate(t->fd, 0) != 0 || lseek(t->fd, 0, SEEK_SET) != 0) {
        return ErrnoToStatus(errno, "truncating " + t->part_path);
      }
      t->fresh_hasher = std::make_unique<Sha256>();
      t->hasher = t->fresh_hasher.get();
      t->offset = 0;
      t->restarted = true;
    }
  } else {
    return absl::OkStatus();  // an error status: the body is kept for the message
  }
  if (t->status == 200) {
    std::optional<uint64_t> length = ParseSize(t->headers.Get("content-length"));
    if (length && !t->total) t->total = length;
  }
  t->info.etag = t->headers.Get("etag");
  return WritePartInfo(t->info_path, t->info);
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (!t->started) {
    t->error = StartBody(t);
    if (!t->error.ok()) return 0;
  }
  if (t->status != 200 && t->status != 206) {
    size_t room = kErrorBodyBytes - std::min(kErrorBodyBytes, t->error_body.size());
    t->error_body.append(data, std::min(len, room));
    return len;
  }
  if (t->offset + t->written + len > t->bound) {
    t->discard = true;
    t->error = absl::FailedPreconditionError(absl::StrCat(
        "the server sent more than the ", t->bound,
        " bytes expected; the partial file was removed"));
    return 0;
  }
  for (size_t done = 0; done < len;) {
    ssize_t w = write(t->fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      t->error = ErrnoToStatus(errno, "writing " + t->part_path);
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  t->hasher->Update(data, len);
  t->written += len;
  if (t->progress != nullptr) t->progress->Update(t->offset + t->written, t->total);
  return len;
}

// Feeds the existing partial bytes to the hasher; false if they cannot be read.
bool HashPrefix(const std::string& path, uint64_t size, Sha256* hasher) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string buf(1 << 20, '\0');
  uint64_t left = size;
  while (left > 0) {
    ssize_t r = read(fd, buf.data(), std::min<uint64_t>(buf.size(), left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    hasher->Update(buf.data(), static_cast<size_t>(r));
    left -= static_cast<uint64_t>(r);
  }
  close(fd);
  return left == 0;
}

// How much of a partial file can be kept, given what it was downloaded for.
uint64_t ResumableBytes(const DownloadRequest& r, const std::string& part,
                        const std::string& info_path, PartInfo* info) {
  std::error_code ec;
  uint64_t size = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
  if (ec) size = 0;
  std::optional<PartInfo> saved = ReadPartInfo(info_path);
  bool same = saved && (saved->validator.empty() || r.validator.empty() ||
                        saved->validator == r.validator);
  if (size == 0 || !same || (r.want_bytes && size > *r.want_bytes)) {
    RemovePart(part, info_path);
    return 0;
  }
  *info = *saved;
  return size;
}

absl::Status Finish(const DownloadRequest& r, const std::string& part,
                    const std::string& info_path, uint64_t size, const std::string& sha256) {
  if (r.want_sha256 && sha256 != *r.want_sha256) {
    RemovePart(part, info_path);
    return absl::DataLossError(absl::StrCat(
        "sha256 mismatch for ", r.dest, " (datasets/", r.file.repo, " ", r.file.path,
        " at revision ", r.file.revision, "): got ", sha256, ", expected ", *r.want_sha256,
        "; the downloaded file was removed"));
  }
  if (r.want_bytes && size != *r.want_bytes) {
    RemovePart(part, info_path);
    return absl::DataLossError(absl::StrCat("size mismatch for ", r.dest, ": got ", size,
                                            " bytes, expected ", *r.want_bytes,
                                            "; the downloaded file was removed"));
  }
  if (std::rename(part.c_str(), r.dest.c_str()) != 0) {
    return ErrnoToStatus(errno, "renaming " + part + " to " + r.dest);
  }
  std::error_code ec;
  fs::remove(info_path, ec);
  return SyncDirectory(fs::path(r.dest).parent_path().string());
}

absl::Status RunTransfer(const DownloadRequest& r, Transfer* t) {
  char error_buffer[CURL_ERROR_SIZE] = {0};
  Curl c = NewHandle(r.url, error_buffer);
  t->curl = c.get();
  std::string range, if_range;
  if (t->offset > 0) {
    range = absl::StrCat("Range: bytes=", t->offset, "-");
    // If-Range needs a strong validator; without one the digest still guards.
    if (!t->info.etag.empty() && !absl::StartsWith(t->info.etag, "W/")) {
      if_range = "If-Range: " + t->info.etag;
    }
  }
  Slist headers = RequestHeaders(r.token, {range, if_range});
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  // Following redirects only without a token: nothing to leak.
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, r.token.empty() ? 1L : 0L);
  curl_easy_setopt(c.get(), CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &t->headers);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, t);
  CURLcode rc = curl_easy_perform(c.get());
  if (!t->error.ok()) return t->error;
  long status = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
  const std::string host = HostOf(r.url);
  if (rc != CURLE_OK) {
    return TransportError(Classify(rc, status), r.file, host, Detail(rc, error_buffer),
                          t->offset + t->written, t->total);
  }
  if (!t->started) {  // an empty body: 200 for an empty file, or an error
    t->error = StartBody(t);
    if (!t->error.ok()) return t->error;
  }
  if (status != 200 && status != 206) {
    return HttpError(r.file, HttpFailure{static_cast<int>(status),
                                         t->headers.Get("x-error-code"),
                                         t->headers.Get("x-error-message").empty()
                                             ? std::string(absl::StripAsciiWhitespace(
                                                   t->error_body.substr(0, 200)))
                                             : t->headers.Get("x-error-message"),
                                         r.url, !r.token.empty(), r.url_is_hub});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DownloadResult> DownloadFile(const DownloadRequest& r, ProgressDisplay* progress) {
  const std::string part = r.dest + ".part";
  const std::string info_path = r.dest + ".part.json";
  std::error_code ec;
  fs::create_directories(fs::path(r.dest).parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError("cannot create the folder of " + r.dest + ": " +
                                       ec.message());
  }

  Transfer t;
  t.part_path = part;
  t.info_path = info_path;
  t.info.validator = r.validator;
  t.offset = ResumableBytes(r, part, info_path, &t.info);
  t.info.validator = r.validator;
  Sha256 hasher;
  if (t.offset > 0 && !HashPrefix(part, t.offset, &hasher)) {
    RemovePart(part, info_path);
    t.offset = 0;
  }
  t.hasher = &hasher;
  t.bound = r.want_bytes ? *r.want_bytes : r.max_bytes;
  t.total = r.want_bytes;
  t.progress = progress;
  DownloadResult result;
  result.resumed_from = t.offset;

  // A partial file already whole (cut right at the end): nothing to ask.
  if (!(r.want_bytes && t.offset == *r.want_bytes && t.offset > 0)) {
    t.fd = open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (t.fd < 0) return ErrnoToStatus(errno, "opening " + part);
    if (lseek(t.fd, static_cast<off_t>(t.offset), SEEK_SET) < 0 ||
        ftruncate(t.fd, static_cast<off_t>(t.offset)) != 0) {
      close(t.fd);
      return ErrnoToStatus(errno, "preparing " + part);
    }
    absl::Status s = RunTransfer(r, &t);
    bool synced = fsync(t.fd) == 0;
    close(t.fd);
    if (progress != nullptr) progress->Finish();
    if (!s.ok()) {
      // Good bytes stay for the next run to resume; wrong or no bytes go.
      if (t.discard || t.offset + t.written == 0) RemovePart(part, info_path);
      // The server has no bytes past ours: the partial file is of another
      // size than it thinks. Start over once.
      if (t.status == 416 && t.offset > 0) {
        RemovePart(part, info_path);
        return DownloadFile(r, progress);
      }
      return s;
    }
    if (!synced) return ErrnoToStatus(errno, "syncing " + part);
    if (t.restarted) result.resumed_from = 0;
  }
  result.bytes = t.offset + t.written;
  result.sha256 = t.hasher->FinishHex();
  COHORT_RETURN_IF_ERROR(Finish(r, part, info_path, result.bytes, result.sha256));
  return result;
}

}  // namespace cohort::client::hub
