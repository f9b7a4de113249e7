#include "server/dashboard/http_request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace cohort::server::dashboard {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) || absl::StrContains("!#$%&'*+-.^_`|~", c);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// The decoded path, refused when it could name something outside what it
// says: dot segments, NUL, backslashes, an undecodable escape.
absl::StatusOr<std::string> DecodePath(absl::string_view raw) {
  if (raw.empty() || raw[0] != '/') {
    return absl::InvalidArgumentError("the target is not an absolute path");
  }
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size() || HexValue(raw[i + 1]) < 0 || HexValue(raw[i + 2]) < 0) {
        return absl::InvalidArgumentError("a malformed %-escape in the path");
      }
      c = static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
      i += 2;
    }
    if (c == '\0' || c == '\\') return absl::InvalidArgumentError("NUL or '\\' in the path");
    out += c;
  }
  for (absl::string_view segment : absl::StrSplit(out, '/')) {
    if (segment == "." || segment == "..") {
      return absl::InvalidArgumentError("a dot segment in the path");
    }
  }
  return out;
}

std::string FormDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> ParseForm(absl::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    out.emplace(FormDecode(kv.first), FormDecode(kv.second));
  }
  return out;
}

absl::StatusOr<RequestHead> ParseRequestHead(absl::string_view head, size_t max_body) {
  if (!absl::ConsumeSuffix(&head, "\r\n\r\n")) {
    return absl::InvalidArgumentError("the head does not end with an empty line");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  if (parts.size() != 3 || parts[0].empty() ||
      !std::all_of(parts[0].begin(), parts[0].end(), IsTokenChar) ||
      (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0")) {
    return absl::InvalidArgumentError("not an HTTP/1.x request line");
  }
  RequestHead out;
  out.method = std::string(parts[0]);
  absl::string_view target = parts[1];
  size_t q = target.find('?');
  if (q != absl::string_view::npos) {
    out.query = std::string(target.substr(q + 1));
    target = target.substr(0, q);
  }
  absl::StatusOr<std::string> path = DecodePath(target);
  if (!path.ok()) return path.status();
  out.path = *std::move(path);
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    size_t colon = line.find(':');
    if (colon == 0 || colon == absl::string_view::npos ||
        !std::all_of(line.begin(), line.begin() + colon, IsTokenChar)) {
      return absl::InvalidArgumentError("a malformed header line");
    }
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
        return absl::InvalidArgumentError("a control character in a header");
      }
    }
    out.headers[absl::AsciiStrToLower(line.substr(0, colon))] = std::string(value);
  }
  if (out.headers.count("transfer-encoding") > 0) {
    return absl::UnimplementedError("Transfer-Encoding is not accepted; send Content-Length");
  }
  auto length = out.headers.find("content-length");
  if (length != out.headers.end()) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(length->second, &n) ||
        !std::all_of(length->second.begin(), length->second.end(), absl::ascii_isdigit)) {
      return absl::InvalidArgumentError("Content-Length is not a number");
    }
    if (n > max_body) return absl::OutOfRangeError("the body is too large");
    out.content_length = static_cast<size_t>(n);
  }
  return out;
}

int HttpStatusForParseError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOutOfRange:
      return 413;
    case absl::StatusCode::kResourceExhausted:
      return 431;
    case absl::StatusCode::kUnimplemented:
      return 501;
    default:
      return 400;
  }
}

}  // namespace cohort::server::dashboard
