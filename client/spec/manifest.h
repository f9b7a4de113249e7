// File: manifest.h
//
// Cohort manifests (docs/cli.md, "Manifests and reproduction"): a finished
// campaign written back as a `kind: cohort` spec whose variants keep their
// whole recipe (the lineage: base model and contribution data by path and
// digest, every step's parameters) and pin the digests their artifacts had
// (drop_map, pruned, gguf, quantized). Submitting it again with rerun runs
// the chain afresh, and each new digest is compared with its pin.
#ifndef COHORT_CLIENT_SPEC_MANIFEST_H_
#define COHORT_CLIENT_SPEC_MANIFEST_H_

#include <map>
#include <string>
#include <vector>

#include "client/spec/expand.h"
#include "client/spec/spec.h"
#include "nlohmann/json.hpp"

namespace cohort::client {

// The artifacts a manifest pins, in chain order.
const std::vector<std::string>& PinnableArtifacts();

// The normalized spec as a cohort manifest: kind "cohort", and each
// variant's digests replaced by `pins` (variant name -> artifact -> digest).
nlohmann::json ManifestJson(const Spec& spec,
                            const std::map<std::string, PinnedDigests>& pins);

// YAML text of a JSON value that ParseSpecText reads back to the same value:
// strings double-quoted, numbers and booleans plain, arrays of scalars in
// flow style. `header` lines become comments on top.
std::string ToYaml(const nlohmann::json& value, const std::vector<std::string>& header);

// One pinned artifact compared with what a campaign produced.
struct PinCheck {
  std::string variant;
  std::string artifact;  // drop_map, pruned, gguf, quantized
  std::string pinned;    // empty: not pinned
  std::string produced;  // empty: not produced (yet)
  enum class Result { kMatch, kMismatch, kPending, kUnpinned } result = Result::kPending;
};

// Compares the pins of `pins_from`'s variants with `produced` (node id ->
// digest of the node's output) through `graph` (the campaign's expansion).
// Variants are matched by name; a pinned variant the graph lacks is an
// error (kInvalidArgument, naming it).
absl::StatusOr<std::vector<PinCheck>> CheckPins(
    const Spec& pins_from, const Graph& graph,
    const std::map<std::string, std::string>& produced);

std::string PinResultName(PinCheck::Result r);  // match, MISMATCH, pending, unpinned

}  // namespace cohort::client

#endif  // COHORT_CLIENT_SPEC_MANIFEST_H_
