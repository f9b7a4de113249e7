// File: synth_model.h
//
// `cohort-worker synth-model`: deterministic random MoE checkpoints in any
// layout of layout.h, from a few KB up to the real expert count with reduced
// dimensions, for tests, the demo and benchmarks. The same options give the
// same bytes: each tensor's values come from a generator seeded by (seed,
// tensor name), so they do not depend on order or sharding.
//
// Output: shards model-0000k-of-0000N.safetensors with {"format":"pt"}
// metadata (HF style), an index with weight_map sorted by name, config.json,
// tokenizer_config.json, generation_config.json, chat_template.jinja; and,
// on request, a random drop map. Tensors are generated in chunks straight
// into the output file, so memory use does not grow with the size.
#ifndef COHORT_WORKER_PRUNE_SYNTH_MODEL_H_
#define COHORT_WORKER_PRUNE_SYNTH_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/prune/safetensors_dtype.h"

namespace cohort::worker::prune {

struct SynthOptions {
  std::string layout = "gemma4";
  std::string output_dir;
  int layers = 4;
  int experts = 16;
  int hidden = 64;
  int moe_intermediate = 32;
  int intermediate = 48;  // shared / dense MLP
  int vocab = 512;  // room for the 256 byte tokens (synth_tokenizer.h)
  int top_k = 4;
  int n_group = 1;             // deepseekv3 only
  int first_dense_layers = 1;  // deepseekv3 only
  uint64_t seed = 1234;
  int shards = 2;  // > 0: contiguous chunks of near-equal tensor count
  uint64_t max_shard_bytes = uint64_t{5} << 30;  // used when shards == 0
  bool overwrite = false;
  // When drop_count > 0, a random drop map with that many experts per MoE
  // layer (even per group for deepseekv3) is written to drop_map_out.
  std::string drop_map_out;
  int drop_count = 0;
};

struct SynthTensor {
  std::string name;
  Dtype dtype;
  std::vector<uint64_t> shape;
  float scale;  // value spread (ignored for raw byte dtypes)
  // Rows [zero_rows_begin, zero_rows_end) are all zero: the output rows of
  // tokens a greedy model must never emit (synth_tokenizer.h, silent).
  uint64_t zero_rows_begin = 0;
  uint64_t zero_rows_end = 0;
};

struct SynthResult {
  int tensors = 0;
  int shards = 0;
  uint64_t total_size = 0;
  std::vector<int> moe_layers;
};

// kInvalidArgument for an unknown layout or sizes that do not fit it (e.g.
// gpt-oss needs hidden and moe_intermediate multiples of 32, top_k <=
// experts); kAlreadyExists for an existing output unless overwrite.
absl::StatusOr<SynthResult> SynthesizeModel(const SynthOptions& options);

// The tensor list (generation order) and MoE layers, exposed for tests.
absl::StatusOr<std::vector<SynthTensor>> SynthTensors(
    const SynthOptions& options, std::vector<int>* moe_layers);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_SYNTH_MODEL_H_
