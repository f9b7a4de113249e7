#include "common/listen_address.h"

#include <arpa/inet.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace cohort {
namespace {

// The host part of "host:port", "[v6]:port", "host" or "[v6]".
absl::string_view HostOf(absl::string_view host_port) {
  if (absl::StartsWith(host_port, "[")) {
    size_t close = host_port.find(']');
    return close == absl::string_view::npos ? absl::string_view()
                                            : host_port.substr(1, close - 1);
  }
  if (host_port.find(':') != host_port.rfind(':')) return host_port;  // bare IPv6
  size_t colon = host_port.rfind(':');
  return colon == absl::string_view::npos ? host_port : host_port.substr(0, colon);
}

}  // namespace

bool IsLoopbackListen(absl::string_view host_port) {
  const std::string host = absl::AsciiStrToLower(HostOf(host_port));
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace cohort
