#include "worker/llama/result_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cohort::worker::llama {
namespace {

using Json = nlohmann::json;

Json TimingsToJson(const Timings& t) {
  return Json{{"cache_n", t.cache_n},         {"prompt_n", t.prompt_n},
              {"prompt_ms", t.prompt_ms},     {"predicted_n", t.predicted_n},
              {"predicted_ms", t.predicted_ms}};
}

void PutOptional(Json* json, const char* key, const std::optional<int64_t>& value) {
  (*json)[key] = value ? Json(*value) : Json(nullptr);
}

template <typename T>
bool Read(const Json& json, const char* key, T* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return false;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return false;
  } else {
    if (!it->is_number()) return false;
  }
  *out = it->get<T>();
  return true;
}

void ReadOptional(const Json& json, const char* key, std::optional<int64_t>* out) {
  int64_t value = 0;
  if (Read(json, key, &value)) *out = value;
}

}  // namespace

int64_t CountCodePoints(absl::string_view text) {
  int64_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;  // every byte but continuation bytes
  }
  return n;
}

std::string RecordToLine(const GenerationRecord& r) {
  Json json = {{"id", r.id},
               {"idx", r.index},
               {"prompt_digest", r.prompt_digest},
               {"completion", r.completion},
               {"reasoning_content", r.reasoning},
               {"finish_reason", r.finish_reason},
               {"completion_chars", r.completion_chars},
               {"reasoning_chars", r.reasoning_chars},
               {"latency_ms", r.latency_ms},
               {"attempts", r.attempts}};
  PutOptional(&json, "completion_tokens", r.completion_tokens);
  PutOptional(&json, "prompt_tokens", r.prompt_tokens);
  PutOptional(&json, "cached_tokens", r.cached_tokens);
  json["timings"] = r.timings ? TimingsToJson(*r.timings) : Json(nullptr);
  if (!r.error_code.empty()) {
    json["error_code"] = r.error_code;
    json["error"] = r.error;
    json["error_kind"] = r.error_kind;
    json["error_message"] = r.error_message;
  }
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

eval::Answer GenerationRecord::ForScoring() const {
  eval::Answer answer = *this;
  if (!error_code.empty() || !error_kind.empty()) {
    answer.error_kind = error_kind.empty() ? error_code : error_kind;
    answer.error_message = error_message.empty() ? error : error_message;
  }
  return answer;
}

absl::StatusOr<GenerationRecord> RecordFromLine(absl::string_view line) {
  Json json = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  GenerationRecord r;
  int64_t index = -1;
  if (!json.is_object() || !Read(json, "id", &r.id) || !Read(json, "idx", &index) ||
      !Read(json, "completion", &r.completion)) {
    return absl::DataLossError("not a generation record (needs id, idx, completion)");
  }
  r.index = static_cast<int>(index);
  Read(json, "prompt_digest", &r.prompt_digest);
  Read(json, "reasoning_content", &r.reasoning);
  Read(json, "finish_reason", &r.finish_reason);
  Read(json, "completion_chars", &r.completion_chars);
  Read(json, "reasoning_chars", &r.reasoning_chars);
  Read(json, "latency_ms", &r.latency_ms);
  Read(json, "attempts", &r.attempts);
  Read(json, "error_code", &r.error_code);
  Read(json, "error", &r.error);
  Read(json, "error_kind", &r.error_kind);
  Read(json, "error_message", &r.error_message);
  ReadOptional(json, "completion_tokens", &r.completion_tokens);
  ReadOptional(json, "prompt_tokens", &r.prompt_tokens);
  ReadOptional(json, "cached_tokens", &r.cached_tokens);
  if (auto it = json.find("timings"); it != json.end() && it->is_object()) {
    Timings t;
    Read(*it, "cache_n", &t.cache_n);
    Read(*it, "prompt_n", &t.prompt_n);
    Read(*it, "prompt_ms", &t.prompt_ms);
    Read(*it, "predicted_n", &t.predicted_n);
    Read(*it, "predicted_ms", &t.predicted_ms);
    r.timings = t;
  }
  return r;
}

absl::StatusOr<std::unique_ptr<ResultLog>> ResultLog::Open(const std::string& path,
                                                           Options options) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening ", path));
  std::unique_ptr<ResultLog> log(new ResultLog(path, options, fd));
  COHORT_RETURN_IF_ERROR(log->Load());
  return log;
}

absl::Status ResultLog::Load() {
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path_));
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    bool last = end == std::string::npos || end + 1 == text.size();
    absl::string_view line(text.data() + pos,
                           (end == std::string::npos ? text.size() : end) - pos);
    ++line_no;
    absl::StatusOr<GenerationRecord> record =
        end == std::string::npos ? absl::DataLossError("no newline") : RecordFromLine(line);
    if (!record.ok() && last) break;  // a torn tail: cut off below
    if (!record.ok()) {
      return absl::DataLossError(absl::StrCat(path_, " line ", line_no, ": ",
                                              record.status().message()));
    }
    if (!ids_.insert(record->id).second) {
      return absl::DataLossError(
          absl::StrCat(path_, " line ", line_no, ": problem '", record->id, "' twice"));
    }
    records_.push_back(*std::move(record));
    pos = end + 1;
  }
  torn_bytes_ = static_cast<int64_t>(text.size() - pos);
  if (torn_bytes_ > 0 && ftruncate(fd_, static_cast<off_t>(pos)) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("truncating the torn tail of ", path_));
  }
  if (lseek(fd_, 0, SEEK_END) < 0) return ErrnoToStatus(errno, absl::StrCat("seeking ", path_));
  return absl::OkStatus();
}

ResultLog::~ResultLog() {
  if (fd_ >= 0) {
    (void)Sync();
    close(fd_);
  }
}

absl::Status ResultLog::Append(const GenerationRecord& record) {
  if (Has(record.id)) {
    return absl::AlreadyExistsError(
        absl::StrCat(path_, ": problem '", record.id, "' is already on file"));
  }
  std::string line = RecordToLine(record);
  line.push_back('\n');
  // One write per line: a kill between lines never leaves half a record
  // behind an intact one, and O_APPEND-like ordering holds (single writer).
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, absl::StrCat("appending to ", path_));
    done += static_cast<size_t>(n);
  }
  ids_.insert(record.id);
  records_.push_back(record);
  ++unsynced_;
  if (unsynced_ >= options_.sync_every || absl::Now() - last_sync_ >= options_.sync_interval) {
    return Sync();
  }
  return absl::OkStatus();
}

absl::Status ResultLog::Sync() {
  if (unsynced_ == 0) return absl::OkStatus();
  if (fdatasync(fd_) != 0) return ErrnoToStatus(errno, absl::StrCat("syncing ", path_));
  unsynced_ = 0;
  last_sync_ = absl::Now();
  return absl::OkStatus();
}

}  // namespace cohort::worker::llama
