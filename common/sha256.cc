#include "common/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/errno_status.h"

namespace cohort {

namespace {

// OpenSSL 3 looks the algorithm up again on every init given EVP_sha256();
// fetched once, an init is cheap (a 10^5-step plan hashes 10^5 small
// documents).
const EVP_MD* FetchedSha256() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

}  // namespace

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(state_->ctx, FetchedSha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(state_->ctx, data, size);
}

namespace {

std::string ToHex(const unsigned char* bytes, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[bytes[i] >> 4];
    hex[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return hex;
}

std::string FinishToHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  return ToHex(digest, length);
}

}  // namespace

std::string Sha256::FinishHex() { return FinishToHex(state_->ctx); }

std::string HmacSha256Hex(absl::string_view key, absl::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return ToHex(out, length);
}

std::string Sha256Hex(absl::string_view bytes) {
  // One context per thread, re-initialized per call: no allocation.
  struct Context {
    Context() : ctx(EVP_MD_CTX_new()) {}
    ~Context() { EVP_MD_CTX_free(ctx); }
    EVP_MD_CTX* ctx;
  };
  thread_local Context context;
  EVP_DigestInit_ex(context.ctx, FetchedSha256(), nullptr);
  EVP_DigestUpdate(context.ctx, bytes.data(), bytes.size());
  return FinishToHex(context.ctx);
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path));
  Sha256 hasher;
  std::vector<char> buffer(1 << 20);
  while (true) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoToStatus(errno, absl::StrCat("reading ", path));
      close(fd);
      return status;
    }
    if (n == 0) break;
    hasher.Update(buffer.data(), static_cast<size_t>(n));
  }
  close(fd);
  return hasher.FinishHex();
}

absl::StatusOr<std::vector<ManifestEntry>> BuildManifest(
    const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  std::vector<ManifestEntry> entries;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": ", ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return absl::UnavailableError(absl::StrCat(dir, ": ", ec.message()));
    const fs::directory_entry& entry = *it;
    if (entry.is_symlink(ec)) {
      return absl::FailedPreconditionError(absl::StrCat(
          entry.path().string(), ": symbolic links are not allowed in an artifact"));
    }
    if (entry.is_directory(ec)) continue;
    if (!entry.is_regular_file(ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat(entry.path().string(), ": not a regular file"));
    }
    ManifestEntry item;
    item.relative_path = fs::relative(entry.path(), dir, ec).generic_string();
    item.size = entry.file_size(ec);
    COHORT_ASSIGN_OR_RETURN(item.sha256, Sha256File(entry.path().string()));
    entries.push_back(std::move(item));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) {
              return a.relative_path < b.relative_path;
            });
  return entries;
}

std::string ManifestText(const std::vector<ManifestEntry>& entries) {
  std::string text;
  for (const ManifestEntry& e : entries) {
    absl::StrAppend(&text, e.relative_path, "\t", e.size, "\t", e.sha256, "\n");
  }
  return text;
}

absl::StatusOr<std::string> Sha256Folder(const std::string& dir) {
  COHORT_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, BuildManifest(dir));
  return Sha256Hex(ManifestText(entries));
}

}  // namespace cohort
