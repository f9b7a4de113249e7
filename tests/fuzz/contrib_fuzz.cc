// libFuzzer target: the contribution JSON reader (Python-compatible JSON with
// NaN/Infinity, worker/prune/contrib_reader) and the grid extraction.
#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/prune/contrib_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto file = cohort::worker::prune::ParseContribText(std::move(text), "fuzz.json");
  if (file.ok()) {
    auto layers = file->MetadataInt("num_layers");
    auto experts = file->MetadataInt("num_experts");
    if (layers.ok() && experts.ok() && *layers > 0 && *experts > 0 && *layers <= 64 &&
        *experts <= 256) {
      cohort::worker::prune::ExtractGrid(*file, {"generic_math", "generic_code"}, *layers,
                                         *experts, true)
          .IgnoreError();
    }
  }
  return 0;
}
