// libFuzzer target: the sweep/cohort spec parser (client/spec, YAML or JSON).
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/spec/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // yaml-cpp recurses per nesting level; inputs beyond this are not specs.
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  cohort::client::ParseSpecText(text, "fuzz.yaml", "/nonexistent").IgnoreError();
  return 0;
}
