#include "worker/prune/safetensors_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::prune {
namespace {

using Json = nlohmann::ordered_json;

absl::Status Bad(const std::string& file, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", what));
}

absl::Status BadTensor(const std::string& file, absl::string_view tensor,
                       absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(file, ": tensor \"", tensor, "\": ", what));
}

// Parses with a callback that spots duplicate top-level keys, which JSON
// libraries silently merge but which make a header ambiguous.
absl::StatusOr<Json> ParseHeaderJson(absl::string_view text,
                                     const std::string& file) {
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key) {
      std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  Json json = Json::parse(text.begin(), text.end(), callback,
                          /*allow_exceptions=*/false);
  if (json.is_discarded()) return Bad(file, "header is not valid JSON");
  if (!json.is_object()) return Bad(file, "header is not a JSON object");
  if (!duplicate.empty()) {
    return BadTensor(file, duplicate, "appears twice in the header");
  }
  return json;
}

absl::Status ParseMetadata(const Json& value, const std::string& file,
                           SafetensorsHeader& header) {
  if (!value.is_object()) return Bad(file, "__metadata__ is not an object");
  header.has_metadata = true;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return Bad(file, absl::StrCat("__metadata__ \"", key,
                                    "\" is not a string"));
    }
    header.metadata.emplace_back(key, item.get<std::string>());
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> NonNegative(const Json& value,
                                     const std::string& file,
                                     absl::string_view tensor,
                                     absl::string_view field) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  return BadTensor(file, tensor,
                   absl::StrCat(field, " holds a value that is not a "
                                       "non-negative integer"));
}

absl::StatusOr<TensorInfo> ParseEntry(const std::string& name,
                                      const Json& entry,
                                      const std::string& file) {
  if (!entry.is_object()) return BadTensor(file, name, "entry is not an object");
  TensorInfo info;
  info.name = name;
  auto dtype_it = entry.find("dtype");
  auto shape_it = entry.find("shape");
  auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return BadTensor(file, name, "missing or non-string dtype");
  }
  std::optional<Dtype> dtype = ParseDtype(dtype_it->get<std::string>());
  if (!dtype) {
    return BadTensor(file, name, absl::StrCat("unknown dtype \"",
                                              dtype_it->get<std::string>(),
                                              "\""));
  }
  info.dtype = *dtype;
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return BadTensor(file, name, "missing or non-array shape");
  }
  for (const Json& dim : *shape_it) {
    COHORT_ASSIGN_OR_RETURN(uint64_t d, NonNegative(dim, file, name, "shape"));
    info.shape.push_back(d);
  }
  if (offsets_it == entry.end() || !offsets_it->is_array() ||
      offsets_it->size() != 2) {
    return BadTensor(file, name, "data_offsets is not a [begin, end] pair");
  }
  COHORT_ASSIGN_OR_RETURN(info.begin, NonNegative((*offsets_it)[0], file, name,
                                                  "data_offsets"));
  COHORT_ASSIGN_OR_RETURN(info.end, NonNegative((*offsets_it)[1], file, name,
                                                "data_offsets"));
  return info;
}

absl::Status CheckSize(const TensorInfo& t, const std::string& file) {
  unsigned __int128 elements = 1;
  for (uint64_t d : t.shape) {
    elements *= d;
    if (elements > UINT64_MAX) return BadTensor(file, t.name, "shape overflows");
  }
  std::optional<uint64_t> bytes =
      DtypeBytes(t.dtype, static_cast<uint64_t>(elements));
  if (!bytes) {
    return BadTensor(file, t.name,
                     absl::StrCat(DtypeName(t.dtype), " x ",
                                  static_cast<uint64_t>(elements),
                                  " elements is not a whole number of bytes"));
  }
  if (*bytes != t.size()) {
    return BadTensor(
        file, t.name,
        absl::StrCat("data_offsets span ", t.size(), " bytes but shape x ",
                     DtypeName(t.dtype), " needs ", *bytes));
  }
  return absl::OkStatus();
}

// Offsets must tile [0, data_size) with no gap and no overlap, and each
// span must match its shape (checked in offset order, so the first lying
// entry is the one named).
absl::Status CheckTiling(const std::vector<TensorInfo>& tensors,
                         uint64_t data_size, const std::string& file) {
  uint64_t expected = 0;
  for (const TensorInfo& t : tensors) {
    if (t.end < t.begin) {
      return BadTensor(file, t.name, absl::StrCat("data_offsets [", t.begin,
                                                  ", ", t.end,
                                                  "] end before begin"));
    }
    if (t.begin != expected) {
      return BadTensor(
          file, t.name,
          absl::StrCat("data_offsets begin at ", t.begin, ", expected ",
                       expected, t.begin < expected ? " (overlap)" : " (gap)"));
    }
    COHORT_RETURN_IF_ERROR(CheckSize(t, file));
    expected = t.end;
  }
  if (expected != data_size) {
    return Bad(file, absl::StrCat("tensor data ends at ", expected,
                                  " but the file holds ", data_size,
                                  " data bytes (",
                                  expected > data_size ? "truncated file"
                                                       : "trailing bytes",
                                  ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(
    absl::string_view json_text, uint64_t data_size, const std::string& file) {
  COHORT_ASSIGN_OR_RETURN(Json json, ParseHeaderJson(json_text, file));
  SafetensorsHeader header;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") {
      COHORT_RETURN_IF_ERROR(ParseMetadata(entry, file, header));
      continue;
    }
    COHORT_ASSIGN_OR_RETURN(TensorInfo info, ParseEntry(name, entry, file));
    header.tensors.push_back(std::move(info));
  }
  std::stable_sort(header.tensors.begin(), header.tensors.end(),
                   [](const TensorInfo& a, const TensorInfo& b) {
                     return std::make_pair(a.begin, a.end) <
                            std::make_pair(b.begin, b.end);
                   });
  COHORT_RETURN_IF_ERROR(CheckTiling(header.tensors, data_size, file));
  return header;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd_ < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path));
  struct stat st;
  if (fstat(file->fd_, &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  file->file_size_ = static_cast<uint64_t>(st.st_size);
  if (file->file_size_ < 8) {
    return Bad(path, absl::StrCat("file of ", file->file_size_,
                                  " bytes is too small for a header"));
  }
  void* map = mmap(nullptr, file->file_size_, PROT_READ, MAP_SHARED,
                   file->fd_, 0);
  if (map == MAP_FAILED) return ErrnoToStatus(errno, absl::StrCat("mapping ", path));
  file->map_ = static_cast<const char*>(map);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(file->map_[i]);
  if (n > kMaxHeaderBytes) {
    return Bad(path, absl::StrCat("header length ", n, " exceeds the limit of ",
                                  kMaxHeaderBytes));
  }
  if (n > file->file_size_ - 8) {
    return Bad(path, absl::StrCat("header length ", n, " runs past the end of "
                                  "the file (", file->file_size_, " bytes)"));
  }
  file->data_start_ = 8 + n;
  COHORT_ASSIGN_OR_RETURN(
      file->header_,
      ParseSafetensorsHeader(absl::string_view(file->map_ + 8, n),
                             file->file_size_ - file->data_start_, path));
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) {
    file->by_name_.emplace_back(file->header_.tensors[i].name, i);
  }
  std::sort(file->by_name_.begin(), file->by_name_.end());
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) munmap(const_cast<char*>(map_), file_size_);
  if (fd_ >= 0) close(fd_);
}

const TensorInfo* SafetensorsFile::Find(absl::string_view name) const {
  auto it = std::lower_bound(
      by_name_.begin(), by_name_.end(), name,
      [](const std::pair<absl::string_view, size_t>& entry,
         absl::string_view key) { return entry.first < key; });
  if (it == by_name_.end() || it->first != name) return nullptr;
  return &header_.tensors[it->second];
}

absl::string_view SafetensorsFile::Data(const TensorInfo& tensor) const {
  return absl::string_view(map_ + data_start_ + tensor.begin, tensor.size());
}

void SafetensorsFile::Release(uint64_t offset, uint64_t size) const {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t begin = offset / page * page;
  uint64_t end = std::min(file_size_, offset + size);
  if (end <= begin) return;
  madvise(const_cast<char*>(map_) + begin, end - begin, MADV_DONTNEED);
}

}  // namespace cohort::worker::prune
