#include "common/endpoint_url.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cohort {

bool IsEndpointUrl(absl::string_view url) {
  const bool scheme = absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
  return scheme && url.size() <= 2048 && std::all_of(url.begin(), url.end(), [](char c) {
           return c > ' ' && c < 0x7f;  // char may be signed: bytes >= 0x80 are refused too
         });
}

std::string NormalizeEndpointUrl(absl::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

std::string EndpointTool(absl::string_view url) {
  return absl::StrCat(kEndpointToolPrefix, NormalizeEndpointUrl(url));
}

}  // namespace cohort
