// File: tensor_type_map.h
//
// Per-tensor quantization types, as llama-quantize takes them
// (`--tensor-type PATTERN=TYPE`, tools/quantize/quantize.cpp): the seed's
// "ContribDynamic" quants give the layers that carry the most contribution
// more bits. The pattern is lower-cased and searched (std::regex, ECMAScript)
// in each tensor's name; the first rule that matches a tensor llama-quantize
// would quantize sets its type (src/llama-quant.cpp llama_tensor_get_type),
// and a row that is not a whole block of that type falls back to another.
//
//   COHORT_ASSIGN_OR_RETURN(std::vector<TensorTypeRule> rules,
//                           ParseTensorTypeMap({"ffn_down_exps=q8_0", "attn_.*=q6_k"}));
//   argv: --tensor-type ffn_down_exps=q8_0 --tensor-type attn_.*=q6_k
//   COHORT_RETURN_IF_ERROR(VerifyTensorTypes(source, quantized, rules));
//
// Pure: no I/O.
#ifndef COHORT_WORKER_QUANT_TENSOR_TYPE_MAP_H_
#define COHORT_WORKER_QUANT_TENSOR_TYPE_MAP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/quant/ggml_types.h"
#include "worker/quant/gguf_reader.h"

namespace cohort::worker::quant {

struct TensorTypeRule {
  std::string pattern;             // lower-cased, as llama-quantize uses it
  const GgmlTypeInfo* type = nullptr;  // never null once parsed
  // The argument llama-quantize is given: "pattern=type".
  std::string ToArg() const;
};

// kInvalidArgument naming the entry: no '=', an empty pattern, a pattern
// that is not a regular expression, a type that is not a quantized ggml
// type (f16 and bf16 are not: an override only applies to a tensor being
// quantized), or more than 256 entries.
absl::StatusOr<std::vector<TensorTypeRule>> ParseTensorTypeMap(
    const std::vector<std::string>& entries);

// Checks that `quantized` (llama-quantize's output for `source`) has the
// types the rules asked for: each tensor a rule matches has that type, or
// kept its source type (llama-quantize leaves norms, routers and 1-D tensors
// as they are), or has the fallback a row length that is not a whole block
// forces. kFailedPrecondition naming the tensor, its type and the rule; also
// for a rule that matched no tensor (a typo would otherwise quantize as if
// there were no map).
absl::Status VerifyTensorTypes(const GgufContents& source, const GgufContents& quantized,
                               const std::vector<TensorTypeRule>& rules);

}  // namespace cohort::worker::quant

#endif  // COHORT_WORKER_QUANT_TENSOR_TYPE_MAP_H_
