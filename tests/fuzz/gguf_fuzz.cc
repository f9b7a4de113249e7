// libFuzzer target: the GGUF header reader (worker/quant) on arbitrary bytes.
// It must never crash, read out of bounds or overflow: every input either
// parses or gives a status.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "worker/quant/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto contents = cohort::worker::quant::ParseGguf(bytes, "fuzz.gguf");
  if (contents.ok()) {
    // Lookups on whatever parsed.
    contents->Find("general.architecture");
    contents->Find("general.alignment");
  }
  return 0;
}
