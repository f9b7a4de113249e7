// File: endpoint_url.h
//
// The OpenAI-compatible servers (vLLM) a campaign's `server` reference names
// and a worker's `run --endpoint` lists: one rule for a usable URL, and the
// tool name that ties the two together. A generate step on a server asks
// for EndpointTool(url); only a worker that listed that URL offers it.
//
//   if (!IsEndpointUrl(url)) ... refuse
//   step.tools = {EndpointTool(url)};   // "endpoint:http://gpu-box:8000"
//
// Pure; thread-compatible.
#ifndef COHORT_COMMON_ENDPOINT_URL_H_
#define COHORT_COMMON_ENDPOINT_URL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cohort {

inline constexpr absl::string_view kEndpointToolPrefix = "endpoint:";

// http:// or https://, printable ASCII without spaces, at most 2048 bytes.
bool IsEndpointUrl(absl::string_view url);

// `url` without trailing '/': "http://x:8000/" and "http://x:8000" are one
// server.
std::string NormalizeEndpointUrl(absl::string_view url);

// kEndpointToolPrefix + NormalizeEndpointUrl(url).
std::string EndpointTool(absl::string_view url);

}  // namespace cohort

#endif  // COHORT_COMMON_ENDPOINT_URL_H_
