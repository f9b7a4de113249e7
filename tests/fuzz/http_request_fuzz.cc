// libFuzzer target: the dashboard's request head and form parsers, which
// read what any peer sends before a token is checked. Nothing may crash,
// and an accepted path never holds a dot segment, NUL or backslash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"
#include "server/dashboard/http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  using cohort::server::dashboard::ParseRequestHead;
  absl::StatusOr<cohort::server::dashboard::RequestHead> head = ParseRequestHead(text, 4096);
  if (head.ok()) {
    for (absl::string_view segment : absl::StrSplit(head->path, '/')) {
      if (segment == "." || segment == "..") std::abort();
    }
    if (head->path.find('\0') != std::string::npos ||
        head->path.find('\\') != std::string::npos || head->content_length > 4096) {
      std::abort();
    }
    cohort::server::dashboard::ParseForm(head->query);
  }
  cohort::server::dashboard::ParseForm(text);
  return 0;
}
