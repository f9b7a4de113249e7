#include "worker/prune/upweight.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"
#include "worker/prune/bf16.h"
#include "worker/prune/safetensors_index.h"
#include "worker/prune/safetensors_reader.h"

namespace cohort::worker::prune {
namespace {

namespace fs = std::filesystem;

template <typename T, typename F>
ShardSink::Transform ElementWise(F f) {
  return [f](const char* in, char* out, size_t n) {
    for (size_t i = 0; i + sizeof(T) <= n; i += sizeof(T)) {
      T v;
      std::memcpy(&v, in + i, sizeof(T));
      v = f(v);
      std::memcpy(out + i, &v, sizeof(T));
    }
  };
}

// Shards holding a target, in the order of the sorted target names (the
// reference's dict order), each with its target tensor names.
using TargetShards = std::vector<std::pair<std::string, std::vector<std::string>>>;

absl::StatusOr<TargetShards> FindTargets(const ModelIndex& index,
                                         const std::string& target) {
  std::vector<std::pair<std::string, std::string>> targets;
  for (const auto& [name, shard] : index.weight_map) {
    if (absl::EndsWith(name, target)) targets.emplace_back(name, shard);
  }
  if (targets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no tensors found matching suffix '", target, "' in ", index.path));
  }
  std::sort(targets.begin(), targets.end());
  TargetShards shards;
  for (const auto& target_shard : targets) {
    // Not a structured binding: C++17 lambdas cannot capture those.
    const auto& name = target_shard.first;
    const auto& shard = target_shard.second;
    auto it = std::find_if(shards.begin(), shards.end(),
                           [&](const auto& s) { return s.first == shard; });
    if (it == shards.end()) {
      shards.emplace_back(shard, std::vector<std::string>{});
      it = shards.end() - 1;
    }
    it->second.push_back(name);
  }
  return shards;
}

// Byte copy of a validated shard, written atomically.
absl::Status CopyShard(const SafetensorsFile& file, const std::string& to) {
  AtomicFileWriter writer;
  COHORT_RETURN_IF_ERROR(writer.Open(to));
  ShardSink sink(writer.fd(), to);
  COHORT_RETURN_IF_ERROR(sink.CopyFrom(file, 0, file.file_size()));
  COHORT_RETURN_IF_ERROR(sink.Flush());
  return writer.Commit();
}

absl::Status RewriteShard(const SafetensorsFile& file,
                          const std::vector<std::string>& targets,
                          float alpha) {
  std::vector<OutputTensor> tensors;
  for (const TensorInfo& t : file.header().tensors) {
    bool is_target =
        std::find(targets.begin(), targets.end(), t.name) != targets.end();
    if (!is_target) {
      tensors.push_back(CopiedTensor(file, t, t.name));
      continue;
    }
    COHORT_ASSIGN_OR_RETURN(OutputTensor scaled, ScaledTensor(file, t, alpha));
    tensors.push_back(std::move(scaled));
  }
  for (const std::string& name : targets) {
    if (file.Find(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.path(), ": index maps tensor \"", name,
          "\" here but the shard does not contain it"));
    }
  }
  // `meta or None`: an empty __metadata__ is not written back.
  std::optional<ShardMetadata> metadata;
  if (!file.header().metadata.empty()) metadata = file.header().metadata;
  return WriteSafetensorsFile(file.path(), metadata, std::move(tensors));
}

}  // namespace

absl::Status CheckAlpha(double alpha) {
  if (!std::isfinite(alpha) || alpha <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--alpha must be a finite number > 0 (got ", alpha, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ShardSink::Transform> MakeScaleTransform(
    Dtype dtype, float alpha, const std::string& tensor) {
  switch (dtype) {
    case Dtype::kBF16:
      return ElementWise<uint16_t>(
          [alpha](uint16_t v) { return ScaleBf16(v, alpha); });
    case Dtype::kF16:
      return ElementWise<uint16_t>(
          [alpha](uint16_t v) { return ScaleHalf(v, alpha); });
    case Dtype::kF32:
      return ElementWise<float>([alpha](float v) { return v * alpha; });
    case Dtype::kF64:
      return ElementWise<double>([alpha](double v) {
        return static_cast<double>(static_cast<float>(v) * alpha);
      });
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("tensor \"", tensor, "\": cannot upweight dtype ",
                       DtypeName(dtype), " (BF16, F16, F32, F64 only)"));
  }
}

absl::StatusOr<OutputTensor> ScaledTensor(const SafetensorsFile& file,
                                          const TensorInfo& tensor,
                                          float alpha) {
  COHORT_ASSIGN_OR_RETURN(ShardSink::Transform transform,
                          MakeScaleTransform(tensor.dtype, alpha, tensor.name));
  OutputTensor out;
  out.name = tensor.name;
  out.dtype = tensor.dtype;
  out.shape = tensor.shape;
  out.nbytes = tensor.size();
  const SafetensorsFile* source = &file;
  uint64_t offset = file.FileOffset(tensor);
  uint64_t size = tensor.size();
  size_t granule = static_cast<size_t>(DtypeBits(tensor.dtype) / 8);
  out.write = [source, offset, size, granule, transform](ShardSink& sink) {
    return sink.AppendTransformed(*source, offset, size, granule, transform);
  };
  return out;
}

absl::Status WriteUpweightMarker(const std::string& dir, double alpha,
                                 const std::string& target) {
  return WriteFileAtomically(
      dir + "/" + kMarkerFile,
      absl::StrCat("shared_alpha=", PythonFloatRepr(alpha), " target=", target, "\n"));
}

absl::StatusOr<UpweightResult> UpweightModel(const UpweightOptions& options) {
  COHORT_RETURN_IF_ERROR(CheckAlpha(options.alpha));
  const std::string& dir = options.model_dir;
  COHORT_ASSIGN_OR_RETURN(ModelIndex index, ReadModelIndex(dir));
  COHORT_ASSIGN_OR_RETURN(TargetShards shards,
                          FindTargets(index, options.target));
  std::error_code ec;
  if (fs::exists(dir + "/" + kMarkerFile, ec) && !options.force) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " was already upweighted (", kMarkerFile,
        " exists); alpha would be applied twice. Pass --force to do so"));
  }
  // Open and validate every shard, and check dtypes, before touching any.
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  for (const auto& [shard, names] : shards) {
    COHORT_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(dir + "/" + shard));
    for (const std::string& name : names) {
      const TensorInfo* t = file->Find(name);
      if (t == nullptr) continue;  // reported by RewriteShard
      COHORT_RETURN_IF_ERROR(
          MakeScaleTransform(t->dtype, 1.0f, name).status());
    }
    files.push_back(std::move(file));
  }
  const float alpha = static_cast<float>(options.alpha);
  UpweightResult result;
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string backup = files[i]->path() + kBackupSuffix;
    if (!fs::exists(backup, ec)) {
      COHORT_RETURN_IF_ERROR(CopyShard(*files[i], backup));
      ++result.backups_created;
    }
    COHORT_RETURN_IF_ERROR(RewriteShard(*files[i], shards[i].second, alpha));
    result.tensors += static_cast<int>(shards[i].second.size());
    ++result.shards;
  }
  COHORT_RETURN_IF_ERROR(
      WriteUpweightMarker(dir, options.alpha, options.target));
  return result;
}

absl::StatusOr<int> RestoreUpweight(const std::string& model_dir,
                                    const std::string& target) {
  COHORT_ASSIGN_OR_RETURN(ModelIndex index, ReadModelIndex(model_dir));
  COHORT_ASSIGN_OR_RETURN(TargetShards shards, FindTargets(index, target));
  int restored = 0;
  std::error_code ec;
  for (const auto& [shard, names] : shards) {
    std::string backup = model_dir + "/" + shard + kBackupSuffix;
    if (!fs::exists(backup, ec)) {
      std::fprintf(stderr, "WARN: %s missing; skipping %s\n", backup.c_str(),
                   shard.c_str());
      continue;
    }
    // The backup is a byte copy, validated like any shard before use.
    COHORT_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(backup));
    COHORT_RETURN_IF_ERROR(CopyShard(*file, model_dir + "/" + shard));
    ++restored;
  }
  fs::remove(model_dir + "/" + kMarkerFile, ec);
  return restored;
}

}  // namespace cohort::worker::prune
