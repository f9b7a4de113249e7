#include "worker/eval/jsonl.h"

#include <zlib.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"

namespace cohort::worker::eval {
namespace {

bool LooksGzip(const std::string& path, const std::string& bytes) {
  // Compare bytes directly: absl::StartsWith on a 2-byte literal trips a
  // GCC 12 false positive (-Wmaybe-uninitialized).
  return absl::EndsWith(path, ".gz") ||
         (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
          static_cast<unsigned char>(bytes[1]) == 0x8b);
}

// Inflates every gzip member in `bytes` (concatenated members are legal).
absl::StatusOr<std::string> Gunzip(const std::string& bytes,
                                   const std::string& path) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError(absl::StrCat(path, ": inflateInit2 failed"));
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  char buffer[1 << 16];
  int rc = Z_OK;
  while (true) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (rc == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // next gzip member
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": corrupt or truncated gzip data"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  if (!LooksGzip(path, *bytes)) return bytes;
  return Gunzip(*bytes, path);
}

absl::StatusOr<std::vector<JsonLine>> ReadJsonLines(const std::string& path) {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadMaybeGzip(path));
  std::vector<JsonLine> rows;
  size_t start = 0;
  int line = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string piece = text.substr(start, end - start);
    start = end + 1;
    if (absl::StripAsciiWhitespace(piece).empty()) continue;
    nlohmann::json value = ParseJsonOrDiscarded(piece);
    if (value.is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": not valid JSON"));
    }
    if (!value.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": expected a JSON object"));
    }
    rows.push_back({line, std::move(value)});
  }
  return rows;
}

absl::StatusOr<std::string> GetString(const JsonLine& row, const std::string& key,
                                      const std::string& path) {
  auto it = row.value.find(key);
  if (it == row.value.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", row.line, ": missing field '", key, "'"));
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", row.line, ": field '", key, "' is not a string"));
  }
  return it->get<std::string>();
}

const nlohmann::json* FindKeyIgnoreCase(const nlohmann::json& object,
                                        const std::string& key) {
  if (!object.is_object()) return nullptr;
  auto exact = object.find(key);
  if (exact != object.end()) return &*exact;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (absl::EqualsIgnoreCase(it.key(), key)) return &it.value();
  }
  return nullptr;
}

std::string ScalarToString(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  return "";
}

}  // namespace cohort::worker::eval
