// File: gguf_test_util.h
//
// Fixtures shared by the worker_quant tests: a small MoE-shaped GGUF with
// every metadata value type (so the parsers see all of them) and a handful
// of tensors of different ggml types.
#ifndef COHORT_WORKER_QUANT_GGUF_TEST_UTIL_H_
#define COHORT_WORKER_QUANT_GGUF_TEST_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "worker/quant/ggml_types.h"
#include "worker/quant/gguf_reader.h"
#include "worker/quant/gguf_value.h"
#include "worker/quant/gguf_writer.h"

namespace cohort::worker::quant::testing {

// A tensor info as the reader fills it (offset and bytes left 0).
inline GgufTensorInfo TensorInfo(const std::string& name, std::vector<uint64_t> dims,
                                 uint32_t type) {
  GgufTensorInfo t;
  t.name = name;
  t.dims = std::move(dims);
  t.type = type;
  t.type_info = FindGgmlType(type);
  return t;
}

// A tiny "gemma4" model: 2 blocks, `experts` experts, file type Q6_K.
inline GgufWriter TinyMoeWriter(uint32_t experts = 4, uint32_t version = 3) {
  GgufWriter w(version);
  w.SetString("general.architecture", "gemma4");
  w.SetString("general.name", "tiny");
  w.Set("general.file_type", GgufValue::U32(18));
  w.Set("general.quantization_version", GgufValue::U32(2));
  w.Set("gemma4.block_count", GgufValue::U32(2));
  w.Set("gemma4.expert_count", GgufValue::U32(experts));
  w.Set("gemma4.expert_used_count", GgufValue::U32(2));
  w.Set("gemma4.rope.freq_base", GgufValue::F32(10000.0f));
  w.Set("gemma4.attention.layer_norm_rms_epsilon", GgufValue::F64(1e-6));
  w.Set("test.u8", GgufValue::U8(200));
  w.Set("test.i8", GgufValue::Integer(GgufType::kInt8, -5));
  w.Set("test.u16", GgufValue::Integer(GgufType::kUint16, 65535));
  w.Set("test.i16", GgufValue::Integer(GgufType::kInt16, -300));
  w.Set("test.i32", GgufValue::I32(-70000));
  w.Set("test.u64", GgufValue::U64(1ull << 40));
  w.Set("test.i64", GgufValue::I64(-(1ll << 40)));
  w.Set("test.bool", GgufValue::Bool(true));
  std::vector<std::string> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back("tok" + std::to_string(i));
  w.Set("tokenizer.ggml.tokens", GgufValue::StringArray(tokens));
  w.Set("tokenizer.ggml.scores", GgufValue::F32Array({0.5f, -1.0f, 2.0f}));
  w.Set("tokenizer.ggml.token_type", GgufValue::I32Array({1, 3, 6}));
  w.Set("test.nested", GgufValue::Arrays({GgufValue::StringArray({"a", "b"}),
                                          GgufValue::U32Array({1, 2, 3})}));
  (void)w.AddTensor("token_embd.weight", kGgmlQ6_K, {256, 40});
  (void)w.AddTensor("blk.0.attn_norm.weight", kGgmlF32, {256});
  (void)w.AddTensor("blk.0.ffn_gate_inp.weight", kGgmlF32, {256, experts});
  (void)w.AddTensor("blk.0.ffn_down_exps.weight", kGgmlQ6_K,
                    {256, 256, experts}, TensorFill::kPattern);
  (void)w.AddTensor("blk.1.ffn_gate_up_exps.weight", kGgmlQ8_0,
                    {256, 64, experts});
  (void)w.AddTensor("output_norm.weight", kGgmlF32, {256});
  return w;
}

inline std::string TinyMoeBytes(uint32_t experts = 4) {
  return *TinyMoeWriter(experts).Serialize();
}

}  // namespace cohort::worker::quant::testing

#endif  // COHORT_WORKER_QUANT_GGUF_TEST_UTIL_H_
