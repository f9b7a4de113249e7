#include "worker/prune/expert_drop.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "worker/prune/upweight.h"

namespace cohort::worker::prune {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCountKeys[] = {"num_experts", "num_local_experts",
                                      "n_routed_experts", "moe_num_experts"};

// Slices kept rows, coalescing consecutive ids into one copy each.
absl::Status WritePlanned(const PlannedTensor& t, float alpha,
                          ShardSink& sink) {
  const uint64_t base = t.file->FileOffset(*t.input);
  ShardSink::Transform transform;
  size_t granule = 1;
  if (t.upweight) {
    COHORT_ASSIGN_OR_RETURN(transform, MakeScaleTransform(t.input->dtype, alpha,
                                                          t.out_name));
    granule = static_cast<size_t>(DtypeBits(t.input->dtype) / 8);
  }
  auto emit = [&](uint64_t offset, uint64_t size) {
    if (t.upweight) {
      return sink.AppendTransformed(*t.file, offset, size, granule, transform);
    }
    return sink.CopyFrom(*t.file, offset, size);
  };
  if (t.keep_rows.empty()) return emit(base, t.input->size());
  for (size_t i = 0; i < t.keep_rows.size();) {
    size_t j = i + 1;
    while (j < t.keep_rows.size() && t.keep_rows[j] == t.keep_rows[j - 1] + 1) ++j;
    COHORT_RETURN_IF_ERROR(
        emit(base + static_cast<uint64_t>(t.keep_rows[i]) * t.row_bytes,
             static_cast<uint64_t>(j - i) * t.row_bytes));
    i = j;
  }
  return absl::OkStatus();
}

absl::Status WriteShards(const PrunePlan& plan, float alpha,
                         const std::string& out_dir,
                         std::vector<std::pair<std::string, std::string>>& map) {
  const int count = static_cast<int>(plan.shards.size());
  for (int k = 0; k < count; ++k) {
    std::string name = ShardFileName(k + 1, count);
    std::vector<OutputTensor> tensors;
    for (const PlannedTensor& t : plan.shards[k]) {
      OutputTensor out;
      out.name = t.out_name;
      out.dtype = t.input->dtype;
      out.shape = t.shape;
      out.nbytes = t.nbytes;
      const PlannedTensor* planned = &t;
      out.write = [planned, alpha](ShardSink& sink) {
        return WritePlanned(*planned, alpha, sink);
      };
      tensors.push_back(std::move(out));
      map.emplace_back(t.out_name, name);
    }
    COHORT_RETURN_IF_ERROR(WriteSafetensorsFile(out_dir + "/" + name,
                                                std::nullopt, std::move(tensors)));
  }
  return absl::OkStatus();
}

OrderedJson UpdatedConfig(const OrderedJson& config, int target) {
  OrderedJson updated = config;
  auto update = [target](OrderedJson& object) {
    if (!object.is_object()) return;
    for (const char* key : kCountKeys) {
      if (object.contains(key)) object[key] = target;
    }
  };
  update(updated);
  if (updated.contains("text_config")) update(updated["text_config"]);
  return updated;
}

// Whether a source entry is carried into the pruned checkpoint as it is.
// The shards and the index are rewritten, config.json and the metadata are
// written anew, and shard backups of an earlier upweight hold unpruned
// tensors. Everything else (tokenizer.model, vocab.json + merges.txt, chat
// templates, READMEs, licenses, subfolders) goes along: llama.cpp's converter
// needs the tokenizer files, whatever their names.
bool CarriedOver(const std::string& name) {
  return !absl::EndsWith(name, ".safetensors") && name != kIndexFileName &&
         name != "config.json" && name != "expert_drop_metadata.json" &&
         !absl::EndsWith(name, kBackupSuffix);
}

absl::Status CarryOverFiles(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::directory_iterator it(from, ec);
  if (ec) return ErrnoToStatus(ec.value(), absl::StrCat("listing ", from));
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!CarriedOver(name)) continue;
    // Symbolic links are followed (a Hugging Face cache snapshot is links
    // into its blob store): the pruned checkpoint stands on its own.
    fs::copy(entry.path(), fs::path(to) / name, fs::copy_options::recursive, ec);
    if (ec) return ErrnoToStatus(ec.value(), absl::StrCat("copying ", entry.path().string()));
  }
  return absl::OkStatus();
}

std::string MetadataJson(const PrunePlan& plan, const std::string& base_model,
                         const ExpertDropMap& drop_map,
                         const std::string& drop_map_path) {
  OrderedJson meta = OrderedJson::object();
  meta["base_model"] = base_model;
  meta["method"] = "expert_drop_by_contribution";
  meta["drop_map_file"] = drop_map_path;
  meta["original_experts"] = plan.original_experts;
  meta["target_experts"] = plan.target_experts;
  OrderedJson keep = OrderedJson::object();
  for (const auto& [layer, ids] : plan.keep) keep[std::to_string(layer)] = ids;
  OrderedJson drop = OrderedJson::object();
  for (const auto& [layer, ids] : drop_map.layers) {
    drop[std::to_string(layer)] = ids;
  }
  meta["per_layer_keep"] = std::move(keep);
  meta["per_layer_drop"] = std::move(drop);
  return PyJsonDumps(meta, 2);
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : resolved.string();
}

// The checkpoint's own name when its config.json records one
// (`_name_or_path`, as transformers writes it); else the layout's reference
// name (Gemma 4: the reference hard-codes google/gemma-4-26B-A4B-it); else
// the config's model_type. Never the source folder: on a worker that is a
// store path, and an artifact holds no paths. The reference names Gemma 4
// for any checkpoint.
std::string BaseModelName(const OrderedJson& config, const PrunePlan& plan) {
  for (const char* key : {"_name_or_path", "model_type"}) {
    auto it = config.find(key);
    if (it != config.end() && it->is_string() && !it->get<std::string>().empty()) {
      if (std::string(key) == "model_type" && !plan.layout->base_model.empty()) break;
      return it->get<std::string>();
    }
  }
  return plan.layout->base_model.empty() ? std::string("unknown") : plan.layout->base_model;
}

std::string OutputDir(const PruneOptions& options, const PrunePlan& plan) {
  if (!options.output_dir.empty()) return options.output_dir;
  fs::path source(AbsolutePath(options.source_dir));
  std::string stem = plan.layout->name == "gemma4"
                         ? std::string("gemma-4-A4B")
                         : source.filename().string();
  return (source.parent_path() /
          absl::StrCat(stem, "-", plan.target_experts, "e", options.suffix))
      .string();
}

}  // namespace

absl::StatusOr<PruneResult> PruneCheckpoint(const PruneOptions& options) {
  const std::string& src = options.source_dir;
  COHORT_ASSIGN_OR_RETURN(OrderedJson config,
                          ReadOrderedJson(src + "/config.json"));
  const LayoutSpec* layout = nullptr;
  if (options.layout.empty()) {
    COHORT_ASSIGN_OR_RETURN(layout, DetectLayout(config, src + "/config.json"));
  } else {
    COHORT_ASSIGN_OR_RETURN(layout, FindLayout(options.layout));
  }
  COHORT_ASSIGN_OR_RETURN(ExpertDropMap drop_map, ReadExpertDropMap(options.drop_map));
  COHORT_ASSIGN_OR_RETURN(ModelIndex index, ReadModelIndex(src));
  COHORT_ASSIGN_OR_RETURN(OpenShards shards, OpenIndexShards(src, index));
  PlanOptions plan_options;
  plan_options.layout = layout;
  plan_options.max_shard_bytes = options.max_shard_bytes;
  plan_options.even_group_drop = options.even_group_drop;
  float alpha = 1.0f;
  if (options.upweight) {
    COHORT_RETURN_IF_ERROR(CheckAlpha(options.upweight->alpha));
    alpha = static_cast<float>(options.upweight->alpha);
    plan_options.upweight_target = options.upweight->target;
  }
  COHORT_ASSIGN_OR_RETURN(
      PrunePlan plan,
      PlanExpertDrop(config, index, shards, drop_map, plan_options));
  if (options.upweight && plan.upweighted_tensors == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no tensors found matching suffix '",
                     options.upweight->target, "' in ", index.path));
  }
  AtomicDirectory out;
  const std::string output_dir = OutputDir(options, plan);
  COHORT_RETURN_IF_ERROR(out.Create(output_dir, options.overwrite));
  std::vector<std::pair<std::string, std::string>> weight_map;
  COHORT_RETURN_IF_ERROR(WriteShards(plan, alpha, out.path(), weight_map));
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      out.path() + "/" + kIndexFileName,
      ModelIndexJson(plan.total_size, weight_map)));
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      out.path() + "/config.json",
      PyJsonDumps(UpdatedConfig(config, plan.target_experts), 2)));
  COHORT_RETURN_IF_ERROR(CarryOverFiles(src, out.path()));
  COHORT_RETURN_IF_ERROR(WriteFileAtomically(
      out.path() + "/expert_drop_metadata.json",
      MetadataJson(plan, BaseModelName(config, plan), drop_map,
                   AbsolutePath(options.drop_map))));
  if (options.upweight) {
    COHORT_RETURN_IF_ERROR(WriteUpweightMarker(
        out.path(), options.upweight->alpha, options.upweight->target));
  }
  COHORT_RETURN_IF_ERROR(out.Commit());
  PruneResult result;
  result.layout = layout->name;
  result.output_dir = output_dir;
  result.original_experts = plan.original_experts;
  result.target_experts = plan.target_experts;
  result.shards = static_cast<int>(plan.shards.size());
  result.total_size = plan.total_size;
  result.sliced_tensors = plan.sliced_tensors;
  result.upweighted_tensors = plan.upweighted_tensors;
  return result;
}

}  // namespace cohort::worker::prune
