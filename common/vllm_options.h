// File: vllm_options.h
//
// What a campaign may ask of a `vllm serve` a worker starts for it (a spec's
// reference `vllm: {...}`, a generate step's params.vllm). Each setting has a
// type and a range checked here, at submit and again on the worker, and
// reaches vLLM's command line as one `--name=value` token: nothing else of a
// campaign does, so a spec cannot turn on --trust-remote-code (a
// checkpoint's own Python) or any other flag its worker's operator did not
// choose.
//
//   {"parallel": 8,                      // --max-num-seqs, requests in flight
//    "reasoning_parser": "qwen3",        // the model family's thinking split
//    "max_model_len": 20480,             // context per request (default: the
//                                        //   protocol's need, as llama-server's slot)
//    "dtype": "bfloat16", "quantization": "modelopt_fp4",
//    "kv_cache_dtype": "fp8", "gpu_memory_utilization": 0.9,
//    "enforce_eager": true,
//    "tensor_parallel_size": 2}              // the step holds 2 cards
#ifndef COHORT_COMMON_VLLM_OPTIONS_H_
#define COHORT_COMMON_VLLM_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace cohort {

// kInvalidArgument naming the first key that is unknown, of the wrong type
// or out of range ("vllm.dtype: ..."); `parallel` is required.
absl::Status CheckVllmSettings(const nlohmann::json& vllm);
// One setting, as CheckVllmSettings checks each (for a spec's line).
absl::Status CheckVllmSetting(const std::string& key, const nlohmann::json& value);

// The engine flags among checked settings (dtype, quantization,
// kv_cache_dtype, gpu_memory_utilization, enforce_eager,
// tensor_parallel_size), each one token
// "--dtype=bfloat16", in a fixed order. parallel, max_model_len and
// reasoning_parser are the caller's (they size the run).
std::vector<std::string> VllmEngineFlags(const nlohmann::json& vllm);

// The keys CheckVllmSettings accepts, for error messages and the spec parser.
const std::vector<std::string>& VllmSettingKeys();

// The cards a step serving with these (checked) settings holds: its
// tensor_parallel_size, else 1.
int VllmGpus(const nlohmann::json& vllm);

}  // namespace cohort

#endif  // COHORT_COMMON_VLLM_OPTIONS_H_
