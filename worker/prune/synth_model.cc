#include "worker/prune/synth_model.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/prune/bf16.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/safetensors_writer.h"
#include "worker/prune/synth_model_layouts.h"
#include "worker/prune/synth_tokenizer.h"

namespace cohort::worker::prune {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t NameSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h ^ (seed * 0x9E3779B97F4A7C15ull);
}

// Roughly normal (Irwin-Hall of four 16-bit uniforms, unit variance).
float Gaussish(uint64_t r) {
  float sum = 0;
  for (int k = 0; k < 4; ++k) sum += static_cast<float>((r >> (16 * k)) & 0xFFFF);
  return (sum / 65536.0f - 2.0f) * 1.7320508f;
}

void Fill(const SynthTensor& t, uint64_t& state, char* out, size_t n) {
  switch (t.dtype) {
    case Dtype::kBF16:
      for (size_t i = 0; i + 2 <= n; i += 2) {
        uint16_t v = FloatToBf16(Gaussish(SplitMix(state)) * t.scale);
        std::memcpy(out + i, &v, 2);
      }
      return;
    case Dtype::kF32:
      for (size_t i = 0; i + 4 <= n; i += 4) {
        float v = Gaussish(SplitMix(state)) * t.scale;
        std::memcpy(out + i, &v, 4);
      }
      return;
    default:  // raw bytes (U8 MXFP4 blocks/scales, F8): avoid F8 NaN codes
      for (size_t i = 0; i < n; i += 8) {
        uint64_t r = SplitMix(state);
        for (size_t k = 0; k < 8 && i + k < n; ++k) {
          uint8_t byte = static_cast<uint8_t>(r >> (8 * k));
          if (t.dtype == Dtype::kF8E4M3 && (byte & 0x7F) == 0x7F) byte ^= 1;
          out[i + k] = static_cast<char>(byte);
        }
      }
  }
}

OutputTensor Generated(const SynthTensor& t, uint64_t seed) {
  OutputTensor out;
  out.name = t.name;
  out.dtype = t.dtype;
  out.shape = t.shape;
  uint64_t elements = 1;
  for (uint64_t d : t.shape) elements *= d;
  out.nbytes = *DtypeBytes(t.dtype, elements);
  const SynthTensor* spec = &t;
  uint64_t total = out.nbytes;
  out.write = [spec, seed, total](ShardSink& sink) {
    uint64_t state = NameSeed(seed, spec->name);
    std::vector<char> chunk(kChunkBytes);
    const uint64_t row_bytes = spec->shape.empty() ? 0 : total / spec->shape[0];
    const uint64_t zero_begin = spec->zero_rows_begin * row_bytes;
    const uint64_t zero_end = spec->zero_rows_end * row_bytes;
    for (uint64_t done = 0; done < total;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, total - done));
      Fill(*spec, state, chunk.data(), n);
      uint64_t from = std::max(done, zero_begin), to = std::min(done + n, zero_end);
      if (from < to) std::memset(chunk.data() + (from - done), 0, to - from);
      COHORT_RETURN_IF_ERROR(sink.Append(chunk.data(), n));
      done += n;
    }
    return absl::OkStatus();
  };
  return out;
}

std::vector<std::vector<size_t>> SplitShards(const std::vector<SynthTensor>& tensors,
                                             const std::vector<uint64_t>& bytes,
                                             const SynthOptions& o) {
  std::vector<std::vector<size_t>> shards;
  if (o.shards > 0) {
    size_t count = std::min<size_t>(static_cast<size_t>(o.shards), tensors.size());
    for (size_t k = 0; k < count; ++k) {
      size_t begin = tensors.size() * k / count;
      size_t end = tensors.size() * (k + 1) / count;
      shards.emplace_back();
      for (size_t i = begin; i < end; ++i) shards.back().push_back(i);
    }
    return shards;
  }
  uint64_t current = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (shards.empty() || (current + bytes[i] > o.max_shard_bytes &&
                           !shards.back().empty())) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(i);
    current += bytes[i];
  }
  return shards;
}

std::string DropMapJson(const SynthOptions& o, const std::vector<int>& layers) {
  uint64_t state = o.seed ^ 0xD0D0D0D0ull;
  int groups = o.layout == "deepseekv3" ? std::max(1, o.n_group) : 1;
  int group_size = o.experts / groups;
  OrderedJson map = OrderedJson::object();
  for (int layer : layers) {
    std::vector<int> dropped;
    for (int g = 0; g < groups; ++g) {
      std::vector<int> ids(static_cast<size_t>(group_size));
      std::iota(ids.begin(), ids.end(), g * group_size);
      for (size_t i = ids.size(); i > 1; --i) {
        std::swap(ids[i - 1], ids[SplitMix(state) % i]);
      }
      int take = groups > 1 ? o.drop_count / groups : o.drop_count;
      dropped.insert(dropped.end(), ids.begin(), ids.begin() + take);
    }
    map[std::to_string(layer)] = dropped;
  }
  return PyJsonDumps(map, 1);
}

// The token ids a model's config names, at the top level and in a nested
// text_config (Gemma 4, Llama 4), as the real families publish them.
void SetTokenIds(OrderedJson& config, const SynthTokenizer& tokenizer) {
  auto set = [&](OrderedJson& c) {
    if (tokenizer.bos_id >= 0) c["bos_token_id"] = tokenizer.bos_id;
    c["eos_token_id"] = tokenizer.eos_id;
    if (tokenizer.pad_id >= 0) c["pad_token_id"] = tokenizer.pad_id;
  };
  set(config);
  if (config.contains("text_config")) set(config["text_config"]);
}

// The output projection (lm_head, or the embedding where a family ties
// them) gets zero rows for the tokens a greedy model must never emit.
void SilenceOutputRows(SynthLayout& layout, const SynthTokenizer& tokenizer) {
  SynthTensor* output = nullptr;
  for (SynthTensor& t : layout.tensors) {
    if (absl::EndsWith(t.name, "lm_head.weight")) output = &t;
  }
  for (SynthTensor& t : layout.tensors) {
    if (output == nullptr && absl::EndsWith(t.name, "embed_tokens.weight")) output = &t;
  }
  if (output == nullptr) return;
  output->zero_rows_begin = static_cast<uint64_t>(tokenizer.silent_begin);
  output->zero_rows_end = static_cast<uint64_t>(tokenizer.silent_end);
}

absl::Status WriteSideFiles(const std::string& dir, OrderedJson config,
                            const SynthTokenizer& tokenizer) {
  SetTokenIds(config, tokenizer);
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json",
                                             PyJsonDumps(config, 2) + "\n"));
  COHORT_RETURN_IF_ERROR(
      WriteFileAtomically(dir + "/tokenizer.json", TokenizerJson(tokenizer)));
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/tokenizer_config.json",
                                             TokenizerConfigJson(tokenizer)));
  if (tokenizer.family == TokenizerFamily::kSentencePiece) {
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/tokenizer.model",
                                               SentencePieceModel(tokenizer)));
  } else {
    COHORT_RETURN_IF_ERROR(
        WriteFileAtomically(dir + "/vocab.json", VocabJson(tokenizer)));
    COHORT_RETURN_IF_ERROR(
        WriteFileAtomically(dir + "/merges.txt", MergesTxt(tokenizer)));
  }
  OrderedJson generation = OrderedJson::object();
  if (tokenizer.bos_id >= 0) generation["bos_token_id"] = tokenizer.bos_id;
  generation["eos_token_id"] = tokenizer.eos_id;
  generation["do_sample"] = false;
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      dir + "/generation_config.json", PyJsonDumps(generation, 2) + "\n"));
  return WriteFileAtomically(dir + "/chat_template.jinja", tokenizer.chat_template);
}

}  // namespace

absl::StatusOr<std::vector<SynthTensor>> SynthTensors(
    const SynthOptions& options, std::vector<int>* moe_layers) {
  COHORT_ASSIGN_OR_RETURN(SynthLayout layout, BuildSynthLayout(options));
  if (moe_layers != nullptr) *moe_layers = layout.moe_layers;
  return layout.tensors;
}

absl::StatusOr<SynthResult> SynthesizeModel(const SynthOptions& options) {
  COHORT_ASSIGN_OR_RETURN(SynthLayout layout, BuildSynthLayout(options));
  if (options.drop_count < 0 || options.drop_count >= options.experts ||
      (options.layout == "deepseekv3" && options.n_group > 1 &&
       options.drop_count % options.n_group != 0)) {
    return absl::InvalidArgumentError(
        "synth-model: --drop-count must be in [0, experts) (and a multiple of "
        "n_group for deepseekv3)");
  }
  COHORT_ASSIGN_OR_RETURN(SynthTokenizer tokenizer,
                          BuildSynthTokenizer(options.layout, options.vocab));
  SilenceOutputRows(layout, tokenizer);
  SynthResult result;
  result.moe_layers = layout.moe_layers;
  std::vector<uint64_t> bytes;
  for (const SynthTensor& t : layout.tensors) {
    bytes.push_back(Generated(t, options.seed).nbytes);
  }
  std::vector<std::vector<size_t>> shards =
      SplitShards(layout.tensors, bytes, options);
  AtomicDirectory out;
  COHORT_RETURN_IF_ERROR(out.Create(options.output_dir, options.overwrite));
  std::vector<std::pair<std::string, std::string>> weight_map;
  const int count = static_cast<int>(shards.size());
  for (int k = 0; k < count; ++k) {
    std::string name = ShardFileName(k + 1, count);
    std::vector<OutputTensor> tensors;
    for (size_t i : shards[k]) {
      tensors.push_back(Generated(layout.tensors[i], options.seed));
      weight_map.emplace_back(layout.tensors[i].name, name);
      result.total_size += bytes[i];
    }
    COHORT_RETURN_IF_ERROR(WriteSafetensorsFile(
        out.path() + "/" + name, ShardMetadata{{"format", "pt"}},
        std::move(tensors)));
  }
  std::sort(weight_map.begin(), weight_map.end());
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      out.path() + "/" + kIndexFileName,
      ModelIndexJson(result.total_size, weight_map) + "\n"));
  COHORT_RETURN_IF_ERROR(WriteSideFiles(out.path(), layout.config, tokenizer));
  COHORT_RETURN_IF_ERROR(out.Commit());
  if (options.drop_count > 0 && !options.drop_map_out.empty()) {
    COHORT_RETURN_IF_ERROR(WriteFileAtomically(
        options.drop_map_out, DropMapJson(options, layout.moe_layers)));
  }
  result.tensors = static_cast<int>(layout.tensors.size());
  result.shards = count;
  return result;
}

}  // namespace cohort::worker::prune
