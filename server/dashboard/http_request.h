// File: http_request.h
//
// The dashboard's HTTP/1.1 request head parser: pure (bytes in, a request
// or a status out), strict, and small enough to read in one sitting,
// because it faces the network before any token is checked. What it takes:
// one request line (METHOD SP origin-form-target SP HTTP/1.0|1.1), header
// lines "Name: value" with no obsolete line folding, a Content-Length of at
// most `max_body` bytes, no Transfer-Encoding. Anything else is an error
// whose HTTP status is in the status's payload-free code:
//   kInvalidArgument  400 (malformed)      kOutOfRange      413 (body too large)
//   kResourceExhausted 431 (head too large) kUnimplemented   501 (chunked)
//
// Why our own and not CivetWeb (Debian's libcivetweb 1.15): that build
// loads OpenSSL 1.1 symbols at run time and cannot serve HTTPS against
// Debian 12's OpenSSL 3 (SSL_get_peer_certificate is a macro there), and
// the dashboard must serve HTTPS under the gRPC API's TLS rules.
#ifndef COHORT_SERVER_DASHBOARD_HTTP_REQUEST_H_
#define COHORT_SERVER_DASHBOARD_HTTP_REQUEST_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cohort::server::dashboard {

struct RequestHead {
  std::string method;
  std::string path;   // percent-decoded, no query; never holds "..", NUL or '\\'
  std::string query;  // raw, after '?'
  std::map<std::string, std::string> headers;  // names lower-cased; a repeat: last wins
  size_t content_length = 0;
};

// `head`: the bytes up to and including the blank line ("\r\n\r\n").
absl::StatusOr<RequestHead> ParseRequestHead(absl::string_view head, size_t max_body);

// The HTTP status for a ParseRequestHead error (400 for anything unlisted).
int HttpStatusForParseError(const absl::Status& status);

// application/x-www-form-urlencoded (the sign-in form, query strings): name
// -> value, '+' as space, %XX decoded; malformed escapes are kept as
// written; a repeated name: the first wins.
std::map<std::string, std::string> ParseForm(absl::string_view text);

}  // namespace cohort::server::dashboard

#endif  // COHORT_SERVER_DASHBOARD_HTTP_REQUEST_H_
