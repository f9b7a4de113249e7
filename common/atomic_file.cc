#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace cohort {
namespace {

namespace fs = std::filesystem;

std::string UniqueSibling(const std::string& final_path,
                          absl::string_view kind) {
  static std::atomic<uint64_t> counter{0};
  fs::path p(final_path);
  std::string name = absl::StrCat(".", p.filename().string(), ".", kind, "-",
                                  getpid(), "-", counter.fetch_add(1));
  return (p.parent_path() / name).string();
}

std::string ParentOf(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

absl::Status SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening folder ", dir));
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  if (rc != 0 && saved != EINVAL) {
    return ErrnoToStatus(saved, absl::StrCat("syncing folder ", dir));
  }
  return absl::OkStatus();
}

AtomicFileWriter::~AtomicFileWriter() { Abandon(); }

absl::Status AtomicFileWriter::Open(const std::string& final_path) {
  Abandon();
  final_path_ = final_path;
  temp_path_ = UniqueSibling(final_path, "tmp");
  fd_ = open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    absl::Status status =
        ErrnoToStatus(errno, absl::StrCat("creating ", temp_path_));
    temp_path_.clear();
    return status;
  }
  bytes_written_ = 0;
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Append(absl::string_view bytes) {
  return Append(bytes.data(), bytes.size());
}

absl::Status AtomicFileWriter::Append(const void* data, size_t size) {
  if (fd_ < 0) return absl::FailedPreconditionError("AtomicFileWriter not open");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, absl::StrCat("writing ", final_path_));
    if (n == 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("writing ", final_path_, ": short write"));
    }
    p += n;
    size -= static_cast<size_t>(n);
    bytes_written_ += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::WriteAt(uint64_t offset, const void* data,
                                       size_t size) {
  if (fd_ < 0) return absl::FailedPreconditionError("AtomicFileWriter not open");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = pwrite(fd_, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return ErrnoToStatus(n < 0 ? errno : ENOSPC,
                           absl::StrCat("writing ", final_path_));
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError("AtomicFileWriter not open");
  if (fsync(fd_) != 0) {
    absl::Status status = ErrnoToStatus(errno, absl::StrCat("syncing ", final_path_));
    Abandon();
    return status;
  }
  if (close(fd_) != 0) {
    fd_ = -1;
    absl::Status status = ErrnoToStatus(errno, absl::StrCat("closing ", final_path_));
    Abandon();
    return status;
  }
  fd_ = -1;
  if (rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    absl::Status status =
        ErrnoToStatus(errno, absl::StrCat("renaming into ", final_path_));
    Abandon();
    return status;
  }
  temp_path_.clear();
  return SyncDirectory(ParentOf(final_path_));
}

void AtomicFileWriter::Abandon() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes) {
  AtomicFileWriter writer;
  COHORT_RETURN_IF_ERROR(writer.Open(path));
  COHORT_RETURN_IF_ERROR(writer.Append(bytes));
  return writer.Commit();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path));
  std::string out;
  char buffer[1 << 16];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoToStatus(errno, absl::StrCat("reading ", path));
      close(fd);
      return status;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

AtomicDirectory::~AtomicDirectory() { Abandon(); }

absl::Status AtomicDirectory::Create(const std::string& final_dir,
                                     bool replace) {
  Abandon();
  std::error_code ec;
  std::string clean = fs::path(final_dir).lexically_normal().string();
  if (!clean.empty() && clean.back() == '/') clean.pop_back();
  if (fs::exists(clean, ec) && !replace) {
    return absl::AlreadyExistsError(
        absl::StrCat(clean, ": output folder already exists"));
  }
  fs::create_directories(ParentOf(clean), ec);
  final_dir_ = clean;
  replace_ = replace;
  partial_dir_ = UniqueSibling(clean, "partial");
  if (mkdir(partial_dir_.c_str(), 0755) != 0) {
    absl::Status status =
        ErrnoToStatus(errno, absl::StrCat("creating ", partial_dir_));
    partial_dir_.clear();
    return status;
  }
  return absl::OkStatus();
}

absl::Status AtomicDirectory::Commit() {
  if (partial_dir_.empty()) {
    return absl::FailedPreconditionError("AtomicDirectory not created");
  }
  COHORT_RETURN_IF_ERROR(SyncDirectory(partial_dir_));
  std::error_code ec;
  std::string old_dir;
  if (replace_ && fs::exists(final_dir_, ec)) {
    // Move the old folder aside first: rename(2) cannot replace a non-empty
    // folder, and the final name must never hold a mixture of the two.
    old_dir = UniqueSibling(final_dir_, "old");
    if (rename(final_dir_.c_str(), old_dir.c_str()) != 0) {
      return ErrnoToStatus(errno, absl::StrCat("moving aside ", final_dir_));
    }
  }
  if (rename(partial_dir_.c_str(), final_dir_.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("renaming into ", final_dir_));
  }
  partial_dir_.clear();
  if (!old_dir.empty()) fs::remove_all(old_dir, ec);
  return SyncDirectory(ParentOf(final_dir_));
}

void AtomicDirectory::Abandon() {
  if (partial_dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(partial_dir_, ec);
  partial_dir_.clear();
}

}  // namespace cohort
