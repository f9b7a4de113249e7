// File: pyjson_reader.h
//
// A pull reader for JSON as Python's `json` module accepts it: standard JSON
// plus the bare tokens NaN, Infinity and -Infinity. Input is read in chunks,
// so a multi-gigabyte file is never held whole; SkipValue() passes over a
// value (e.g. a 704-float array) without converting anything.
//
//   COHORT_ASSIGN_OR_RETURN(auto reader, PyJsonReader::OpenFile(path));
//   COHORT_RETURN_IF_ERROR(reader->BeginObject());
//   bool first = true;
//   std::string key;
//   while (true) {
//     COHORT_ASSIGN_OR_RETURN(bool more, reader->NextMember(&first, &key));
//     if (!more) break;
//     if (key == "metadata") { COHORT_ASSIGN_OR_RETURN(meta, reader->ReadValue()); }
//     else { COHORT_RETURN_IF_ERROR(reader->SkipValue()); }
//   }
//   COHORT_RETURN_IF_ERROR(reader->ExpectEnd());
//
// Every error is kInvalidArgument and reads "<source>: byte <offset>: <what>"
// (kNotFound from OpenFile for a missing file, kInternal for a read error).
// Values that are only skipped are checked for balanced brackets and closed
// strings, not for the exact JSON grammar of their scalars.
//
// Not thread-safe.
#ifndef COHORT_WORKER_PRUNE_PYJSON_READER_H_
#define COHORT_WORKER_PRUNE_PYJSON_READER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/prune/pyjson_value.h"

namespace cohort::worker::prune {

// A JSON number as written: `text` is the token ("12", "-0.5e3", "NaN",
// "Infinity", "-Infinity"); `is_int` when it has neither fraction nor
// exponent (Python then makes an int).
struct PyJsonNumber {
  std::string text;
  bool is_int = false;
  // float(token) with correct rounding (overflow gives +-inf, as Python's
  // float() of a JSON float token does).
  double ToDouble() const;
};

class PyJsonReader {
 public:
  static absl::StatusOr<std::unique_ptr<PyJsonReader>> OpenFile(
      const std::string& path, const std::string& display_name);
  static std::unique_ptr<PyJsonReader> FromString(std::string text,
                                                  std::string display_name);
  ~PyJsonReader();
  PyJsonReader(const PyJsonReader&) = delete;
  PyJsonReader& operator=(const PyJsonReader&) = delete;

  // The next non-whitespace byte (not consumed), or -1 at end of input.
  absl::StatusOr<int> Peek();

  // Consumes '{' / '['.
  absl::Status BeginObject();
  absl::Status BeginArray();
  // Moves to the next member: returns true with *key set and the ':'
  // consumed, or false after consuming the closing '}'. *first must start
  // true for each object.
  absl::StatusOr<bool> NextMember(bool* first, std::string* key);
  // Returns true when another element follows, false after consuming ']'.
  absl::StatusOr<bool> NextElement(bool* first);

  absl::StatusOr<std::string> ReadString();  // decoded, UTF-8 (WTF-8)
  absl::StatusOr<PyJsonNumber> ReadNumber();
  absl::StatusOr<PyValue> ReadValue();
  absl::Status SkipValue();
  // Only whitespace may remain.
  absl::Status ExpectEnd();

  // kInvalidArgument "<source>: byte <offset>: <what>" at the current offset.
  absl::Status Error(absl::string_view what) const;

 private:
  PyJsonReader() = default;
  bool Ensure(size_t n);  // at least n bytes from pos_, false at EOF
  void Refill();
  int CharAt(size_t k);  // byte at pos_ + k, or -1 past the end
  bool MatchLiteral(absl::string_view literal);
  absl::Status SkipStringBody();  // after the opening quote
  absl::Status SkipContainer();
  absl::Status SkipScalar();
  absl::StatusOr<uint32_t> ReadHex4();
  absl::StatusOr<PyValue> ReadContainer(bool is_object);

  std::string name_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  size_t base_offset_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  std::string io_error_;
  std::vector<char> stack_;
};

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_PYJSON_READER_H_
