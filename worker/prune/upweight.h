// File: upweight.h
//
// Shared-expert upweight (docs/pruning.md §4, router_shared_upweight.py):
// every tensor whose index name ends with `target` becomes
// round-to-nearest-even(float32(x) * float32(alpha)) in its own dtype (BF16
// with the NaN -> 0xFFFF rule, F16, F32, F64 via fp32). Shards holding a
// target are rewritten whole in the reference layout, keeping their
// `__metadata__`; the index and every other file are untouched.
//
// Files, as the reference and its recipes write them:
//   <shard>.pre_shared_upweight  byte copy of the shard before its first
//                                edit; never overwritten once present
//   .shared_applied              marker "shared_alpha=<a> target=<t>";
//                                a second application is refused
//                                (kFailedPrecondition) unless forced. The
//                                reference adds " ts=<ISO time>"; cohort
//                                does not, so an artifact's digest is a
//                                function of its inputs (docs/pruning.md)
// Each file is replaced atomically (temporary + rename), so a crash leaves
// either the old or the new shard, never a mix.
#ifndef COHORT_WORKER_PRUNE_UPWEIGHT_H_
#define COHORT_WORKER_PRUNE_UPWEIGHT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/prune/safetensors_dtype.h"
#include "worker/prune/safetensors_writer.h"

namespace cohort::worker::prune {

inline constexpr char kBackupSuffix[] = ".pre_shared_upweight";
inline constexpr char kMarkerFile[] = ".shared_applied";

struct UpweightOptions {
  std::string model_dir;
  double alpha = 0;  // > 0; cast to fp32 before use
  std::string target = "mlp.down_proj.weight_scale_2";
  bool force = false;  // apply even if the marker exists
};

struct UpweightResult {
  int tensors = 0;
  int shards = 0;
  int backups_created = 0;
};

// kInvalidArgument: alpha not finite and > 0; no index tensor ends with
// target (names the index); a target of a non-float dtype. kNotFound: index
// or shard missing. kFailedPrecondition: marker present and !force.
absl::StatusOr<UpweightResult> UpweightModel(const UpweightOptions& options);

// Copies each targeted shard's backup back over it (a missing backup is
// skipped with a warning on stderr) and removes the marker. Returns the
// number of shards restored.
absl::StatusOr<int> RestoreUpweight(const std::string& model_dir,
                                    const std::string& target);

// The element transform for `dtype`, alpha already in fp32. kInvalidArgument
// naming `tensor` for a dtype that is not BF16/F16/F32/F64.
absl::StatusOr<ShardSink::Transform> MakeScaleTransform(
    Dtype dtype, float alpha, const std::string& tensor);

// An OutputTensor that writes `tensor` of `file` scaled by alpha.
absl::StatusOr<OutputTensor> ScaledTensor(const SafetensorsFile& file,
                                          const TensorInfo& tensor,
                                          float alpha);

// Writes the marker into `dir` (atomically).
absl::Status WriteUpweightMarker(const std::string& dir, double alpha,
                                 const std::string& target);

// kInvalidArgument unless alpha is finite and > 0.
absl::Status CheckAlpha(double alpha);

}  // namespace cohort::worker::prune

#endif  // COHORT_WORKER_PRUNE_UPWEIGHT_H_
