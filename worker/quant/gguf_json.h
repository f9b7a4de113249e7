// File: gguf_json.h
//
// A GGUF header as JSON, for `cohort-worker gguf-info` and step logs:
//
//   {"file": ..., "file_size": N, "version": 3, "alignment": 32,
//    "data_offset": N, "tensor_count": N, "metadata_kv_count": N,
//    "summary": {"architecture": "gemma4", "file_type": 18,
//                "file_type_name": "MOSTLY_Q6_K", "expert_count": 98, ...,
//                "tensor_bytes": N, "tensor_types": {"f32": 181, ...}},
//    "metadata": {"general.architecture": "gemma4", ...,
//                 "tokenizer.ggml.tokens": {"type": "array",
//                     "element_type": "string", "length": 262144,
//                     "head": ["<pad>", ...]}},
//    "tensors": [{"name": ..., "type": "q6_K", "dims": [...],
//                 "offset": N, "bytes": N}, ...]}
//
// Metadata keeps file order. Arrays up to `max_array_items` elements are
// plain JSON arrays; longer ones are abbreviated to their length and their
// first `max_array_items` elements. Non-finite floats become null (JSON has
// no NaN). Strings may hold any bytes; serialize with
// nlohmann's error_handler_t::replace, as GgufJsonText does.
#ifndef COHORT_WORKER_QUANT_GGUF_JSON_H_
#define COHORT_WORKER_QUANT_GGUF_JSON_H_

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_summary.h"

namespace cohort::worker::quant {

struct GgufJsonOptions {
  uint64_t max_array_items = 16;
  bool include_tensors = true;
};

nlohmann::ordered_json GgufToJson(const GgufContents& gguf,
                                  const GgufSummary& summary,
                                  const GgufJsonOptions& options = {});

// GgufToJson dumped with 2-space indent; invalid UTF-8 is replaced, never
// thrown.
std::string GgufJsonText(const GgufContents& gguf, const GgufSummary& summary,
                         const GgufJsonOptions& options = {});

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_GGUF_JSON_H_
