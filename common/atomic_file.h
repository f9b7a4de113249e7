// File: atomic_file.h
//
// Writes that never leave a half-written file under the final name: data goes
// to a temporary name in the same folder (".<name>.tmp-<pid>-<n>"), is
// fsync'ed, then renamed over the final name, and the folder is fsync'ed so
// the rename survives a power cut. If the writer dies (crash, kill -9, full
// disk), the final name either does not exist or still holds its old content.
//
//   AtomicFileWriter writer;
//   COHORT_RETURN_IF_ERROR(writer.Open(path));
//   COHORT_RETURN_IF_ERROR(writer.Append(bytes));
//   COHORT_RETURN_IF_ERROR(writer.Commit());   // without Commit: discarded
//
// The same holds for whole folders (a pruned checkpoint): AtomicDirectory
// fills ".<name>.partial-<pid>-<n>" and renames it into place on Commit.
#ifndef COHORT_COMMON_ATOMIC_FILE_H_
#define COHORT_COMMON_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort {

// Not thread-safe. Movable-free handle; owns the temporary file until Commit.
class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  // Removes the temporary file if Commit was not reached.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Creates the temporary file beside `final_path` (mode 0644).
  [[nodiscard]] absl::Status Open(const std::string& final_path);
  // A short write or ENOSPC returns kResourceExhausted naming the file.
  [[nodiscard]] absl::Status Append(absl::string_view bytes);
  [[nodiscard]] absl::Status Append(const void* data, size_t size);
  // Writes `size` bytes at `offset` (for headers filled in last).
  [[nodiscard]] absl::Status WriteAt(uint64_t offset, const void* data,
                                     size_t size);
  // fsync, rename over the final name, fsync the folder.
  [[nodiscard]] absl::Status Commit();
  // Drops the temporary file. Safe to call more than once.
  void Abandon();

  int fd() const { return fd_; }
  const std::string& temp_path() const { return temp_path_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  std::string final_path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t bytes_written_ = 0;
};

// Writes `bytes` to `path` atomically.
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path,
                                               absl::string_view bytes);

// Reads a whole (small) file. kNotFound names the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// A folder built under a temporary name and renamed into place on Commit.
// Refuses (kAlreadyExists) when the final folder exists, unless `replace`.
class AtomicDirectory {
 public:
  AtomicDirectory() = default;
  ~AtomicDirectory();  // removes the partial folder if not committed
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  [[nodiscard]] absl::Status Create(const std::string& final_dir,
                                    bool replace = false);
  // Where to write the folder's files until Commit.
  const std::string& path() const { return partial_dir_; }
  [[nodiscard]] absl::Status Commit();
  void Abandon();

 private:
  std::string final_dir_;
  std::string partial_dir_;
  bool replace_ = false;
};

// fsyncs a folder so a rename inside it is durable.
[[nodiscard]] absl::Status SyncDirectory(const std::string& dir);

}  // namespace cohort

#endif  // COHORT_COMMON_ATOMIC_FILE_H_
