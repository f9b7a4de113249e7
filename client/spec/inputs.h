// File: inputs.h
//
// Local inputs of a spec (a base checkpoint folder, a contribution file,
// datasets, reference GGUFs) become artifacts: a file is named by the sha256
// of its bytes, a folder by Sha256Folder (common/sha256.h), as
// "sha256:<hex>". The CLI registers them with cohortd (shared_path location,
// the absolute path) before it submits the campaign.
#ifndef COHORT_CLIENT_SPEC_INPUTS_H_
#define COHORT_CLIENT_SPEC_INPUTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/spec/spec.h"

namespace cohort::client {

struct UserArtifact {
  std::string digest;
  std::string kind;  // checkpoint, contribution, dataset, gguf, drop_map
  std::string path;  // absolute
  bool is_folder = false;
  uint64_t size_bytes = 0;
};

// Hashes every input given by path (each distinct path once), checks pinned
// digests, and fills InputRef::digest. Errors name the spec position of the
// input. Returns the artifacts to register, one per distinct digest.
absl::StatusOr<std::vector<UserArtifact>> ResolveInputs(Spec& spec);

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_INPUTS_H_
